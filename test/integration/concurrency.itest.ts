// Many builders on one shared cache: single flight, and SIGKILL at random
// moments never leaves a corrupt file under a final name or a blocking lock.
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { badFinalFiles, collect, finalFiles, makeProject, type Project, runBuilder, startBuilder, tempFiles } from '../support/project.js';

let p: Project | undefined;
afterEach(async () => {
  await p?.cleanup();
  p = undefined;
});

describe('concurrent builders on one shared cache', () => {
  it('8 processes fetch each missing item from the origin exactly once, and all end verified', async () => {
    p = await makeProject({ count: 12, size: 512 * 1024 });
    const project = p;
    // Throttle so the eight runs overlap for real.
    for (const f of project.files) project.origin.fault(`/${f.section}/${f.file}`, { kind: 'slow', bytesPerSecond: 4 * 1024 * 1024 });
    const runs = Array.from({ length: 8 }, (_, i) =>
      // Six builders with private local tiers, two sharing one: both layouts occur in CI.
      collect(startBuilder(['latest', 'cache', '--json', '--workers', '4'], { ...project.env, G3_LOCAL_CACHE: path.join(project.dir, `local-${Math.min(i, 6)}`) })),
    );
    const results = await Promise.all(runs);
    for (const r of results) {
      expect(r.stderr.replace(/waiting for .*\n/g, '')).toBe('');
      expect(r.code).toBe(0);
    }
    for (const f of project.files) expect(project.origin.requests(`/${f.section}/${f.file}`)).toBe(1);
    const downloads = results.map((r) => JSON.parse(r.stdout).downloads as number).reduce((a, b) => a + b, 0);
    expect(downloads).toBe(12);
    for (let i = 0; i <= 6; i++) {
      const local = path.join(project.dir, `local-${i}`);
      expect(await finalFiles(local)).toHaveLength(12);
      expect(await badFinalFiles(local, project.files)).toEqual([]);
    }
    expect(await badFinalFiles(project.shared, project.files)).toEqual([]);
    expect((await tempFiles(project.dir)).map((f) => path.relative(project.dir, f))).toEqual([]);
  });

  it('survives SIGKILL at random moments: no corrupt final file, and the next run completes', async () => {
    p = await makeProject({ count: 8, size: 384 * 1024 });
    const project = p;
    for (const f of project.files) project.origin.fault(`/${f.section}/${f.file}`, { kind: 'slow', bytesPerSecond: 512 * 1024 });
    let killedMidWork = 0;
    // A bounded loop of kills, two builders at a time, at random points of their work.
    for (let round = 0; round < 8; round++) {
      const locals = [path.join(project.dir, 'local-a'), path.join(project.dir, `local-b${round % 3}`)];
      // Give each round work to do: drop some items from every tier.
      for (const d of [...locals, project.shared]) {
        for (const f of project.files) if (Math.random() < 0.5) await rm(path.join(d, f.section, f.file), { force: true });
      }
      await Promise.all(locals.map((d) => mkdir(d, { recursive: true })));
      const kids = locals.map((d) => startBuilder(['latest', 'cache', '--workers', '3'], { ...project.env, G3_LOCAL_CACHE: d }));
      const done = kids.map((k) => collect(k));
      await new Promise((r) => setTimeout(r, 300 + Math.random() * 1200));
      for (const k of kids) k.kill('SIGKILL');
      const ends = await Promise.all(done);
      if (ends.some((e) => e.signal === 'SIGKILL') && (await tempFiles(project.dir)).length + (await lockDirs(project.dir)) > 0) killedMidWork++;
      for (const d of [...locals, project.shared]) expect(await badFinalFiles(d, project.files)).toEqual([]);
    }
    // The kills must have hit builders in the middle of their work, or this proves nothing.
    expect(killedMidWork).toBeGreaterThan(0);
    // The next run must not be blocked by dead builders' locks, and ends complete.
    project.origin.clearFaults();
    const started = Date.now();
    const r = await runBuilder(['latest', 'cache', '--json'], { ...project.env, G3_LOCAL_CACHE: path.join(project.dir, 'local-a') });
    expect(r.code).toBe(0);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(await finalFiles(path.join(project.dir, 'local-a'))).toHaveLength(8);
    expect(await badFinalFiles(path.join(project.dir, 'local-a'), project.files)).toEqual([]);
    expect(await badFinalFiles(project.shared, project.files)).toEqual([]);
    // A lock of an item the last run did not need to write stays until someone needs it; it must belong to a dead builder.
    expect(await liveLockOwners(project.shared)).toEqual([]);
  });
});

// How many lock directories exist below `root` (left by killed builders, or held).
/** Pids of running processes that hold a lock under `root` (a killed builder's lock names a dead pid). */
async function liveLockOwners(root: string): Promise<number[]> {
  const live: number[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (!e.isDirectory()) continue;
      const p = path.join(d, e.name);
      if (!e.name.endsWith('.lock')) await walk(p);
      else {
        const owner = JSON.parse(await readFile(path.join(p, 'owner.json'), 'utf8').catch(() => '{}')) as { pid?: number };
        if (owner.pid && isAlive(owner.pid)) live.push(owner.pid);
      }
    }
  };
  await walk(root);
  return live;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function lockDirs(root: string): Promise<number> {
  let n = 0;
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (!e.isDirectory()) continue;
      if (e.name.endsWith('.lock')) n++;
      else await walk(path.join(d, e.name));
    }
  };
  await walk(root);
  return n;
}
