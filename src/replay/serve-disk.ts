import { ErrorCodes, TtjError } from '../errors.js';
import { foldState } from '../journal/fold.js';
import { forkJournal } from '../journal/fork.js';
import { Journal } from '../journal/journal.js';
import { JournalWriter } from '../journal/writer.js';
import type { SigningKey } from '../journal/signing-key.js';
import { JournalBlockDevice } from '../capture/journal-block-device.js';
import { startNbdServer, type NbdServer } from '../capture/nbd/index.js';

/** Options of {@link serveDisk}. */
export interface ServeDiskOptions {
  /** The password of an encrypted journal (the CLI reads it from TTJ_PASSWORD or --password-file). */
  password?: string;
  /** The disk (export name). */
  disk: string;
  /** Serve the disk as it was at this POINT (default: the live head). */
  at?: string;
  /** Refuse writes. Required with `at` unless `fork` is given. */
  readOnly?: boolean;
  /** With `at`: a new journal that continues from the point and takes the writes. */
  fork?: string;
  /** Sign every write journaled (the fork's, with `fork`) with this key. */
  signWith?: SigningKey;
  /** Unix socket path; else TCP `port` on `host` (127.0.0.1). */
  socketPath?: string;
  port?: number;
  host?: string;
}

/** A disk served over NBD. */
export interface ServedDisk {
  server: NbdServer;
  device: JournalBlockDevice;
  /** The journal written to (the fork's, with `fork`), if writable. */
  writer?: JournalWriter;
  /** `nbd+unix:///NAME?socket=PATH` or `nbd://HOST:PORT/NAME`. */
  url: string;
  close(): Promise<void>;
}

/**
 * Serves one disk of a journal over NBD: live and writable (every write journaled
 * before it is acknowledged), or read-only as it was at a POINT (instant recovery),
 * or writable at a point through a fork journal.
 * @throws TtjError BAD_ARGUMENT (no such disk, or a past point that is neither read-only nor forked), LOCKED.
 */
export async function serveDisk(journalDir: string, opts: ServeDiskOptions): Promise<ServedDisk> {
  let journal: Journal;
  let writer: JournalWriter | undefined;
  let device: JournalBlockDevice;
  if (opts.fork && !opts.at) throw new TtjError(ErrorCodes.BAD_ARGUMENT, '--fork needs --at POINT');
  if ((opts.at || opts.readOnly) && !opts.fork) {
    if (!opts.readOnly) throw new TtjError(ErrorCodes.BAD_ARGUMENT, 'serving a past point needs --read-only, or --fork NEW_JOURNAL for a writable branch');
    journal = await Journal.open(journalDir, { password: opts.password });
    try {
      const at = opts.at ?? 'head';
      const { state } = await foldState(journal, at);
      const d = state.disks.get(opts.disk);
      if (!d) throw new TtjError(ErrorCodes.BAD_ARGUMENT, `the journal has no disk ${JSON.stringify(opts.disk)} at ${at}`, { disk: opts.disk });
      device = JournalBlockDevice.snapshot(journal, opts.disk, d);
    } catch (e) {
      await journal.close();
      throw e;
    }
  } else if (opts.at && opts.fork) {
    // A writable branch: the fork journal takes the writes, the parent is never changed.
    const parent = await Journal.open(journalDir, { password: opts.password });
    try {
      writer = (await forkJournal(parent, opts.at, opts.fork, 'ttj nbd', opts.signWith, opts.password)).writer;
    } finally {
      await parent.close();
    }
    journal = writer;
    device = JournalBlockDevice.live(writer, opts.disk);
  } else {
    writer = await JournalWriter.openWriter(journalDir, { create: false, command: 'ttj nbd', signWith: opts.signWith, password: opts.password });
    journal = writer;
    try {
      device = JournalBlockDevice.live(writer, opts.disk);
    } catch (e) {
      await writer.close();
      throw e;
    }
  }
  let server: NbdServer;
  try {
    server = await startNbdServer({
      exports: new Map([[opts.disk, device]]),
      defaultExport: opts.disk,
      socketPath: opts.socketPath,
      port: opts.socketPath ? undefined : (opts.port ?? 0),
      host: opts.host,
    });
  } catch (e) {
    await journal.close();
    throw e;
  }
  const url = server.socketPath ? `nbd+unix:///${opts.disk}?socket=${server.socketPath}` : `nbd://${server.host}:${server.port}/${opts.disk}`;
  return {
    server,
    device,
    writer,
    url,
    async close() {
      await server.close();
      await device.flush().catch(() => undefined);
      await journal.close();
    },
  };
}
