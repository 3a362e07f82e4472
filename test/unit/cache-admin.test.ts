// Cache administration: the --older-than/--max-size parsers, the flags of
// prune and clean, and the order in which prune removes entries.
import { describe, expect, it } from 'vitest';
import type { Outcome } from '../../src/inventory/remove.js';
import { lruOrder, type PrunePolicy, pruneWalk } from '../../src/commands/cache-prune.js';
import { formatAge, parseAge, parseSize } from '../../src/units/age.js';
import { cleanScope, pruneLimits } from '../../src/cli/commands/cache-admin-run.js';
import { UserError } from '../../src/errors.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const KiB = 1024;

describe('parseAge', () => {
  it.each([
    ['180d', 180 * DAY],
    ['12h', 12 * HOUR],
    ['30m', 30 * MIN],
    ['2w', 14 * DAY],
    ['90s', 90_000],
    ['1.5d', 36 * HOUR],
    [' 7d ', 7 * DAY],
    ['0d', 0],
  ])('reads %j as %d ms', (text, ms) => {
    expect(parseAge(text)).toBe(ms);
  });

  it.each([
    ['180', /--older-than "180" has no unit/],
    ['10x', /--older-than "10x" is not an age/],
    ['-1d', /is not an age/],
    ['d', /is not an age/],
    ['', /is not an age/],
    ['1e3d', /is not an age/],
    ['7 days', /is not an age/],
    ['99999999999999999w', /is too large/],
  ])('refuses %j as a user error with a hint', (text, message) => {
    const err = (() => {
      try {
        parseAge(text);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toMatch(message);
    expect((err as UserError).hint).toMatch(/180d, 12h, 30m, 2w/);
  });
});

describe('parseSize', () => {
  it.each([
    ['20G', 20 * 1024 ** 3],
    ['500M', 500 * 1024 ** 2],
    ['1.5T', 1.5 * 1024 ** 4],
    ['64KiB', 64 * KiB],
    ['64K', 64 * KiB],
    ['2GB', 2_000_000_000],
    ['2Gb', 2_000_000_000],
    ['500MB', 500_000_000],
    ['8g', 8 * 1024 ** 3],
    ['1048576', 1048576],
    ['100B', 100],
    ['0', 0],
    ['1.5K', 1536],
  ])('reads %j as %d bytes', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it.each(['20Q', '-1G', 'G', '', '1e9', '20 GiBs', '2Gi', '12X'])('refuses %j as a user error', (text) => {
    expect(() => parseSize(text)).toThrow(UserError);
    expect(() => parseSize(text)).toThrow(`--max-size ${JSON.stringify(text)} is not a size`);
  });
});

describe('formatAge', () => {
  it.each([
    [0, '0s'],
    [45_000, '45s'],
    [12 * MIN, '12m'],
    [3 * HOUR + 5 * MIN, '3h 5m'],
    [200 * DAY + 3 * HOUR, '200d 3h'],
  ])('shows %d ms as %s', (ms, text) => {
    expect(formatAge(ms)).toBe(text);
  });
});

describe('prune and clean flags', () => {
  it.each([
    [{ 'older-than': '180d' }, { olderThanMs: 180 * DAY, maxBytes: undefined }],
    [{ 'max-size': '20G' }, { olderThanMs: undefined, maxBytes: 20 * 1024 ** 3 }],
    [
      { 'older-than': '1h', 'max-size': '1K', 'dry-run': true },
      { olderThanMs: HOUR, maxBytes: 1024 },
    ],
  ])('prune reads %j', (flags, limits) => {
    expect(pruneLimits(flags)).toEqual(limits);
  });

  it('prune without --older-than or --max-size is a user error', () => {
    expect(() => pruneLimits({ 'dry-run': true })).toThrow(/cache prune needs --older-than, --max-size or both/);
  });

  it.each([
    [{ packages: true }, 'packages'],
    [{ workspace: true, 'dry-run': true }, 'workspace'],
    [{ all: true, 'provider-id': 'x' }, 'all'],
  ])('clean reads %j as scope %s', (flags, scope) => {
    expect(cleanScope(flags)).toBe(scope);
  });

  it.each([
    [{}, /needs one of --packages, --workspace and --all/],
    [{ 'dry-run': true }, /needs one of/],
    [{ packages: true, workspace: true }, /not --packages and --workspace/],
    [{ packages: true, workspace: true, all: true }, /not --packages and --workspace and --all/],
  ])('clean refuses %j', (flags, message) => {
    expect(() => cleanScope(flags)).toThrow(UserError);
    expect(() => cleanScope(flags)).toThrow(message);
  });
});

interface E {
  path: string;
  bytes: number;
  mtimeMs: number;
  lastUseMs?: number;
}

const NOW = 1_000 * DAY;
/** An entry last used `daysAgo` days before NOW (by record, or by mtime when `recorded` is false). */
const entry = (name: string, daysAgo: number, bytes = 10, recorded = true): E => ({
  path: `/c/${name}`,
  bytes,
  mtimeMs: recorded ? NOW : NOW - daysAgo * DAY,
  lastUseMs: recorded ? NOW - daysAgo * DAY : undefined,
});

async function walk(entries: E[], policy: Omit<PrunePolicy, 'now'>, held: string[] = []) {
  const tried: string[] = [];
  const attempt = async (e: E): Promise<Outcome> => {
    tried.push(e.path.slice(3));
    return held.includes(e.path.slice(3)) ? { state: 'held', reason: 'held by pid 1 on h' } : { state: 'removed' };
  };
  const r = await pruneWalk(entries, { ...policy, now: NOW }, attempt);
  return { tried, removed: r.steps.filter((s) => s.outcome.state === 'removed').map((s) => `${s.entry.path.slice(3)}:${s.why}`), remaining: r.remainingBytes };
}

describe('prune order', () => {
  const three = [entry('new', 1), entry('old', 30), entry('mid', 10)];

  it.each([
    ['--older-than only', { olderThanMs: 7 * DAY }, [], ['old:age', 'mid:age'], 10],
    ['--older-than beyond every entry', { olderThanMs: 60 * DAY }, [], [], 30],
    ['--max-size only', { maxBytes: 15 }, [], ['old:size', 'mid:size'], 10],
    ['--max-size already met', { maxBytes: 30 }, [], [], 30],
    ['both: age first, then size', { olderThanMs: 20 * DAY, maxBytes: 10 }, [], ['old:age', 'mid:size'], 10],
    ['a held entry is skipped and the next one taken', { maxBytes: 15 }, ['old'], ['mid:size', 'new:size'], 10],
    ['a held old entry still counts towards the size', { olderThanMs: 7 * DAY, maxBytes: 25 }, ['old'], ['mid:age'], 20],
  ])('%s', async (_name, policy, held, removed, remaining) => {
    const r = await walk(three, policy, held);
    expect(r.removed).toEqual(removed);
    expect(r.remaining).toBe(remaining);
  });

  it('stops at the first entry that is neither too old nor needed for size', async () => {
    const r = await walk([entry('a', 9), entry('b', 8), entry('c', 2), entry('d', 1)], { olderThanMs: 5 * DAY });
    expect(r.tried).toEqual(['a', 'b']);
  });

  it('orders by recorded last use, falls back to mtime without a record, and breaks ties by path', () => {
    const sorted = lruOrder([entry('z-recorded', 5), entry('m-mtime-only', 7, 10, false), entry('a-recorded', 5), entry('b-fresh-mtime', 0, 10, false)]);
    expect(sorted.map((e) => e.path.slice(3))).toEqual(['m-mtime-only', 'a-recorded', 'z-recorded', 'b-fresh-mtime']);
  });
});
