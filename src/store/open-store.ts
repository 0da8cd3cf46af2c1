/**
 * The one way a journal's store is opened from a location: a directory path is the
 * embedded store (LevelDB + pack files); a URL (`scheme://...`) names a remote backend
 * by its scheme. Every command and library entry opens journals through here.
 */
import { ErrorCodes, TtjError } from '../errors.js';
import { LocalStore, type LocalStoreOptions } from './local-store.js';
import type { JournalStore } from './store.js';

/** Options of {@link openStore}: those of the embedded store (other backends take what applies to them). */
export type OpenStoreOptions = LocalStoreOptions;

/** True when `location` is a URL (`scheme://...`) rather than a path. */
export function isUrlLocation(location: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(location);
}

/**
 * Opens the store at `location` for reading, or (with `write`/`create`) for writing.
 * @throws TtjError BAD_ARGUMENT for a URL of a scheme no backend serves; what the backend throws (NOT_A_JOURNAL, LOCKED, ...).
 */
export async function openStore(location: string, opts: OpenStoreOptions = {}): Promise<JournalStore> {
  if (isUrlLocation(location)) {
    const scheme = location.slice(0, location.indexOf(':'));
    throw new TtjError(ErrorCodes.BAD_ARGUMENT, `no journal store backend for ${scheme}:// locations (a journal is a directory)`, { location });
  }
  return LocalStore.open(location, opts);
}
