import { Flags } from '@oclif/core';
import { loadSigningKey, type SigningKey } from '../journal/signing-key.js';

/** `--sign-with KEY` of the commands that write a journal (`append`, `record`, `nbd`). */
export const signWithFlag = Flags.string({ description: 'sign every batch appended with this Ed25519 private key (PEM; ttj key generate makes one)' });

/**
 * The signing key a `--sign-with` flag names, read before anything is written.
 * @throws TtjError FILE_NOT_FOUND, BAD_ARGUMENT.
 */
export async function signingKeyFrom(path: string | undefined): Promise<SigningKey | undefined> {
  return path === undefined ? undefined : loadSigningKey(path);
}
