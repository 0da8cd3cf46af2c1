import assert from 'node:assert/strict';
import type { BlockDevice } from '../../../src/capture/nbd/block-device.js';
import * as C from '../../../src/capture/nbd/constants.js';
import { transmissionFlags } from '../../../src/capture/nbd/handshake.js';

const device = (readOnly: boolean, canMultiConn?: boolean) => ({ size: 1 << 20, readOnly, canMultiConn }) as unknown as BlockDevice;

describe('transmissionFlags: what the handshake advertises for a device', function () {
  it('a writable device: flush, FUA, trim and write-zeroes; multi-conn only when the device allows it', () => {
    const base = C.NBD_FLAG_HAS_FLAGS | C.NBD_FLAG_SEND_FLUSH | C.NBD_FLAG_SEND_FUA | C.NBD_FLAG_SEND_TRIM | C.NBD_FLAG_SEND_WRITE_ZEROES;
    assert.equal(transmissionFlags(device(false)), base);
    assert.equal(transmissionFlags(device(false, true)), base | C.NBD_FLAG_CAN_MULTI_CONN);
  });

  it('a read-only device: READ_ONLY, and no trim or write-zeroes', () => {
    const f = transmissionFlags(device(true));
    assert.equal(f, C.NBD_FLAG_HAS_FLAGS | C.NBD_FLAG_SEND_FLUSH | C.NBD_FLAG_SEND_FUA | C.NBD_FLAG_READ_ONLY);
    assert.equal(f & (C.NBD_FLAG_SEND_TRIM | C.NBD_FLAG_SEND_WRITE_ZEROES), 0);
  });
});
