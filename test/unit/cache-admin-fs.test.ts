// Cache administration on a real file system: last-use records, removal that
// never leaves its root or follows a link, lock holders, and scanning.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, lstat, mkdir, readdir, readFile, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { removeBelow } from '../../src/inventory/walk.js';
import { liveHolder, takeLocks } from '../../src/inventory/locks.js';
import { scanTier } from '../../src/inventory/scan-tiers.js';
import { dropUse, readLastUse, recordUse, sweepOrphanUses } from '../../src/layout/last-use.js';
import { lastUsePath } from '../../src/layout/paths.js';
import { hostIdentity } from '../../src/fs/lock.js';
import { useTempDirs } from './tmpdir.js';

const tempDir = useTempDirs('g3-admin-');

describe('last-use records', () => {
  it('records an explicit time and reads it back, and a later use moves it forward', async () => {
    const root = await tempDir();
    const then = new Date('2026-01-02T03:04:05Z');
    await recordUse(root, 'debs/a.deb', then);
    expect(await readLastUse(root, 'debs/a.deb')).toBe(then.getTime());
    const before = Date.now();
    await recordUse(root, 'debs/a.deb');
    const recorded = (await readLastUse(root, 'debs/a.deb')) ?? 0;
    // Bounded by the clock around the call, not by how long the call took.
    expect(recorded).toBeGreaterThanOrEqual(before - 1000);
    expect(recorded).toBeLessThanOrEqual(Date.now());
    expect(await readLastUse(root, 'debs/never-used.deb')).toBeUndefined();
  });

  it.each(['../escape', '/abs/path', 'debs/../../escape', ''])('ignores the relative path %j instead of writing outside the root', async (rel) => {
    const parent = await tempDir();
    const root = path.join(parent, 'root');
    await mkdir(root);
    await recordUse(root, rel, new Date());
    await expect(access(path.join(parent, 'escape'))).rejects.toThrow();
    expect(await readLastUse(root, rel)).toBeUndefined();
  });

  it('never throws where no record can be written', async () => {
    const root = await tempDir();
    await writeFile(path.join(root, '.g3-used'), 'not a directory');
    await expect(recordUse(root, 'debs/a.deb')).resolves.toBeUndefined();
  });

  it('sweeps records whose entry is gone and keeps the others', async () => {
    const root = await tempDir();
    await mkdir(path.join(root, 'debs'));
    await writeFile(path.join(root, 'debs', 'kept.deb'), 'x');
    await recordUse(root, 'debs/kept.deb');
    await recordUse(root, 'debs/gone.deb');
    await recordUse(root, 'old/gone.deb');
    expect(await sweepOrphanUses(root)).toBe(2);
    await expect(access(lastUsePath(root, 'debs/kept.deb'))).resolves.toBeUndefined();
    await expect(access(lastUsePath(root, 'old'))).rejects.toThrow();
  });
});

describe('last-use records never follow a symbolic link', () => {
  /** A tier root whose `rel` is a link to a victim folder holding `a.deb` and `precious`. */
  async function linked(rel: string) {
    const root = await tempDir();
    const victim = await tempDir();
    await writeFile(path.join(victim, 'a.deb'), 'victim');
    await writeFile(path.join(victim, 'precious'), 'keep me');
    await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await symlink(victim, path.join(root, rel));
    return { root, victim };
  }

  it.each(['.g3-used', '.g3-used/debs'])('sweepOrphanUses removes a linked %s as a link, reports it, and deletes nothing behind it', async (rel) => {
    const { root, victim } = await linked(rel);
    const seen: string[] = [];
    await sweepOrphanUses(root, (link) => seen.push(link));
    expect(seen).toEqual([path.join(root, rel)]);
    await expect(lstat(path.join(root, rel))).rejects.toThrow();
    expect((await readdir(victim)).sort()).toEqual(['a.deb', 'precious']);
  });

  it('recordUse writes nothing behind a linked section folder and reports why', async () => {
    const { root, victim } = await linked('.g3-used/debs');
    const before = (await stat(path.join(victim, 'a.deb'))).mtimeMs;
    const problems: string[] = [];
    await recordUse(root, 'debs/a.deb', new Date('2001-01-01T00:00:00Z'), (m) => problems.push(m));
    await recordUse(root, 'debs/new.deb', new Date(), (m) => problems.push(m));
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/is a symbolic link where a directory was expected/);
    expect((await stat(path.join(victim, 'a.deb'))).mtimeMs).toBe(before);
    expect((await readdir(victim)).sort()).toEqual(['a.deb', 'precious']);
    expect(await readLastUse(root, 'debs/a.deb')).toBeUndefined();
  });

  it('dropUse refuses a linked section folder instead of deleting the same-named file behind it', async () => {
    const { root, victim } = await linked('.g3-used/debs');
    await expect(dropUse(root, 'debs/a.deb')).rejects.toThrow(/symbolic link/);
    expect(await readFile(path.join(victim, 'a.deb'), 'utf8')).toBe('victim');
  });
});

