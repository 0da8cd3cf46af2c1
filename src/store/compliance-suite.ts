/**
 * The store compliance suite: the executable contract of {@link JournalStore}.
 * Every backend runs it with one line (it uses mocha's `describe`/`it` globals, so it is
 * published apart from the library, as `ttj/testing`), e.g.
 * `storeComplianceSuite('level', { open: (dir) => LocalStore.open(dir, { create: true }), reader: (dir) => LocalStore.open(dir) })`.
 */
import assert from 'node:assert/strict';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCodes, isTtjError } from '../errors.js';
import { sha256 } from '../util/hash.js';
import type { JournalStore } from './store.js';

/** Opens a fresh writable store in an empty directory; `reader` opens a read-only view of it. */
export interface StoreFactory {
  open(dir: string): Promise<JournalStore>;
  reader?(dir: string): Promise<JournalStore>;
}

const blob = (s: string) => {
  const data = Buffer.from(s.repeat(100));
  return { addr: sha256(data), data };
};

async function collect(it: AsyncIterable<{ seq: number; bytes: Buffer }>) {
  const out: { seq: number; bytes: Buffer }[] = [];
  for await (const e of it) out.push(e);
  return out;
}

/**
 * Defines the compliance suite (mocha `describe`/`it`) for a backend: `factory.open(dir)`
 * opens a fresh writable store at a new location derived from `dir`, `factory.reader`
 * (optional) a read-only view of it. Every backend runs it with one line.
 */
