// Many builders on one shared cache: single flight, and SIGKILL at each stage of
// a builder's work never leaves a corrupt file under a final name or a lock
// that blocks the next run. Every kill lands where it should by construction:
// the origin holds a body back until the test has killed the builder.
import type { ChildProcess } from 'node:child_process';
import { readdir, readFile, stat, utimes } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { itemLockPath as lockPath } from '../../src/layout/paths.js';
import {
  badFinalFiles,
  collect,
  finalFiles,
  makeProject,
  type Project,
  type RunResult,
  runBuilder,
  startBuilder,
  type TestFile,
  tempFiles,
} from '../support/project.js';

let p: Project | undefined;
const kids: ChildProcess[] = [];
afterEach(async () => {
  for (const k of kids.splice(0)) if (k.exitCode === null && k.signalCode === null) k.kill('SIGKILL');
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
      collect(
        startBuilder(['latest', 'cache', '--json', '--workers', '4'], { ...project.env, G3_LOCAL_CACHE: path.join(project.dir, `local-${Math.min(i, 6)}`) }),
      ),
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
});

// Bytes of a held body the origin sends before it waits for the test.
const HOLD_BYTES = 64 * 1024;

describe('SIGKILL at each stage of the work', () => {
  it.each([
    ['mid-download of its first item, holding that item lock', 0],
    ['after publishing two items (and writing them back), mid-download of the third', 2],
  ])('a builder killed %s leaves only verified final files; the next run breaks its lock at once and completes', async (_stage, heldIndex) => {
    const project = await newProject({ count: 5, size: 256 * 1024 });
    const held = project.files[heldIndex] as TestFile;
    const localA = path.join(project.dir, 'local-a');
    project.origin.fault(urlOf(held), { kind: 'hold', bytes: HOLD_BYTES, maxMs: 120_000 }, 1);
    // One worker: the items before the held one are complete in both tiers before it is requested.
    const a = start(['latest', 'cache', '--workers', '1'], { ...holdEnv(project), G3_LOCAL_CACHE: localA });
    const partial = await killMidDownload(project, a, held, localA);

    expect(await finalFiles(localA)).toEqual(project.files.slice(0, heldIndex).map(rel).sort());
    expect(await finalFiles(project.shared)).toEqual(project.files.slice(0, heldIndex).map(rel).sort());
    for (const tier of [localA, project.shared]) expect(await badFinalFiles(tier, project.files)).toEqual([]);
    const owner = await lockOwner(project.shared, held);
    expect(owner).toBe(a.child.pid);
    expect(isAlive(owner as number)).toBe(false);

    // A leftover from a run killed long ago: old enough for any later run to sweep it.
    const longAgo = new Date(Date.now() - 3_600_000);
    await utimes(partial, longAgo, longAgo);
    // With an hour of staleness, only the dead owner's pid lets the next run break the lock without waiting.
    const r = await runBuilder(['latest', 'cache', '--json'], { ...project.env, G3_LOCAL_CACHE: localA, G3_LOCK_STALE: '3600' });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`broke a stale lock on ${reEscape(rel(held))}.*pid ${a.child.pid}.*no longer running`));
    const report = JSON.parse(r.stdout);
    expect(report.hits).toEqual({ local: heldIndex, shared: 0, registry: 0, origin: project.files.length - heldIndex });
    expect(project.origin.requests(urlOf(held))).toBe(2);
    expect(await finalFiles(localA)).toEqual(project.files.map(rel).sort());
    for (const tier of [localA, project.shared]) expect(await badFinalFiles(tier, project.files)).toEqual([]);
    expect(await tempFiles(project.dir)).toEqual([]);
    expect(await itemLocks(project.dir, [localA, project.shared], project.files)).toEqual([]);
    expect(await liveLockOwners(project.dir)).toEqual([]);
  });

  it('a builder waiting for a lock takes the item over when its holder is killed mid-download', async () => {
    const project = await newProject({ count: 3, size: 256 * 1024 });
    const held = project.files[0] as TestFile;
    const [localA, localB] = [path.join(project.dir, 'local-a'), path.join(project.dir, 'local-b')];
    project.origin.fault(urlOf(held), { kind: 'hold', bytes: HOLD_BYTES, maxMs: 120_000 }, 1);
    const a = start(['latest', 'cache', '--workers', '1'], { ...holdEnv(project), G3_LOCAL_CACHE: localA });
    await waitForPartial(project, a, held, localA);
    // Plain output (not --json), which reports the wait on stderr.
    const b = start(['latest', 'cache', '--workers', '1'], { ...holdEnv(project), G3_LOCAL_CACHE: localB, G3_LOCK_STALE: '3600' });
    await waitForLine(b, new RegExp(`waiting for pid ${a.child.pid}\\b.* to fetch ${reEscape(rel(held))}`), [a]);
    a.child.kill('SIGKILL');
    expect((await a.ended).signal).toBe('SIGKILL');

    const r = await b.ended;
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`broke a stale lock on ${reEscape(rel(held))}.*pid ${a.child.pid}.*no longer running`));
    expect(r.stderr).toMatch(new RegExp(`origin +${reEscape(rel(held))}`));
    expect(project.origin.requests(urlOf(held))).toBe(2);
    for (const tier of [localB, project.shared]) {
      expect(await finalFiles(tier)).toEqual(project.files.map(rel).sort());
      expect(await badFinalFiles(tier, project.files)).toEqual([]);
    }
    // The killed holder's partial file is hidden in its own local tier only.
    expect((await tempFiles(project.dir)).map((f) => path.relative(project.dir, f))).toEqual([
      path.relative(project.dir, (await partialOf(localA, held, a.child.pid as number)) as string),
    ]);
    expect(await itemLocks(project.dir, [localA, localB, project.shared], project.files)).toEqual([]);
    expect(await liveLockOwners(project.dir)).toEqual([]);
  });

  it('a builder killed while it waits for a lock leaves nothing behind; the holder and a later run complete', async () => {
    const project = await newProject({ count: 3, size: 256 * 1024 });
    const held = project.files[0] as TestFile;
    const [localA, localB] = [path.join(project.dir, 'local-a'), path.join(project.dir, 'local-b')];
    project.origin.fault(urlOf(held), { kind: 'hold', bytes: HOLD_BYTES, maxMs: 120_000 }, 1);
    const a = start(['latest', 'cache', '--json', '--workers', '1'], { ...holdEnv(project), G3_LOCAL_CACHE: localA });
    await waitForPartial(project, a, held, localA);
    const b = start(['latest', 'cache', '--workers', '1'], { ...holdEnv(project), G3_LOCAL_CACHE: localB });
    await waitForLine(b, new RegExp(`waiting for pid ${a.child.pid}\\b.* to fetch ${reEscape(rel(held))}`), [a]);
    b.child.kill('SIGKILL');
    expect((await b.ended).signal).toBe('SIGKILL');
    // The waiter held no item lock: only the holder's exists.
    const tiers = [localA, localB, project.shared];
    expect(await itemLocks(project.dir, tiers, project.files)).toEqual([path.relative(project.dir, lockPath(project.shared, held.section, held.file))]);
    expect(await finalFiles(localB)).toEqual([]);

    expect(project.origin.release(urlOf(held))).toBe(1);
    const ra = await a.ended;
    expect(ra.code).toBe(0);
    expect(JSON.parse(ra.stdout).downloads).toBe(3);
    expect(await itemLocks(project.dir, tiers, project.files)).toEqual([]);

    const rb = await runBuilder(['latest', 'cache', '--json'], { ...project.env, G3_LOCAL_CACHE: localB, G3_LOCK_STALE: '3600' });
    expect(rb.code).toBe(0);
    expect(JSON.parse(rb.stdout).hits).toEqual({ local: 0, shared: 3, registry: 0, origin: 0 });
    for (const f of project.files) expect(project.origin.requests(urlOf(f))).toBe(1);
    for (const tier of [localA, localB, project.shared]) {
      expect(await finalFiles(tier)).toEqual(project.files.map(rel).sort());
      expect(await badFinalFiles(tier, project.files)).toEqual([]);
    }
    expect(await tempFiles(project.dir)).toEqual([]);
    expect(await liveLockOwners(project.dir)).toEqual([]);
  });
});