describe('removeBelow', () => {
  it('removes a file or a tree below the root', async () => {
    const root = await tempDir();
    await mkdir(path.join(root, 'a', 'b'), { recursive: true });
    await writeFile(path.join(root, 'a', 'b', 'f'), 'x');
    expect(await removeBelow(root, path.join(root, 'a'))).toBe(true);
    await expect(access(path.join(root, 'a'))).rejects.toThrow();
    expect(await removeBelow(root, path.join(root, 'a'))).toBe(false);
  });

  it.each([
    ['the root itself', (root: string) => root],
    ['a path outside', (root: string) => path.join(root, '..', 'elsewhere')],
    ['a path that climbs out', (root: string) => path.join(root, 'a', '..', '..', 'x')],
  ])('refuses %s', async (_name, target) => {
    const root = await tempDir();
    await expect(removeBelow(root, target(root))).rejects.toThrow(/not below/);
    await expect(access(root)).resolves.toBeUndefined();
  });

  it('refuses to reach through a directory that became a symbolic link, and removes a link as a link', async () => {
    const root = await tempDir();
    const outside = await tempDir();
    await writeFile(path.join(outside, 'precious'), 'keep me');
    await symlink(outside, path.join(root, 'section'));
    await expect(removeBelow(root, path.join(root, 'section', 'precious'))).rejects.toThrow(/no longer a plain directory/);
    expect(await removeBelow(root, path.join(root, 'section'))).toBe(true);
    expect(await readFile(path.join(outside, 'precious'), 'utf8')).toBe('keep me');
  });
});

/** A lock directory as the lock module makes it, owned by `pid` on this host. */
async function fakeLock(dir: string, pid: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(
    path.join(dir, 'owner.json'),
    JSON.stringify({ host: hostIdentity(), pid, token: randomBytes(8).toString('hex'), since: '2026-01-01T00:00:00.000Z' }),
  );
}

async function deadPid(): Promise<number> {
  const child = spawn('true');
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid as number;
}

describe('lock holders', () => {
  it('names a live owner, and takeLocks leaves such a lock alone', async () => {
    const dir = path.join(await tempDir(), 'x.lock');
    const sleeper = spawn('sleep', ['30']);
    try {
      await fakeLock(dir, sleeper.pid as number);
      expect(await liveHolder(dir, 60_000)).toMatch(new RegExp(`^pid ${sleeper.pid} on .+ since 2026-01-01`));
      const taken = await takeLocks([dir], 60_000);
      expect(taken.blocked).toMatch(`held by pid ${sleeper.pid}`);
      expect(JSON.parse(await readFile(path.join(dir, 'owner.json'), 'utf8')).pid).toBe(sleeper.pid);
    } finally {
      sleeper.kill();
    }
  });

  it.each([
    ['a dead owner on this host', async (dir: string) => fakeLock(dir, await deadPid())],
    [
      'no heartbeat for longer than the staleness limit',
      async (dir: string) => {
        await fakeLock(dir, process.ppid);
        const old = new Date(Date.now() - 120_000);
        await utimes(dir, old, old);
      },
    ],
    ['no lock at all', async () => undefined],
  ])('treats %s as free, and takeLocks takes it', async (_name, make) => {
    const dir = path.join(await tempDir(), 'x.lock');
    await make(dir);
    expect(await liveHolder(dir, 60_000)).toBeUndefined();
    const taken = await takeLocks([dir], 60_000);
    expect(taken.locks).toHaveLength(1);
    expect(JSON.parse(await readFile(path.join(dir, 'owner.json'), 'utf8')).pid).toBe(process.pid);
    for (const l of taken.locks ?? []) await l.release();
    await expect(stat(dir)).rejects.toThrow();
  });
});

describe('scanTier', () => {
  it('lists regular files with their stamp, lock and provider, and does not follow symbolic links', async () => {
    const root = await tempDir();
    const outside = await tempDir();
    await writeFile(path.join(outside, 'secret'), 'x');
    await mkdir(path.join(root, 'composer-prov'), { recursive: true });
    await writeFile(path.join(root, 'composer-prov', 'tool.deb'), 'abc');
    await symlink(outside, path.join(root, 'linked-section'));
    await symlink(path.join(outside, 'secret'), path.join(root, 'composer-prov', 'linked.deb'));
    const skipped: { path: string; reason: string }[] = [];
    const entries = await scanTier({ tier: 'local', root, guards: async (p) => [`/guard/${p}`] }, skipped);
    expect(entries).toEqual([
      expect.objectContaining({
        group: 'composer-prov',
        provider: 'prov',
        name: 'tool.deb',
        kind: 'file',
        bytes: 3,
        guards: ['/guard/prov'],
        locks: [path.join(root, '.g3-locks', 'composer-prov', 'tool.deb.lock')],
        stamp: path.join(root, '.g3-stamps', 'composer-prov', 'tool.deb'),
      }),
    ]);
    expect(skipped.map((s) => path.basename(s.path)).sort()).toEqual(['linked-section', 'linked.deb']);
  });
});
