import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { JournalCipher } from '../../src/store/cipher.js';

/** The ciphers of a fixed master key and key id: their outputs are part of the on-disk format. */
const fixed = () => JournalCipher.fromMasterKey(Buffer.alloc(32, 0x11), Buffer.alloc(16, 0x22));
const sha = (s: string) => createHash('sha256').update(s).digest();

describe('journal cipher: keyed addresses and label keys', () => {
  it('stores an address where every version stored it (known answers), and turns it back', () => {
    const c = fixed();
    const stored = c.storedAddrs([sha('a'), sha('b')]).map((a) => a.toString('hex'));
    assert.deepEqual(stored, ['8bd4d0ec699d69f9294bc342b943e61427fce3b4d9c3078f3ceca789cfb09b35', 'c322f63bddc56666412e51a4edb0a7c18adb3254272e21d6f53619cc4e241924']);
    assert.deepEqual(c.plainAddrs(stored.map((h) => Buffer.from(h, 'hex'))), [sha('a'), sha('b')]);
  });

  it('a batch gives what one address at a time gives, packed or not, and turns back whole', () => {
    const c = JournalCipher.fromMasterKey(randomBytes(32), randomBytes(16));
    const addrs = Array.from({ length: 77 }, () => randomBytes(32));
    const batch = c.storedAddrs(addrs);
    assert.deepEqual(
      batch,
      addrs.map((a) => c.storedAddrs([a])[0]),
    );
    assert.ok(c.storedAddrsPacked(Buffer.concat(addrs)).equals(Buffer.concat(batch)));
    assert.deepEqual(c.plainAddrs(batch), addrs);
    assert.equal(new Set(batch.map((a) => a.toString('hex'))).size, addrs.length);
  });

  it('a label text stands in the index as a keyed hash: the same for the same key, another for another key', () => {
    assert.equal(fixed().indexKeyMac('6162'), '026182af29e3c19fbe334ed1809c19203db6c4eca330d438192780069d3dc7b1');
    assert.equal(fixed().indexKeyMac('6162'), fixed().indexKeyMac('6162'));
    assert.notEqual(fixed().indexKeyMac('6162'), fixed().indexKeyMac('6163'));
    assert.notEqual(JournalCipher.fromMasterKey(Buffer.alloc(32, 0x12), Buffer.alloc(16, 0x22)).indexKeyMac('6162'), fixed().indexKeyMac('6162'));
  });
});
