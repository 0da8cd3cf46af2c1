import { createServer, type Server, type Socket } from 'node:net';
import type { KvReader, KvRange } from './kv.js';
import { encodeFrame, frameReader, packValues } from './kv-wire.js';
import { ErrorCodes, TtjError, toTtjError } from '../errors.js';

/** Entries returned per range request. */
const RANGE_BATCH = 2048;

/**
 * Work a writer runs for another process (`run` requests): `ttj prune` asks the live
 * writer to prune, since only the writer may append and remove blobs. Set by the
 * writer once it is ready (see {@link JournalStore.serveRequests}).
 */
export interface WriterRequests {
  run?: (name: string, args: unknown) => Promise<unknown>;
}

/**
 * Serves read-only access to `kv` on an abstract unix socket, so that readers in
 * other processes (`ttj log`, `fold`, `verify`) work while this process holds the index.
 * A reader that holds the index gives it up when a writer asks (`handOver`): the
 * server answers, then calls `onHandOver`, which closes the index (and this server).
 * A writer also runs `requests` (`run`: a prune asked by `ttj prune`).
 */
export async function serveKv(kv: KvReader, socketName: string, who: { role: string; command?: string }, onHandOver?: () => void, requests?: WriterRequests): Promise<{ close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    // Requests of one connection are answered in order.
    let chain = Promise.resolve();
    frameReader(
      socket,
      (req) => {
        // A run request (minutes, maybe) does not hold up the reads of its connection.
        if (req.op === 'run') void run(socket, req, requests);
        else chain = chain.then(() => answer(kv, socket, req, who, onHandOver));
      },
      () => undefined,
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketName, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Runs a `run` request and answers with its JSON result (or its error). */
async function run(socket: Socket, req: Record<string, unknown>, requests: WriterRequests | undefined): Promise<void> {
  const id = req.id;
  try {
    if (!requests?.run) throw new TtjError(ErrorCodes.LOCKED, 'the process holding the journal does not run requests (a reader, or a writer of an older ttj)');
    const result = await requests.run(String(req.name), req.args);
    if (!socket.destroyed) socket.write(Buffer.concat(encodeFrame({ id, ok: true, lens: [], result })));
  } catch (e) {
    const err = toTtjError(e);
    if (!socket.destroyed) socket.write(Buffer.concat(encodeFrame({ id, ok: false, code: err.code, message: err.message, details: err.details })));
  }
}

async function answer(kv: KvReader, socket: Socket, req: Record<string, unknown>, who: { role: string; command?: string }, onHandOver?: () => void): Promise<void> {
  const id = req.id;
  try {
    let values: (Buffer | undefined)[] = [];
    let keys: string[] | undefined;
    switch (req.op) {
      case 'get':
        values = [await kv.get(String(req.key))];
        break;
      case 'getMany':
        values = await kv.getMany((req.keys as string[]).map(String));
        break;
      case 'range': {
        const r = req.range as KvRange;
        const limit = Math.min(r.limit && r.limit > 0 ? r.limit : RANGE_BATCH, RANGE_BATCH);
        keys = [];
        for await (const [k, v] of kv.range({ ...r, limit })) {
          keys.push(k);
          values.push(v);
        }
        break;
      }
      case 'handOver': {
        // Only a reader gives the index up (to the writer that asks); the writer keeps it.
        const handedOver = who.role === 'reader' && onHandOver !== undefined;
        if (!socket.destroyed) socket.write(Buffer.concat(encodeFrame({ id, ok: true, lens: [], handedOver })));
        if (handedOver) onHandOver();
        return;
      }
      case 'who': {
        const { lens, payload } = packValues([]);
        if (!socket.destroyed) socket.write(Buffer.concat(encodeFrame({ id, ok: true, lens, who: { pid: process.pid, ...who } }, payload)));
        return;
      }
      default:
        throw new TtjError(ErrorCodes.INTERNAL, `unknown index request ${String(req.op)}`);
    }
    const { lens, payload } = packValues(values);
    if (!socket.destroyed) socket.write(Buffer.concat(encodeFrame({ id, ok: true, lens, keys }, payload)));
  } catch (e) {
    // A LevelDB error becomes its TtjError here: the reader gets a stable code, never LevelDB's own.
    const err = toTtjError(e);
    if (!socket.destroyed) socket.write(Buffer.concat(encodeFrame({ id, ok: false, code: err.code, message: err.message })));
  }
}
