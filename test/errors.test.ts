import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCodes, isTtjError, TtjError, withContext, type ErrorCode } from '../src/errors.js';

/** The repository (this file runs as dist/test/errors.test.js). */
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('TtjError', () => {
  it('its --json form is the code, the message and the details, side by side', () => {
    const e = new TtjError(ErrorCodes.LOCKED, 'held', { path: '/j', holder: { pid: 1, host: 'h', command: 'ttj record', since: 't' } });
    assert.deepEqual(JSON.parse(JSON.stringify(e)), { error: { code: 'TTJ_LOCKED', message: 'held', path: '/j', holder: { pid: 1, host: 'h', command: 'ttj record', since: 't' } } });
    assert.deepEqual(new TtjError(ErrorCodes.WRITER_GONE, 'gone').toJSON(), { error: { code: 'TTJ_WRITER_GONE', message: 'gone' } });
  });

  it('adding context makes a new error of the same code, caused by the first, which is not changed', () => {
    const first = new TtjError(ErrorCodes.CORRUPT_BLOB, 'bad blob', { addr: 'ab' });
    const second = withContext(first, 'event 7: bad blob', { seq: 7 });
    assert.notEqual(second, first);
    assert.equal(second.code, ErrorCodes.CORRUPT_BLOB);
    assert.equal(second.cause, first);
    assert.deepEqual(second.details, { addr: 'ab', seq: 7 });
    assert.equal(second.seq, 7);
    assert.deepEqual(first.details, { addr: 'ab' });
    assert.equal(first.message, 'bad blob');
  });

  it('narrowing on the code narrows the details', () => {
    const caught: unknown = new TtjError(ErrorCodes.WRONG_EXPECTED_HEAD, 'moved', { expected: 3, actual: 5 });
    assert.ok(isTtjError(caught));
    switch (caught.code) {
      case ErrorCodes.WRONG_EXPECTED_HEAD: {
        const moved: number = caught.details.actual - caught.details.expected;
        assert.equal(moved, 2);
        break;
      }
      default:
        assert.fail(caught.code);
    }
    // Compiled, never run: the build fails when the constructor stops checking details against the code.
    void (() => {
      // @ts-expect-error BAD_POINT names the point
      void new TtjError(ErrorCodes.BAD_POINT, 'x');
      // @ts-expect-error LOCKED has no field `foo`
      void new TtjError(ErrorCodes.LOCKED, 'x', { path: '/j', foo: 1 });
      // @ts-expect-error the expected head is a seq
      void new TtjError(ErrorCodes.WRONG_EXPECTED_HEAD, 'x', { expected: 'a', actual: 1 });
      // @ts-expect-error STATE_ROOT_MISMATCH names the seq
      void new TtjError(ErrorCodes.STATE_ROOT_MISMATCH, 'x', { expected: 'ab' });
    });
  });

  it('docs/cli.md lists the details of every code', () => {
    const cli = readFileSync(join(repoRoot, 'docs', 'cli.md'), 'utf8');
    const section = cli.slice(cli.indexOf('## Error details'), cli.indexOf('\n## ', cli.indexOf('## Error details') + 1));
    const listed = [...section.matchAll(/^\| (`TTJ_[A-Z_]+`(?:, `TTJ_[A-Z_]+`)*) \|/gm)].flatMap((m) => m[1]!.split(', ').map((c) => c.slice(1, -1)));
    assert.deepEqual([...listed].sort(), (Object.values(ErrorCodes) as ErrorCode[]).sort());
  });
});