/** A project removed after the test. */
async function newProject(opts: { count: number; size: number }): Promise<Project> {
  p = await makeProject(opts);
  return p;
}

/** A builder run by a test: its child, its stderr so far, and its end. */
interface Running {
  child: ChildProcess;
  stderr: () => string;
  ended: Promise<RunResult>;
}

function start(args: string[], env: Record<string, string>): Running {
  const child = startBuilder(args, env);
  kids.push(child);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  return { child, stderr: () => stderr, ended: collect(child) };
}

// A held download must not time out on the client while the test works.
function holdEnv(project: Project): Record<string, string> {
  return { ...project.env, G3_HTTP_TIMEOUT: '600' };
}

const urlOf = (f: TestFile) => `/${f.section}/${f.file}`;
const rel = (f: TestFile) => path.join(f.section, f.file);
const reEscape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Wait until `cond` gives a value. The poll only paces the looking: the outcome
 * never depends on how long anything takes. A builder that ends first, or a
 * minute without the condition, fails the test with the builder's stderr.
 */
async function waitUntil<T>(what: string, cond: () => Promise<T | undefined>, runs: Running[]): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const got = await cond();
    if (got !== undefined) return got;
    for (const r of runs) {
      if (r.child.exitCode !== null || r.child.signalCode !== null) throw new Error(`builder ${r.child.pid} ended before ${what}:\n${r.stderr()}`);
    }
    if (Date.now() > deadline) throw new Error(`no ${what} within a minute:\n${runs.map((r) => r.stderr()).join('\n')}`);
    await sleep(20);
  }
}

