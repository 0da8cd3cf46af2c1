/**
 * The chain-of-custody checks of `ttj verify`: with a trusted key, every event must be
 * covered by a signature of that key (docs/format.md, "Signatures"); with a head hash
 * published earlier, the journal must hold the event of that hash (so it extends that head).
 */
import { ErrorCodes, TtjError } from '../errors.js';
import type { Event } from './codec.js';
import { checkSignature, isSigned } from './event-signature.js';
import type { TrustedKey } from './signing-key.js';

/** What a verify with `--trust`/`--head` proved. */
export interface CustodyReport {
  /** Hex fingerprint of the trusted key, when one was given: every event is covered by its signatures. */
  trusted?: string;
  /** Signed events checked. */
  signatures: number;
  /** The published head the journal extends (its seq here), when one was given. */
  extends?: { seq: number; hash: string };
}

/**
 * Checks events fed in stream order against a trusted key and a published head.
 * @throws TtjError BAD_ARGUMENT (a head that is not a SHA-256 in hex).
 */
export class CustodyCheck {
  private lastSigned = -1;
  private found: number | undefined;
  private readonly head: Buffer | undefined;
  readonly report: CustodyReport = { signatures: 0 };

  constructor(
    private readonly trust?: TrustedKey,
    head?: string,
  ) {
    if (head !== undefined && !/^[0-9a-f]{64}$/i.test(head))
      throw new TtjError(ErrorCodes.BAD_ARGUMENT, `--head takes a head hash (64 hex digits, as ttj log --json prints it), got ${JSON.stringify(head)}`, { flag: 'head', actual: head });
    this.head = head === undefined ? undefined : Buffer.from(head, 'hex');
    if (trust) this.report.trusted = trust.fingerprint.toString('hex');
  }

  /** The seq of the last event whose signature by the trusted key was checked (-1: none): every event up to it is covered. */
  get lastSignedSeq(): number {
    return this.lastSigned;
  }

  /** True when there is something to check. */
  get active(): boolean {
    return !!this.trust || !!this.head;
  }

  /**
   * One stored event with its hash.
   * @throws TtjError BAD_SIGNATURE (signed by another key, or its signature does not hold).
   */
  feed(seq: number, ev: Event, bytes: Buffer, hash: Buffer): void {
    if (this.trust && isSigned(ev)) {
      checkSignature(ev, bytes, seq, this.trust);
      this.lastSigned = seq;
      this.report.signatures++;
    }
    if (this.found === undefined && this.head?.equals(hash)) {
      this.found = seq;
      this.report.extends = { seq, hash: hash.toString('hex') };
    }
  }

  /**
   * After the last event (`headSeq`): every event is covered by a signature, and the published head was found.
   * @throws TtjError BAD_SIGNATURE (naming the first unsigned event), HEAD_NOT_FOUND.
   */
  finish(headSeq: number): void {
    if (this.trust && this.lastSigned < headSeq) {
      const first = this.lastSigned + 1;
      throw new TtjError(ErrorCodes.BAD_SIGNATURE, `events ${first}..${headSeq} are not signed by the trusted key ${this.report.trusted}`, { seq: first, trusted: this.report.trusted });
    }
    if (this.head && this.found === undefined) {
      throw new TtjError(ErrorCodes.HEAD_NOT_FOUND, `no event of the journal (up to seq ${headSeq}) has the hash ${this.head.toString('hex')}: it does not extend that head`, {
        hash: this.head.toString('hex'),
        actual: headSeq,
      });
    }
  }
}
