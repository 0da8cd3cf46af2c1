/**
 * Removing blobs and giving their space back in the PostgreSQL store (a prune:
 * src/journal/prune.ts). A removal is one transaction that first locks the journal's
 * row, as every append does, so it runs between appends: blobs named by events
 * appended after the prune's plan are kept. Compaction deletes the `ttj_block` rows no
 * blob is left in and runs `VACUUM` on the two tables, which makes their space reusable
 * by later appends (PostgreSQL gives a table's file space back to the system only
 * from its end, or with `VACUUM FULL`, which locks out writers and so is not run).
 * Blocks whose live blobs are less than half of their raw bytes are rewritten (the
 * live blobs copied into new blocks, their rows moved, the old block deleted), a step of
 * about 32 MiB of live bytes per transaction (appends wait for one).
 */
import type pg from 'pg';
import type { CompactResult, RemoveBlobsOptions, RemovedBlobs } from '../store.js';
import type { Queryable } from './pg-query.js';

/** Addresses deleted per statement. */
const DELETE_SLICE = 8192;

/**
 * Removes `addrs` (those still stored and not named by an event after `opts.planHead`)
 * in the open transaction `q`, which holds the journal's row lock.
 */
export async function removePgBlobs(q: Queryable, journal: number, addrs: Buffer[], opts: RemoveBlobsOptions): Promise<RemovedBlobs> {
  const spare = new Set<string>();
  const later = await q.query('SELECT seq, bytes FROM ttj_event WHERE journal = $1 AND seq > $2 ORDER BY seq', [journal, opts.planHead], 'reading the events after the plan');
  for (const r of later) for (const a of opts.named({ seq: Number(r.seq), bytes: r.bytes as Buffer })) spare.add(a.toString('hex'));
  const wanted = [...new Map(addrs.map((a) => [a.toString('hex'), a])).entries()];
  const gone = wanted.filter(([k]) => !spare.has(k)).map(([, a]) => a);
  let blobs = 0;
  let rawBytes = 0;
  for (let i = 0; i < gone.length; i += DELETE_SLICE) {
    const rows = await q.query('DELETE FROM ttj_blob WHERE journal = $1 AND addr = ANY($2::bytea[]) RETURNING item_len', [journal, gone.slice(i, i + DELETE_SLICE)], 'removing blobs');
    blobs += rows.length;
    rawBytes += rows.reduce((n, r) => n + Number(r.item_len), 0);
  }
  await q.query('UPDATE ttj_journal SET blobs = blobs - $2, raw_bytes = raw_bytes - $3 WHERE id = $1', [journal, blobs, rawBytes], 'counting the blobs');
  return { blobs, rawBytes, spared: wanted.length - gone.length };
}

/** Deletes the block rows no blob is in (in the open transaction `q`, which holds the journal's row lock). */
export async function deleteDeadBlocks(q: Queryable, journal: number): Promise<CompactResult> {
  const rows = await q.query(`DELETE FROM ttj_block b WHERE b.journal = $1 AND NOT EXISTS (SELECT 1 FROM ttj_blob l WHERE l.journal = $1 AND l.block = b.id) RETURNING length(b.data) AS n`, [journal], 'removing blocks');
  const bytesFreed = rows.reduce((n, r) => n + Number(r.n), 0);
  await q.query('UPDATE ttj_journal SET stored_bytes = stored_bytes - $2 WHERE id = $1', [journal, bytesFreed], 'counting the blocks');
  return { removed: rows.length, rewritten: 0, bytesCopied: 0, bytesFreed };
}

/** `VACUUM` of the blob tables (outside any transaction), so their dead rows' space is reused. */
export async function vacuumBlobTables(pool: pg.Pool): Promise<void> {
  await pool.query('VACUUM ttj_blob, ttj_block');
}

/** Live bytes moved per rewriting transaction. */
const STEP_BYTES = 32 * 1024 * 1024;
/** A block is rewritten when its live blobs take less than this fraction of its raw bytes. */
const REWRITE_BELOW = 0.5;

/** The blocks worth rewriting (live bytes below half their raw bytes), grouped into steps. */
export async function sparseBlockSteps(q: Queryable, journal: number): Promise<number[][]> {
  const rows = await q.query(
    `SELECT s.block, s.live, substring(b.data from 5 for 4) AS raw
       FROM (SELECT block, sum(item_len) AS live FROM ttj_blob WHERE journal = $1 GROUP BY block) s
       JOIN ttj_block b ON b.id = s.block AND b.journal = $1`,
    [journal],
    'finding sparse blocks',
  );
  const steps: number[][] = [];
  let step: number[] = [];
  let bytes = 0;
  for (const r of rows) {
    const live = Number(r.live);
    if (live >= (r.raw as Buffer).readUInt32LE(0) * REWRITE_BELOW) continue;
    step.push(Number(r.block));
    bytes += live;
    if (bytes >= STEP_BYTES) {
      steps.push(step);
      step = [];
      bytes = 0;
    }
  }
  if (step.length) steps.push(step);
  return steps;
}
