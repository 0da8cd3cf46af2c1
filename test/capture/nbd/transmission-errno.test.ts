import assert from 'node:assert/strict';
import * as C from '../../../src/capture/nbd/constants.js';
import { nbdErrnoFor } from '../../../src/capture/nbd/transmission.js';
import { ErrorCodes, TtjError } from '../../../src/errors.js';

const errno = (code: string) => Object.assign(new Error(code), { code });

describe('nbdErrnoFor: the NBD error a client gets for a failed request', function () {
  it('maps ttj errors by code: read-only and permission to EPERM, no space to ENOSPC, bad argument to EINVAL, anything else to EIO', () => {
    assert.equal(nbdErrnoFor(new TtjError(ErrorCodes.READ_ONLY, 'ro')), C.NBD_EPERM);
    assert.equal(nbdErrnoFor(new TtjError(ErrorCodes.PERMISSION, 'perm')), C.NBD_EPERM);
    assert.equal(nbdErrnoFor(new TtjError(ErrorCodes.NO_SPACE, 'full')), C.NBD_ENOSPC);
    assert.equal(nbdErrnoFor(new TtjError(ErrorCodes.BAD_ARGUMENT, 'bad')), C.NBD_EINVAL);
    assert.equal(nbdErrnoFor(new TtjError(ErrorCodes.CORRUPT_BLOB, 'damaged')), C.NBD_EIO);
  });

  it('maps Node errno codes: EROFS/EACCES/EPERM/EBADF to EPERM, ENOSPC/EDQUOT/EFBIG to ENOSPC, EINVAL, ENOMEM, and the rest (or none) to EIO', () => {
    for (const c of ['EPERM', 'EACCES', 'EROFS', 'EBADF']) assert.equal(nbdErrnoFor(errno(c)), C.NBD_EPERM, c);
    for (const c of ['ENOSPC', 'EDQUOT', 'EFBIG']) assert.equal(nbdErrnoFor(errno(c)), C.NBD_ENOSPC, c);
    assert.equal(nbdErrnoFor(errno('EINVAL')), C.NBD_EINVAL);
    assert.equal(nbdErrnoFor(errno('ENOMEM')), C.NBD_ENOMEM);
    assert.equal(nbdErrnoFor(errno('EIO')), C.NBD_EIO);
    assert.equal(nbdErrnoFor(new Error('no code')), C.NBD_EIO);
    assert.equal(nbdErrnoFor(null), C.NBD_EIO);
    assert.equal(nbdErrnoFor('a string'), C.NBD_EIO);
  });
});
