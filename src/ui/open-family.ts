import { ErrorCodes, TtjError } from '../errors.js';
import { Journal } from '../journal/journal.js';
import { DiskLaneTracker } from './disk-lanes.js';
import { VerifyService } from './verify-service.js';
import type { TrustedKey } from '../journal/signing-key.js';
import { discoverFamily, type FamilyMember } from './journal-family.js';

/** A member of the family the server serves, open for reading, with its disk lanes and its verification. */
export interface OpenMember {
  member: FamilyMember;
  journal: Journal;
  diskLanes: DiskLaneTracker;
  verify: VerifyService;
}

/**
 * The journals `ttj ui` serves: the one it was started on and its family
 * ({@link discoverFamily}), each opened once and kept open. Found again on
 * {@link refresh} (`GET /api/family`, after a fork from the page, and when a request
 * names a journal id not yet known), so forks made meanwhile join.
 */
export class OpenFamily {
  private readonly open = new Map<string, OpenMember>();
  private readonly known = new Map<string, FamilyMember>();
  private refreshing: Promise<unknown> = Promise.resolve();

  /** The journal id of the journal the server was started on. */
  startId = '';

  private constructor(
    private readonly start: string,
    private readonly password: string | undefined,
    private readonly closing: AbortSignal,
    private readonly trust: TrustedKey | undefined,
  ) {}

  /**
   * @param closing stops the members' verifications (the server's stop signal).
   * @param trust the trusted public key their verifications check signatures against.
   * @throws TtjError what {@link Journal.open} throws for `start`.
   */
  static async open(start: string, password: string | undefined, closing: AbortSignal, trust?: TrustedKey): Promise<OpenFamily> {
    const f = new OpenFamily(start, password, closing, trust);
    f.startId = (await f.refresh())[0]!.id;
    return f;
  }

  /** The members, the started journal first (then its ancestors, then forks as found). */
  members(): FamilyMember[] {
    return [...this.open.values()].map((m) => m.member);
  }

  /** Finds the family again and opens its new members (one refresh at a time). */
  refresh(): Promise<FamilyMember[]> {
    const next = this.refreshing
      .catch(() => undefined)
      .then(async () => {
        for (const m of await discoverFamily(this.start, this.password, this.known)) {
          if (this.open.has(m.id)) continue;
          const journal = await Journal.open(m.location, { password: this.password });
          this.open.set(m.id, { member: m, journal, diskLanes: new DiskLaneTracker(journal), verify: new VerifyService(journal, this.closing, this.trust) });
        }
        return this.members();
      });
    this.refreshing = next;
    return next;
  }

  /**
   * The member with journal id `id` (the started journal when null or empty). Only
   * family members are served: a request names a journal id, never a location.
   * @throws TtjError BAD_ARGUMENT for an id that is not of the family.
   */
  async get(id: string | null): Promise<OpenMember> {
    const want = id || this.startId;
    if (!this.open.has(want)) await this.refresh();
    const m = this.open.get(want);
    if (!m) throw new TtjError(ErrorCodes.BAD_ARGUMENT, `no journal ${want} in this family (GET /api/family lists them)`);
    return m;
  }

  /** Waits for the members' verifications to stop (abort `closing` first), then closes every member's journal. */
  async close(): Promise<void> {
    await this.refreshing.catch(() => undefined);
    for (const m of this.open.values()) await m.verify.idle();
    for (const m of this.open.values()) await m.journal.close().catch(() => undefined);
    this.open.clear();
  }
}