export function storeComplianceSuite(name: string, factory: StoreFactory): void {
  describe(`store compliance: ${name}`, function () {
    let dir: string;
    let store: JournalStore;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'ttj-store-'));
      store = await factory.open(join(dir, 'j'));
    });
    afterEach(async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('starts empty', async () => {
      assert.equal(await store.head(), undefined);
      assert.deepEqual(await collect(store.readEvents(0)), []);
    });

    it('appends a batch and reads it back in order', async () => {
      const events = [Buffer.from('a'), Buffer.from('bb'), Buffer.from('ccc')];
      const r = await store.append({ expectedHead: -1, events });
      assert.equal(r.head.seq, 2);
      assert.deepEqual(r.head.hash, sha256(events[2]!));
      const got = await collect(store.readEvents(0));
      assert.deepEqual(
        got.map((e) => e.seq),
        [0, 1, 2],
      );
      assert.deepEqual(
        got.map((e) => e.bytes.toString()),
        ['a', 'bb', 'ccc'],
      );
      assert.deepEqual(
        (await collect(store.readEvents(1, 2))).map((e) => e.bytes.toString()),
        ['bb'],
      );
    });

    it('reads in batches', async () => {
      const events = Array.from({ length: 1000 }, (_, i) => Buffer.from(`e${i}`));
      await store.append({ expectedHead: -1, events });
      let n = 0;
      for await (const b of store.readEventBatches(0, undefined, 64)) {
        assert.ok(b.length <= 64);
        for (const e of b) assert.equal(e.bytes.toString(), `e${n++}`);
      }
      assert.equal(n, 1000);
    });

    it('refuses an append against a stale head and leaves the store as it was', async () => {
      await store.append({ expectedHead: -1, events: [Buffer.from('a')] });
      await assert.rejects(store.append({ expectedHead: -1, events: [Buffer.from('x')], blobs: [blob('x')] }), (e) => isTtjError(e, ErrorCodes.WRONG_EXPECTED_HEAD));
      assert.equal((await store.head())!.seq, 0);
      assert.deepEqual(await store.hasBlobs([blob('x').addr]), [false]);
    });

    it('stores a blob it was asked about before it had it, once', async () => {
      const a = blob('asked');
      assert.deepEqual(await store.hasBlobs([a.addr]), [false]);
      // Asked again: still a plain false (a backend that remembers what it lacks too).
      assert.deepEqual(await store.hasBlobs([a.addr, a.addr]), [false, false]);
      await store.prefetchBlobs([a.addr]); // a hint of the coming append
      const r1 = await store.append({ expectedHead: -1, events: [Buffer.from('1')], blobs: [a] });
      assert.equal(r1.newBlobs, 1);
      assert.deepEqual(await store.hasBlobs([a.addr]), [true]);
      const r2 = await store.append({ expectedHead: 0, events: [Buffer.from('2')], blobs: [a] });
      assert.equal(r2.newBlobs, 0);
      assert.deepEqual(await store.getBlobs([a.addr]), [a.data]);
    });

    it('removes blobs, keeping those an event appended after the plan names; a batch relying on a removed one fails; compaction keeps the rest readable', async () => {
      const many = Array.from({ length: 20 }, () => {
        const data = randomBytes(4096);
        return { addr: sha256(data), data };
      });
      const [keepA, keepB, reused] = many;
      await store.append({ expectedHead: -1, events: [Buffer.from('all')], blobs: many });
      // In this test an event of 32 bytes names the blob of that address.
      const named = (e: { bytes: Buffer }) => (e.bytes.length === 32 ? [e.bytes] : []);
      // Appended after the plan (made at head 0): names a blob the plan removes, and gives it (found stored, not written again).
      await store.append({ expectedHead: 0, events: [reused!.addr], blobs: [reused!] });
      const gone = many.slice(2);
      const r = await store.removeBlobs(
        gone.map((b) => b.addr),
        { planHead: 0, named },
      );
      assert.deepEqual(r, { blobs: 17, rawBytes: 17 * 4096, spared: 1 });
      assert.deepEqual(await store.hasBlobs([keepA!.addr, reused!.addr, gone[1]!.addr]), [true, true, false]);
      assert.equal((await store.stats()).blobs, 3);
      await assert.rejects(store.append({ expectedHead: 1, events: [Buffer.from('relies')], relies: [gone[1]!.addr] }), (e) => isTtjError(e, ErrorCodes.CORRUPT_BLOB));
      assert.equal((await store.head())!.seq, 1);
      const again = await store.removeBlobs([gone[1]!.addr], { planHead: 1, named });
      assert.deepEqual(again, { blobs: 0, rawBytes: 0, spared: 0 });
      const c = await store.compact();
      assert.ok(c.removed >= 1 && c.bytesFreed > 0, JSON.stringify(c));
      assert.deepEqual(await store.getBlobs([keepA!.addr, keepB!.addr, reused!.addr]), [keepA!.data, keepB!.data, reused!.data]);
      const back = await store.append({ expectedHead: 1, events: [Buffer.from('back')], blobs: [gone[1]!] });
      assert.equal(back.newBlobs, 1);
      assert.deepEqual(await store.getBlobs([gone[1]!.addr]), [gone[1]!.data]);
      assert.equal((await store.compact()).rewritten, 0);
    });

    it('stores blobs once and returns them checked', async () => {
      const a = blob('a');
      const b = blob('b');
      const r1 = await store.append({ expectedHead: -1, events: [Buffer.from('1')], blobs: [a, b, a] });
      assert.equal(r1.newBlobs, 2);
      assert.equal(r1.newBytes, a.data.length + b.data.length);
      const r2 = await store.append({ expectedHead: 0, events: [Buffer.from('2')], blobs: [a] });
      assert.equal(r2.newBlobs, 0);
      assert.deepEqual(await store.hasBlobs([a.addr, b.addr, blob('c').addr]), [true, true, false]);
      const [ga, gb] = await store.getBlobs([a.addr, b.addr]);
      assert.deepEqual(ga, a.data);
      assert.deepEqual(gb, b.data);
      const seen: string[] = [];
      await store.readBlobs([b.addr, a.addr], (i, data) => seen.push(`${i}:${data.toString().slice(0, 1)}`));
      assert.deepEqual(seen.sort(), ['0:b', '1:a']);
      const listed: string[] = [];
      for await (const x of store.listBlobs()) listed.push(x.toString('hex'));
      assert.deepEqual(listed.sort(), [a.addr.toString('hex'), b.addr.toString('hex')].sort());
      const all: string[] = [];
      await store.readAllBlobs((addr, data) => all.push(`${addr.toString('hex')}:${data.toString()}`));
      assert.deepEqual(all.sort(), [a, b].map((x) => `${x.addr.toString('hex')}:${x.data.toString()}`).sort(), 'readAllBlobs: every blob once, with its bytes');
      const st = await store.stats();
      assert.equal(st.blobs, 2);
      assert.ok(st.storedBytes > 0 && st.storedBytes < st.rawBytes);
    });

    it('copies blobs into a buffer at given offsets, compressible or not, and names a missing one', async () => {
      const a = blob('a');
      const noise = randomBytes(64 * 1024); // incompressible: a store may keep it as it is
      const r = { addr: sha256(noise), data: noise };
      const more = randomBytes(64 * 1024);
      const m = { addr: sha256(more), data: more };
      await store.append({ expectedHead: -1, events: [Buffer.from('1')], blobs: [r, m, a] });
      const target = Buffer.alloc(10 + 2 * 65536 + a.data.length + 7, 0xee);
      // Adjacent in storage and in the target, then out of order.
      await store.readBlobsInto([r.addr, m.addr, a.addr], target, [10, 10 + 65536, 10 + 2 * 65536]);
      assert.ok(target.subarray(10, 10 + 65536).equals(noise));
      assert.ok(target.subarray(10 + 65536, 10 + 2 * 65536).equals(more));
      assert.ok(target.subarray(10 + 2 * 65536, 10 + 2 * 65536 + a.data.length).equals(a.data));
      assert.equal(target[9], 0xee);
      assert.equal(target[target.length - 1], 0xee);
      const back = Buffer.alloc(2 * 65536);
      await store.readBlobsInto([m.addr, r.addr], back, [0, 65536]);
      assert.ok(back.subarray(0, 65536).equals(more) && back.subarray(65536).equals(noise));
      await assert.rejects(store.readBlobsInto([r.addr, blob('zzz').addr], back, [0, 65536]), (e) => isTtjError(e, ErrorCodes.CORRUPT_BLOB));
    });

    it('writes blobs into a file at given positions, checked against their addresses and length (a fold), leaving the rest a hole', async () => {
      const pages = Array.from({ length: 40 }, (_, i) => (i % 3 ? randomBytes(4096) : Buffer.alloc(4096, `page ${i} `)));
      await store.append({ expectedHead: -1, events: [Buffer.from('1')], blobs: pages.map((data) => ({ addr: sha256(data), data })) });
      const dir = await mkdtemp(join(tmpdir(), 'ttj-compliance-'));
      const fh = await open(join(dir, 'out'), 'w+');
      try {
        // Every other page, in reverse, at its place in a file of 80 pages.
        const picked = pages
          .map((_, i) => i)
          .filter((i) => i % 2 === 0)
          .reverse();
        await store.readBlobsInto(
          picked.map((i) => sha256(pages[i]!)),
          { fd: fh.fd },
          picked.map((i) => 2 * i * 4096),
          { verify: true, size: 4096 },
        );
        await fh.truncate(80 * 4096);
        const got = await readFile(join(dir, 'out'));
        for (let i = 0; i < 40; i++) {
          assert.ok(got.subarray(2 * i * 4096, (2 * i + 1) * 4096).equals(i % 2 === 0 ? pages[i]! : Buffer.alloc(4096)), `page ${i}`);
          assert.ok(got.subarray((2 * i + 1) * 4096, (2 * i + 2) * 4096).equals(Buffer.alloc(4096)), `the hole after page ${i}`);
        }
        await assert.rejects(store.readBlobsInto([sha256(pages[1]!)], { fd: fh.fd }, [0], { verify: true, size: 8192 }), (e) => isTtjError(e, ErrorCodes.CORRUPT_BLOB), 'a blob of another length');
        await assert.rejects(store.readBlobsInto([blob('zzz').addr], { fd: fh.fd }, [0], { verify: true }), (e) => isTtjError(e, ErrorCodes.CORRUPT_BLOB), 'a blob it does not have');
      } finally {
        await fh.close();
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('fails with CORRUPT_BLOB for a blob it does not have', async () => {
      await assert.rejects(store.getBlobs([blob('zzz').addr]), (e) => isTtjError(e, ErrorCodes.CORRUPT_BLOB));
    });

    it('keeps index entries, written atomically with events', async () => {
      await store.append({
        expectedHead: -1,
        events: [Buffer.from('1')],
        index: [
          { key: 'ep/1', value: Buffer.from('one') },
          { key: 'ep/2', value: Buffer.from('two') },
        ],
      });
      assert.equal((await store.indexGet('ep/1'))!.toString(), 'one');
      assert.equal(await store.indexGet('ep/3'), undefined);
      const rev: string[] = [];
      for await (const [k] of store.indexRange({ gte: 'ep/', lt: 'ep0', reverse: true })) rev.push(k);
      assert.deepEqual(rev, ['ep/2', 'ep/1']);
      const upTo: string[] = [];
      for await (const [k] of store.indexRange({ gte: 'ep/', lte: 'ep/1' })) upTo.push(k);
      assert.deepEqual(upTo, ['ep/1']);
    });

    it('reads label entries (lb/<hex>/...) and the rest of the index in key order, whatever it stores them as', async () => {
      const lb = (text: string, epoch?: number) => `lb/${Buffer.from(text).toString('hex')}/${epoch === undefined ? '' : String(epoch).padStart(12, '0')}`;
      const keys = ['ep/000000000001', 'ep/000000000002', lb('a', 0), lb('a', 3), lb('b', 1), lb('zz', 2), lb('zz', 5), 'lb/x', 'pr/000000000001'];
      await store.append({ expectedHead: -1, events: [Buffer.from('1')], index: keys.map((key) => ({ key, value: Buffer.from(`${key}=`) })) });
      const sorted = [...keys].sort();
      const ranges: { gte?: string; lt?: string; lte?: string; reverse?: boolean; limit?: number }[] = [
        {},
        { reverse: true },
        { limit: 3 },
        { reverse: true, limit: 4 },
        { gte: 'lb/', lt: 'lb0' },
        { gte: 'lb/', lt: 'lb0', reverse: true, limit: 2 },
        { gte: lb('a'), lt: lb('a').slice(0, -1) + '0', reverse: true, limit: 1 },
        { gte: lb('a'), lte: lb('a', 0) },
        { gte: lb('zz', 3), lt: lb('zz').slice(0, -1) + '0' },
        { gte: lb('q'), lt: lb('q').slice(0, -1) + '0' },
        { gte: 'ep/000000000002', lt: lb('b', 1) },
        { gte: lb('b'), limit: 3 },
        { lte: lb('a', 3), reverse: true },
        { gte: 'lb/x', lte: 'pr/000000000001' },
      ];
      for (const r of ranges) {
        const got: string[] = [];
        for await (const [k, v] of store.indexRange(r)) {
          assert.equal(v.toString(), `${k}=`);
          got.push(k);
        }
        let want = sorted.filter((k) => (r.gte === undefined || k >= r.gte) && (r.lt === undefined || k < r.lt) && (r.lte === undefined || k <= r.lte));
        if (r.reverse) want.reverse();
        if (r.limit !== undefined) want = want.slice(0, r.limit);
        assert.deepEqual(got, want, JSON.stringify(r));
      }
      for (const k of keys) assert.equal((await store.indexGet(k))!.toString(), `${k}=`);
      assert.equal(await store.indexGet(lb('b', 2)), undefined);
    });

    it('passes what the blobs cost to an index function', async () => {
      const a = blob('q');
      let seen: { newBlobs: number; newBytes: number; storedBytes: number } | undefined;
      await store.append({
        expectedHead: -1,
        events: [Buffer.from('1')],
        blobs: [a],
        index: (w) => {
          seen = w;
          return [{ key: 'cost', value: Buffer.from(String(w.storedBytes)) }];
        },
      });
      assert.equal(seen!.newBlobs, 1);
      assert.equal((await store.indexGet('cost'))!.toString(), String(seen!.storedBytes));
    });

    it('tells blob sizes without reading them, undefined for one it lacks', async () => {
      const a = blob('s');
      const big = { addr: sha256(Buffer.alloc(5000, 1)), data: Buffer.alloc(5000, 1) };
      await store.append({ expectedHead: -1, events: [Buffer.from('1')], blobs: [a, big] });
      assert.deepEqual(await store.blobSizes([big.addr, blob('nope').addr, a.addr]), [5000, undefined, a.data.length]);
    });

    it('finds the last stored event by the events themselves', async () => {
      assert.equal(await store.lastStoredEvent(), undefined);
      await store.append({ expectedHead: -1, events: [Buffer.from('a'), Buffer.from('b')] });
      const last = (await store.lastStoredEvent())!;
      assert.equal(last.seq, 1);
      assert.deepEqual(last.hash, sha256(Buffer.from('b')));
    });

    it('rebuilds the index and head in one step, only onto the last stored event', async () => {
      await store.append({
        expectedHead: -1,
        events: [Buffer.from('a'), Buffer.from('b')],
        index: [
          { key: 'ep/1', value: Buffer.from('old') },
          { key: 'zz', value: Buffer.from('gone') },
        ],
      });
      await assert.rejects(store.rebuildIndex({ seq: 0, hash: sha256(Buffer.from('a')) }, []), (e) => isTtjError(e, ErrorCodes.CORRUPT_EVENT));
      assert.equal((await store.indexGet('zz'))!.toString(), 'gone', 'a refused rebuild changes nothing');
      await store.rebuildIndex({ seq: 1, hash: sha256(Buffer.from('b')) }, [{ key: 'ep/1', value: Buffer.from('new') }]);
      assert.equal((await store.indexGet('ep/1'))!.toString(), 'new');
      assert.equal(await store.indexGet('zz'), undefined);
      assert.equal((await store.head())!.seq, 1);
      assert.equal((await store.append({ expectedHead: 1, events: [Buffer.from('c')] })).head.seq, 2);
    });

    it('reports the head as appends move it, until aborted', async () => {
      await store.append({ expectedHead: -1, events: [Buffer.from('a')] });
      const stop = new AbortController();
      const heads: number[] = [];
      const watching = (async () => {
        for await (const h of store.watchHead(0, { signal: stop.signal })) {
          heads.push(h.seq);
          if (h.seq >= 2) stop.abort();
        }
      })();
      await store.append({ expectedHead: 0, events: [Buffer.from('b'), Buffer.from('c')] });
      await watching;
      assert.deepEqual(heads, [2]);
    });

    it('persists across reopen', async () => {
      const a = blob('p');
      await store.append({ expectedHead: -1, events: [Buffer.from('x'), Buffer.from('y')], blobs: [a] });
      await store.close();
      store = await factory.open(join(dir, 'j'));
      assert.equal((await store.head())!.seq, 1);
      assert.deepEqual((await store.getBlobs([a.addr]))[0], a.data);
      const r = await store.append({ expectedHead: 1, events: [Buffer.from('z')] });
      assert.equal(r.head.seq, 2);
    });

    if (factory.reader) {
      it('serves a reader while the writer holds the store, and the reader sees new appends', async () => {
        const a = blob('r');
        await store.append({ expectedHead: -1, events: [Buffer.from('x')], blobs: [a] });
        const reader = await factory.reader!(join(dir, 'j'));
        try {
          assert.equal(reader.writable, false);
          assert.equal((await reader.head())!.seq, 0);
          assert.deepEqual((await reader.getBlobs([a.addr]))[0], a.data);
          await store.append({ expectedHead: 0, events: [Buffer.from('y')] });
          assert.equal((await reader.head())!.seq, 1);
          assert.deepEqual(
            (await collect(reader.readEvents(0))).map((e) => e.bytes.toString()),
            ['x', 'y'],
          );
          await assert.rejects(reader.append({ expectedHead: 1, events: [Buffer.from('no')] }), (e) => isTtjError(e, ErrorCodes.READ_ONLY));
        } finally {
          await reader.close();
        }
      });
    }
  });
}
