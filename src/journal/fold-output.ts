import { open, readdir, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCodes, TtjError } from '../errors.js';
import { makeDirs } from '../util/make-dirs.js';

/** Mode of the files a fold writes: guest memory holds secrets. */
const FOLD_FILE_MODE = 0o600;
/** Mode of the directories a fold creates. */
const FOLD_DIR_MODE = 0o700;

/** The files a fold may write at the top of its directory (disks go to `disks/NAME.raw`). */
const TOP_FILES = ['memory.raw', 'device.bin', 'frame.png', 'audio.wav', 'manifest.json'];
const MANIFEST = 'manifest.json';
const PARTIAL = '.partial';

/**
 * The output directory of one fold. Files are written as `NAME.partial` (mode 0600)
 * and renamed into place by {@link commit}, `manifest.json` last; directories it
 * creates are 0700. The directory then holds exactly this fold's outputs: the outputs
 * of an earlier fold into it that this fold does not write (a `frame.png`, a disk
 * that is gone) and leftover `.partial` files are removed; files that are not fold
 * outputs are left alone.
 */
export class FoldOutput {
  private readonly names: string[] = [];

  private constructor(readonly dir: string) {}

  /**
   * Creates the directory and its `disks/` (0700 where created).
   * @throws TtjError BAD_ARGUMENT (an empty path); file-system errors as they are.
   */
  static async create(dir: string): Promise<FoldOutput> {
    if (!dir) throw new TtjError(ErrorCodes.BAD_ARGUMENT, 'the output directory is empty (give --out DIR)');
    await makeDirs(join(dir, 'disks'), FOLD_DIR_MODE);
    return new FoldOutput(dir);
  }

  /** Creates `name` (relative, e.g. `disks/a.raw`) as a new partial file, mode 0600. */
  async open(name: string): Promise<FileHandle> {
    const path = join(this.dir, name + PARTIAL);
    await rm(path, { force: true });
    this.names.push(name);
    return open(path, 'wx', FOLD_FILE_MODE);
  }

  /** Writes `name` whole. */
  async writeFile(name: string, data: Buffer | string): Promise<void> {
    const fh = await this.open(name);
    try {
      await fh.writeFile(data);
    } finally {
      await fh.close();
    }
  }

  /**
   * Puts every file written into place, `manifest.json` last (a directory with a
   * manifest always holds the fold it names), and removes stale outputs.
   */
  async commit(): Promise<void> {
    await rm(join(this.dir, MANIFEST), { force: true });
    for (const name of this.names) if (name !== MANIFEST) await this.place(name);
    for (const name of await this.staleOutputs()) await rm(join(this.dir, name), { force: true });
    if (this.names.includes(MANIFEST)) await this.place(MANIFEST);
  }

  /** Removes the partial files written so far (after a failure). */
  async abort(): Promise<void> {
    for (const name of this.names) await rm(join(this.dir, name + PARTIAL), { force: true });
  }

  private async place(name: string): Promise<void> {
    await rename(join(this.dir, name + PARTIAL), join(this.dir, name));
  }

  /** Fold outputs (and partial files) in the directory that this fold did not write. */
  private async staleOutputs(): Promise<string[]> {
    // This fold's files are in place by now, but for its manifest's partial.
    const keep = new Set([...this.names, MANIFEST + PARTIAL]);
    const files = async (sub: string) => (await readdir(join(this.dir, sub), { withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(sub, e.name));
    const candidates = [...(await files('')), ...(await files('disks'))];
    return candidates.filter((n) => !keep.has(n) && isOutputName(n.endsWith(PARTIAL) ? n.slice(0, -PARTIAL.length) : n));
  }
}

/** True for the name of a file a fold writes. */
function isOutputName(name: string): boolean {
  return TOP_FILES.includes(name) || /^disks\/[A-Za-z0-9._-]{1,64}\.raw$/.test(name);
}
