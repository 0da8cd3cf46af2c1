/**
 * The password of an encrypted journal, read here and passed down as an option:
 * `--password-file FILE` (its first line), else the `TTJ_PASSWORD` environment
 * variable. Never a command-line argument (other users see those in `ps`).
 */
import { readFile } from 'node:fs/promises';
import { Flags } from '@oclif/core';
import { toTtjError } from '../errors.js';

/** `--password-file` of every command that opens a journal. */
export const passwordFileFlag = Flags.string({ description: 'file whose first line is the password of an encrypted journal (else TTJ_PASSWORD)', helpValue: 'FILE' });

/**
 * The password `--password-file` names (its first line), else `TTJ_PASSWORD`, else undefined.
 * @throws TtjError FILE_NOT_FOUND, PERMISSION.
 */
export async function readPassword(file: string | undefined): Promise<string | undefined> {
  if (file === undefined) return process.env.TTJ_PASSWORD;
  try {
    return (await readFile(file, 'utf8')).split(/\r?\n/)[0]!;
  } catch (e) {
    throw toTtjError(e, { path: file, what: 'reading the password file' });
  }
}
