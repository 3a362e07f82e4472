import { spawnSync } from 'node:child_process';
import { access, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { holdSections, releaseHolds, sectionHolds, sweepDeadHolds } from '../../src/cache/hold.js';
import { holdsDir } from '../../src/layout/paths.js';
import { hostIdentity } from '../../src/fs/lock.js';
import { useTempDirs } from './tmpdir.js';

const tempDir = useTempDirs('g3-hold-');
const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

/** A hold as a killed `cache` run leaves it: a lock folder with its owner record. */
async function plantHold(root: string, section: string, name: string, owner: { host: string; pid: number }): Promise<string> {
  const dir = path.join(holdsDir(root, section), name);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'owner.json'), JSON.stringify({ ...owner, token: name, since: new Date().toISOString() }));
  return dir;
}

/** The pid of a process that has exited (and been reaped). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  if (r.pid === undefined) throw new Error('could not start a child');
  return r.pid;
}

describe('holds of a running cache', () => {
  it('sweeps the holds of a dead process of this host, and keeps live ones and those of other hosts', async () => {
    const root = await tempDir();
    const dead = await plantHold(root, 'debs', 'cache-dead.lock', { host: hostIdentity(), pid: deadPid() });
    const live = await plantHold(root, 'debs', 'cache-live.lock', { host: hostIdentity(), pid: process.pid });
    const elsewhere = await plantHold(root, 'debs', 'cache-other-host.lock', { host: 'another-host/boot/ns', pid: deadPid() });
    expect(await sweepDeadHolds(root, 'debs')).toBe(1);
    expect(await exists(dead)).toBe(false);
    expect(await exists(live)).toBe(true);
    expect(await exists(elsewhere)).toBe(true);
  });

  it('holdSections sweeps a killed run’s holds before taking its own, and releases its own', async () => {
    const root = await tempDir();
    const dead = await plantHold(root, 'tools', 'cache-dead.lock', { host: hostIdentity(), pid: deadPid() });
    const held = await holdSections(root, ['tools'], 60_000);
    expect(await exists(dead)).toBe(false);
    const mine = await sectionHolds(root, 'tools');
    expect(mine).toHaveLength(1);
    expect(path.basename(mine[0] ?? '')).toMatch(new RegExp(`^cache-${process.pid}-[0-9a-f]{8}\\.lock$`));
    await releaseHolds(held);
    expect(await sectionHolds(root, 'tools')).toEqual([]);
  });
});
