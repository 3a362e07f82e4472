import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InternalError, UserError } from '../../src/errors.js';
import { readLock } from '../../src/lock/file.js';
import type { CacheEvent } from '../../src/log/events.js';
import { ensureLock, matchingLock } from '../../src/packages/ensure-lock.js';
import { checkTargetCaches, refreshTargetCaches } from '../../src/packages/target-caches.js';
import { rejectionOf } from '../support/failure.js';
import { lockedProject } from './locked-project.js';
import { useTempDirs } from './tmpdir.js';

const tempDir = useTempDirs('g3-target-caches-');

describe('matchingLock and ensureLock', () => {
  it('return the lock that matches the template, without resolving', async () => {
    const p = await lockedProject(await tempDir());
    expect(await matchingLock(p.t)).toEqual(p.lock);
    const events: CacheEvent[] = [];
    expect(await ensureLock(p.t, p.settings, (e) => events.push(e))).toEqual(p.lock);
    expect(events).toEqual([]);
  });

  it('say there is no lock yet with undefined (matchingLock)', async () => {
    const p = await lockedProject(await tempDir(), { locked: false });
    expect(await matchingLock(p.t)).toBeUndefined();
  });

  it('refuses a lock of another request, naming the lock and what changed, and never use it', async () => {
    const p = await lockedProject(await tempDir());
    const other = { ...p.lock, requestDigest: 'f'.repeat(64), request: { ...p.lock.request, packages: [...p.lock.request.packages, 'extra-pkg'] } };
    await writeFile(p.t.lockFile, JSON.stringify(other));
    // Each call starts only when the previous one is judged, so no rejection is left unhandled meanwhile.
    for (const call of [() => matchingLock(p.t), () => ensureLock(p.t, p.settings, () => undefined)]) {
      const err = await rejectionOf(call(), UserError);
      expect(err.message).toBe(`lock ${p.t.lockFile} does not match the template of img: packages removed: extra-pkg`);
      expect(err.hint).toBe('Run: <builder> img lock --update (or delete the lock)');
    }
    expect(JSON.parse(await readFile(p.t.lockFile, 'utf8'))).toEqual(other);
  });
});

describe('checkTargetCaches', () => {
  it('reports a missing lock as needing a refresh, and resolves nothing', async () => {
    const p = await lockedProject(await tempDir(), { locked: false });
    const report = await checkTargetCaches({ settings: p.settings, target: p.t.target, opened: p.t, verify: false, emit: () => undefined });
    expect(report).toEqual({ items: 0, ok: false, needsRefresh: [{ item: 'img.lock.json', reason: 'no lock file: packages not resolved yet' }] });
    expect(await readLock(p.t.lockFile)).toBeUndefined();
  });

  it('is ok when the lock matches and it pins nothing', async () => {
    const p = await lockedProject(await tempDir());
    const events: CacheEvent[] = [];
    const report = await checkTargetCaches({ settings: p.settings, target: p.t.target, opened: p.t, verify: false, emit: (e) => events.push(e) });
    expect(report).toEqual({ items: 0, ok: true, needsRefresh: [] });
    expect(events).toEqual([{ type: 'info', message: 'target img has no artifacts: nothing to cache' }]);
  });
});

describe('refreshTargetCaches', () => {
  it('returns the target with its lock and writes its graphs beside the packages', async () => {
    const p = await lockedProject(await tempDir());
    const { report, locked } = await refreshTargetCaches({ settings: p.settings, target: p.t.target, opened: p.t, verify: false, emit: () => undefined });
    expect(report.ok).toBe(true);
    expect(locked).toEqual({ t: p.t, lock: p.lock });
    expect(await readFile(path.join(p.t.pkgDir, 'img.dot'), 'utf8')).toMatch(/^digraph "img" \{/);
  });

  it.each([
    ['a template target without its opened template', false],
    ['an artifact-only target with an opened template', true],
  ])('refuses %s as a bug', async (_what, artifactOnly) => {
    const p = await lockedProject(await tempDir());
    const target = artifactOnly ? { name: 'img', artifacts: [] } : p.t.target;
    const opened = artifactOnly ? p.t : undefined;
    const input = { settings: p.settings, target, opened, verify: false, emit: () => undefined };
    await expect(refreshTargetCaches(input)).rejects.toThrow(InternalError);
    await expect(checkTargetCaches(input)).rejects.toThrow(InternalError);
  });
});
