/**
 * Ed25519 keys that sign a journal's batches (docs/format.md, "Signatures"): made by
 * `ttj key generate`, read from PEM files by `--sign-with` (private) and `verify --trust` (public).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { ErrorCodes, TtjError, toTtjError } from '../errors.js';
import { sha256 } from '../util/hash.js';

/** A private key that signs, with its public key's fingerprint. */
export interface SigningKey {
  privateKey: KeyObject;
  /** SHA-256 of the public key's DER (SubjectPublicKeyInfo): what a signed event names as `signer`. */
  fingerprint: Buffer;
}

/** A public key trusted to have signed a journal, with its fingerprint. */
export interface TrustedKey {
  publicKey: KeyObject;
  fingerprint: Buffer;
}

/** What {@link generateKeyFiles} wrote. */
export interface GeneratedKey {
  /** The private key file (PEM, PKCS#8, mode 0600). */
  privateKey: string;
  /** The public key file (PEM, SPKI): `PATH.pub`. */
  publicKey: string;
  /** Hex SHA-256 of the public key's DER. */
  fingerprint: string;
}

/** The fingerprint of a public key: SHA-256 of its DER (SubjectPublicKeyInfo). */
function fingerprintOf(publicKey: KeyObject): Buffer {
  return sha256(publicKey.export({ type: 'spki', format: 'der' }));
}

/**
 * Makes a new Ed25519 key pair: the private key at `path` (0600), the public key at `path.pub`.
 * Neither file may exist.
 * @throws TtjError BAD_ARGUMENT (a file exists), or the file system's code.
 */
export async function generateKeyFiles(path: string): Promise<GeneratedKey> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const pub = `${path}.pub`;
  const write = async (file: string, data: string, mode: number) => {
    try {
      await writeFile(file, data, { mode, flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new TtjError(ErrorCodes.BAD_ARGUMENT, `${file} exists; a key is never overwritten`, { path: file, flag: 'out' });
      throw toTtjError(e, { path: file, what: 'writing a key' });
    }
  };
  await write(path, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 0o600);
  await write(pub, publicKey.export({ type: 'spki', format: 'pem' }) as string, 0o644);
  return { privateKey: path, publicKey: pub, fingerprint: fingerprintOf(publicKey).toString('hex') };
}

async function readKey<T>(path: string, flag: string, what: string, parse: (pem: Buffer) => T): Promise<T> {
  let pem: Buffer;
  try {
    pem = await readFile(path);
  } catch (e) {
    throw toTtjError(e, { path, what: `reading --${flag}` });
  }
  try {
    return parse(pem);
  } catch (e) {
    if (e instanceof TtjError) throw e;
    throw new TtjError(ErrorCodes.BAD_ARGUMENT, `--${flag} ${path} is not ${what} (PEM): ${(e as Error).message}`, { path, flag });
  }
}

const notEd25519 = (path: string, flag: string) => new TtjError(ErrorCodes.BAD_ARGUMENT, `--${flag} ${path} is not an Ed25519 key (ttj key generate makes one)`, { path, flag });

/**
 * Reads an Ed25519 private key (PEM) to sign with.
 * @throws TtjError FILE_NOT_FOUND, BAD_ARGUMENT (not an Ed25519 private key).
 */
export function loadSigningKey(path: string, flag = 'sign-with'): Promise<SigningKey> {
  return readKey(path, flag, 'a private key', (pem) => {
    const privateKey = createPrivateKey(pem);
    if (privateKey.asymmetricKeyType !== 'ed25519') throw notEd25519(path, flag);
    return { privateKey, fingerprint: fingerprintOf(createPublicKey(privateKey)) };
  });
}

/**
 * Reads an Ed25519 public key (PEM; a private key gives its public key) to check signatures with.
 * @throws TtjError FILE_NOT_FOUND, BAD_ARGUMENT (not an Ed25519 key).
 */
export function loadTrustedKey(path: string, flag = 'trust'): Promise<TrustedKey> {
  return readKey(path, flag, 'a public key', (pem) => {
    const publicKey = createPublicKey(pem);
    if (publicKey.asymmetricKeyType !== 'ed25519') throw notEd25519(path, flag);
    return { publicKey, fingerprint: fingerprintOf(publicKey) };
  });
}
