/**
 * Signed events (docs/format.md, "Signatures"): the last event of a batch appended
 * with a key carries `signature` (Ed25519) and `signer` (the key's fingerprint). The
 * signature covers the event's bytes without those two fields, which hold its seq, its
 * time and `prev_hash`, so it vouches for the whole chain up to it.
 */
import { sign, verify as verifySignature } from 'node:crypto';
import { ErrorCodes, TtjError } from '../errors.js';
import { sha256 } from '../util/hash.js';
import { buf, encodeEvent, type Event, type IEvent } from './codec.js';
import type { SigningKey, TrustedKey } from './signing-key.js';

const DOMAIN = Buffer.from('ttj-signature-v1\0');

/** What the signature of an event signs: the domain, then SHA-256 of the event's bytes without `signature` and `signer`. */
function signedMessage(ev: IEvent): Buffer {
  const { signature: _s, signer: _k, ...unsigned } = ev;
  return Buffer.concat([DOMAIN, sha256(encodeEvent(unsigned))]);
}

/** Encodes `ev` signed with `key` (any signature it carried is replaced). */
export function encodeSigned(ev: IEvent, key: SigningKey): Uint8Array {
  const { signature: _s, signer: _k, ...unsigned } = ev;
  const signature = sign(null, signedMessage(unsigned), key.privateKey);
  return encodeEvent({ ...unsigned, signature, signer: key.fingerprint });
}

/** True when the event carries a signature. */
export function isSigned(ev: Event): boolean {
  return buf(ev.signature).length > 0 || buf(ev.signer).length > 0;
}

const bad = (seq: number, msg: string, signer: string, trusted: TrustedKey) =>
  new TtjError(ErrorCodes.BAD_SIGNATURE, `event ${seq}: ${msg}`, { seq, signer: signer || undefined, trusted: trusted.fingerprint.toString('hex') });

function holds(ev: Event, trusted: TrustedKey): boolean {
  try {
    return verifySignature(null, signedMessage(ev), trusted.publicKey, buf(ev.signature));
  } catch {
    return false;
  }
}

/**
 * A signed event must be signed by `trusted`, its signature must hold, and its stored
 * bytes must be exactly what its fields encode to (nothing beside what was signed).
 * @throws TtjError BAD_SIGNATURE.
 */
export function checkSignature(ev: Event, bytes: Uint8Array, seq: number, trusted: TrustedKey): void {
  const signer = buf(ev.signer).toString('hex');
  if (signer !== trusted.fingerprint.toString('hex')) throw bad(seq, `signed by key ${signer || '(none)'}, not by the trusted key ${trusted.fingerprint.toString('hex')}`, signer, trusted);
  if (!Buffer.from(encodeEvent(ev)).equals(bytes)) throw bad(seq, 'its bytes are not the encoding of its fields', signer, trusted);
  if (!holds(ev, trusted)) throw bad(seq, 'its signature does not hold: the event or the chain before it was changed', signer, trusted);
}
