import { access } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ErrorCodes, TtjError } from '../errors.js';
import { isPgLocation } from '../store/pg/pg-location.js';
import { forkLocation, type FamilyMember } from './journal-family.js';
import type { OpenFamily } from './open-family.js';
import type { VmInfo, VmSession } from './vm-session.js';

/** `POST /api/forks`: the VM recording into the new journal, and the family with it. */
export interface ForkStarted {
  vm: VmInfo;
  members: FamilyMember[];
}

/** True when something (a journal or any file) is at `path`. */
const taken = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/** A fork's name as typed: a plain file name (no directory part), made beside its source. */
function checkName(name: unknown): string | undefined {
  if (name === undefined || name === null || name === '') return undefined;
  if (typeof name !== 'string' || name.length > 255 || name === '.' || name === '..' || /[/\\\0]/.test(name)) {
    throw new TtjError(ErrorCodes.BAD_ARGUMENT, `a fork's name is a plain file name (it is made beside its journal), not ${JSON.stringify(name)}`);
  }
  return name;
}

/**
 * "Fork and record": body `{at: POINT, journal?: ID, name?: NAME}`. Restores family
 * member `journal` (default: the started one) at `at` and records the VM into a new
 * journal beside it, `NAME` or `BASE-fork-N.ttj` (see {@link forkLocation}), as
 * `ttj restore --fork` does, with its screen on VNC as "Restore here". The new journal
 * joins the family.
 * @throws TtjError BAD_ARGUMENT (no POINT, a name with a directory part, a journal in PostgreSQL); JOURNAL_EXISTS (the name is taken); what `ttj restore --fork` throws.
 */
export async function startFork(ctx: { family: OpenFamily; vm: VmSession }, body: Record<string, unknown>): Promise<ForkStarted> {
  if (typeof body.at !== 'string' || !body.at) throw new TtjError(ErrorCodes.BAD_ARGUMENT, 'POST /api/forks needs {"at": POINT}');
  const name = checkName(body.name);
  const { member: source } = await ctx.family.get(typeof body.journal === 'string' ? body.journal : null);
  if (isPgLocation(source.location)) throw new TtjError(ErrorCodes.BAD_ARGUMENT, 'fork and record makes the new journal beside its parent: not for a journal in PostgreSQL (use ttj restore --fork)');
  const target = await forkLocation(source.location, name, taken);
  if (await taken(target)) throw new TtjError(ErrorCodes.JOURNAL_EXISTS, `${target} already exists; a fork needs a new name`, { path: target });
  const member = async (location: string) => {
    const m = (await ctx.family.refresh()).find((x) => resolve(x.location) === resolve(location));
    if (!m) throw new TtjError(ErrorCodes.INTERNAL, `the new fork ${location} did not open as a member of the family`);
    return m;
  };
  const vm = await ctx.vm.startFork({ source: source.location, at: body.at, target, member });
  return { vm, members: ctx.family.members() };
}