function waitForLine(run: Running, re: RegExp, others: Running[]): Promise<true> {
  return waitUntil(`a line matching ${re}`, async () => (re.test(run.stderr()) ? true : undefined), [run, ...others]);
}

/** Wait until the origin holds `held` for `run` and the held bytes are in its temporary file; returns that file. */
async function waitForPartial(project: Project, run: Running, held: TestFile, local: string): Promise<string> {
  let holding = false;
  void project.origin.held(urlOf(held)).then(
    () => {
      holding = true;
    },
    () => undefined,
  );
  const pid = run.child.pid as number;
  return waitUntil(`a partial download of ${rel(held)} by pid ${pid}`, async () => {
    if (!holding) return undefined;
    const tmp = await partialOf(local, held, pid);
    const size = tmp ? (await stat(tmp).catch(() => undefined))?.size : undefined;
    return size === HOLD_BYTES ? tmp : undefined;
  }, [run]);
}

/** SIGKILL `run` in the middle of downloading `held`; returns its partial temporary file. */
async function killMidDownload(project: Project, run: Running, held: TestFile, local: string): Promise<string> {
  const partial = await waitForPartial(project, run, held, local);
  run.child.kill('SIGKILL');
  expect((await run.ended).signal).toBe('SIGKILL');
  // It died while the origin still held the rest: the file stays partial, and hidden.
  expect((await stat(partial)).size).toBe(HOLD_BYTES);
  expect(path.basename(partial).startsWith('.')).toBe(true);
  return partial;
}

/** The hidden temporary file of `f` that process `pid` writes in the tier `root`. */
async function partialOf(root: string, f: TestFile, pid: number): Promise<string | undefined> {
  const dir = path.join(root, f.section);
  const name = (await readdir(dir).catch(() => [] as string[])).find((n) => n.startsWith(`.${f.file}.tmp-${pid}-`));
  return name === undefined ? undefined : path.join(dir, name);
}

/** The pid recorded in the lock of `f` in the tier `root`, if the lock exists. */
async function lockOwner(root: string, f: TestFile): Promise<number | undefined> {
  const text = await readFile(path.join(lockPath(root, f.section, f.file), 'owner.json'), 'utf8').catch(() => undefined);
  return text === undefined ? undefined : (JSON.parse(text) as { pid: number }).pid;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Item locks that exist in any of `tiers`, relative to `base` (left by killed builders, or held). */
async function itemLocks(base: string, tiers: string[], files: TestFile[]): Promise<string[]> {
  const found: string[] = [];
  for (const tier of tiers) {
    for (const f of files) {
      const dir = lockPath(tier, f.section, f.file);
      if (await stat(dir).catch(() => undefined)) found.push(path.relative(base, dir));
    }
  }
  return found.sort();
}

/** Pids of running processes that own a lock (of an item, or of a run) anywhere below `root`. */
async function liveLockOwners(root: string): Promise<number[]> {
  const live: number[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (!e.isDirectory()) continue;
      const dir = path.join(d, e.name);
      if (!e.name.endsWith('.lock')) await walk(dir);
      else {
        const owner = JSON.parse(await readFile(path.join(dir, 'owner.json'), 'utf8').catch(() => '{}')) as { pid?: number };
        if (owner.pid && isAlive(owner.pid)) live.push(owner.pid);
      }
    }
  };
  await walk(root);
  return live;
}
