/**
 * An encrypted journal's key file (`ttj-key.json` in a journal directory, the
 * `ttj_key` row of a PostgreSQL journal; docs/format.md, "Key file"): the scrypt
 * parameters and salt that stretch the password into a key-encryption key, and the
 * random 256-bit master key wrapped by it (AES-256-GCM). Changing the password rewraps
 * the master key ({@link rewrapKeyFile}); the data is never rewritten.
 */
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import { ErrorCodes, TtjError } from '../errors.js';
import { JournalCipher } from './cipher.js';

/** The key file's JSON form. */
interface KeyFile {
  format: 'ttj-key';
  version: 1;
  cipher: 'aes-256-gcm';
  kdf: { name: 'scrypt'; N: number; r: number; p: number; salt: string };
  /** The journal's key id (16 random bytes, base64): the HKDF salt and part of every piece's associated data. */
  keyId: string;
  /** The master key sealed with the password's key: nonce | ciphertext | tag (base64). */
  wrapped: string;
}

/** scrypt's cost: 2^15 x 8 x 128 bytes = 32 MiB of memory, about 0.1 s. */
const KDF = { name: 'scrypt' as const, N: 1 << 15, r: 8, p: 1 };

/** The key-encryption key of `password` under the file's parameters. */
function stretch(password: string, kdf: KeyFile['kdf']): Buffer {
  return scryptSync(password.normalize('NFC'), Buffer.from(kdf.salt, 'base64'), 32, { N: kdf.N, r: kdf.r, p: kdf.p, maxmem: 256 * kdf.N * kdf.r + 1024 * 1024 });
}

/** Associated data of the wrapped master key: its key id. */
const wrapAd = (keyId: string) => Buffer.from(`ttj key ${keyId}`, 'utf8');

function wrap(master: Buffer, password: string, keyId: string): Pick<KeyFile, 'kdf' | 'wrapped'> {
  const kdf = { ...KDF, salt: randomBytes(16).toString('base64') };
  const nonce = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', stretch(password, kdf), nonce);
  c.setAAD(wrapAd(keyId));
  const ct = Buffer.concat([c.update(master), c.final()]);
  return { kdf, wrapped: Buffer.concat([nonce, ct, c.getAuthTag()]).toString('base64') };
}

/** @throws TtjError BAD_ARGUMENT for an empty password. */
function checkPassword(password: string): void {
  if (!password) throw new TtjError(ErrorCodes.BAD_ARGUMENT, 'the password is empty');
}

/** A new key file for `password` (a new random master key and key id), and its ciphers. */
export function createKeyFile(password: string): { file: Buffer; cipher: JournalCipher } {
  checkPassword(password);
  const master = randomBytes(32);
  const keyId = randomBytes(16);
  const id = keyId.toString('base64');
  const file: KeyFile = { format: 'ttj-key', version: 1, cipher: 'aes-256-gcm', ...wrap(master, password, id), keyId: id };
  return { file: encodeKeyFile(file), cipher: JournalCipher.fromMasterKey(master, keyId) };
}

function encodeKeyFile(f: KeyFile): Buffer {
  const { format, version, cipher, kdf, keyId, wrapped } = f;
  return Buffer.from(JSON.stringify({ format, version, cipher, kdf, keyId, wrapped }, null, 2) + '\n');
}

/**
 * The key file in `bytes`.
 * @throws TtjError CORRUPT_STORE when it is not a key file; UNSUPPORTED_VERSION for another version.
 */
function parseKeyFile(bytes: Buffer, where: { path?: string; location?: string }): KeyFile {
  let f: KeyFile;
  try {
    f = JSON.parse(bytes.toString('utf8'));
  } catch {
    f = {} as KeyFile;
  }
  if (f.format !== 'ttj-key') throw new TtjError(ErrorCodes.CORRUPT_STORE, `the journal's key file is damaged`, where);
  if (f.version !== 1)
    throw new TtjError(ErrorCodes.UNSUPPORTED_VERSION, `the journal's key file is of version ${JSON.stringify(f.version)}; this ttj reads version 1`, { ...where, expected: 1, actual: String(f.version) });
  const kdfOk = f.kdf?.name === 'scrypt' && [f.kdf.N, f.kdf.r, f.kdf.p].every((n) => Number.isInteger(n) && n > 0) && f.kdf.N <= 1 << 22 && f.kdf.r <= 64;
  if (f.cipher !== 'aes-256-gcm' || !kdfOk || typeof f.keyId !== 'string' || typeof f.wrapped !== 'string') {
    throw new TtjError(ErrorCodes.CORRUPT_STORE, `the journal's key file is damaged`, where);
  }
  return f;
}

/**
 * The master key of the key file `bytes`, unwrapped with `password`.
 * @throws TtjError BAD_PASSWORD when the password does not unwrap it.
 */
function unwrap(f: KeyFile, password: string, where: { path?: string; location?: string }): Buffer {
  const sealed = Buffer.from(f.wrapped, 'base64');
  try {
    const d = createDecipheriv('aes-256-gcm', stretch(password, f.kdf), sealed.subarray(0, 12));
    d.setAAD(wrapAd(f.keyId));
    d.setAuthTag(sealed.subarray(sealed.length - 16));
    return Buffer.concat([d.update(sealed.subarray(12, sealed.length - 16)), d.final()]);
  } catch (e) {
    throw new TtjError(ErrorCodes.BAD_PASSWORD, `the password does not open the journal's key`, where, { cause: e });
  }
}

/**
 * The ciphers of the journal whose key file is `bytes`, unlocked with `password`.
 * @throws TtjError BAD_PASSWORD; CORRUPT_STORE or UNSUPPORTED_VERSION for a key file this ttj cannot read.
 */
export function unlockKeyFile(bytes: Buffer, password: string, where: { path?: string; location?: string }): JournalCipher {
  const f = parseKeyFile(bytes, where);
  return JournalCipher.fromMasterKey(unwrap(f, password, where), Buffer.from(f.keyId, 'base64'));
}

/**
 * The key file `bytes` with its master key wrapped for `newPassword` instead (a new
 * salt): the same master key and key id, so the journal's data stays as it is.
 * @throws TtjError BAD_PASSWORD when `oldPassword` does not unwrap it; BAD_ARGUMENT for an empty new password.
 */
export function rewrapKeyFile(bytes: Buffer, oldPassword: string, newPassword: string, where: { path?: string; location?: string }): Buffer {
  checkPassword(newPassword);
  const f = parseKeyFile(bytes, where);
  const master = unwrap(f, oldPassword, where);
  return encodeKeyFile({ ...f, ...wrap(master, newPassword, f.keyId) });
}

/** The key id (hex) of the key file `bytes`: journals with the same key id share the master key. */
export function keyFileId(bytes: Buffer, where: { path?: string; location?: string }): string {
  return Buffer.from(parseKeyFile(bytes, where).keyId, 'base64').toString('hex');
}
