// The scenarios of the packages benchmark: each step of the packages stage
// (lock = parse + resolve, cold cache, warm cache) beside what a user would run
// with apt, every run checked, every timing kept.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Settings } from '../src/config/load.js';
import { parsePackages } from '../src/deb/packages.js';
import { readLock } from '../src/lock/file.js';
import type { LockFile } from '../src/lock/types.js';
import type { Emit } from '../src/log/events.js';
import type { OpenTarget } from '../src/packages/target.js';
import { compareSets, downloadArgs, type PrivateApt, parseSimulate, type SetDiff, simulateArgs } from './packages-apt.js';
import { expectCache, expectExit, expectFiles, expectNoFetch, jsonOf, sha256List } from './packages-checks.js';
import { baseSeeds, type IndexText, type Loaded, parseAll, resolveImage, timeInProcess } from './packages-inproc.js';
import { type BenchPaths, TARGET } from './packages-target.js';
import { BenchFailure, type Command, measureGroup, type Run, type Timing } from './measure.js';
import type { Measured, Pair } from './report.js';

/** What the scenarios run against. */
export interface PackagesContext {
  root: string;
  paths: BenchPaths;
  settings: Settings;
  target: OpenTarget;
  loaded: Loaded;
  texts: IndexText[];
  apt: PrivateApt;
  /** Child environment without ambient G3 settings. */
  env: NodeJS.ProcessEnv;
  runs: number;
  coldRuns: number;
  log: (s: string) => void;
  emit: Emit;
}

/** Timings and ratio lines so far, in order. */
export class Results {
  readonly timings: Measured[] = [];
  readonly pairs: Pair[] = [];

  add(scenario: string, t: Timing, display: string, bytes?: number): Measured {
    const m: Measured = { ...t, scenario, display, ...(bytes === undefined ? {} : { bytes }) };
    this.timings.push(m);
    return m;
  }

  pair(scenario: string, g3: Measured, base: Measured): void {
    this.pairs.push({ scenario, g3, base });
  }
}

type Spec = Command & { display: string };

const builder = (ctx: PackagesContext, args: string[], display: string, check: (r: Run) => Promise<void>, prepare?: () => Promise<void>): Spec => ({
  label: `builder.sh ${args.slice(0, 2).join(' ')}`,
  display,
  file: path.join(ctx.root, 'builder.sh'),
  args,
  cwd: ctx.root,
  check,
  ...(prepare ? { prepare } : {}),
});

// apt through `env` (`command` starts with apt-get or apt-cache), so the command shown is the one a user would type.
const apt = (ctx: PackagesContext, command: string[], cwd: string, display: string, check: (r: Run) => Promise<void>, prepare?: () => Promise<void>): Spec => ({
  label: command
    .filter((a) => !a.startsWith('-') && !a.includes('='))
    .slice(0, 2)
    .join(' '),
  display,
  file: 'env',
  args: [`APT_CONFIG=${ctx.apt.env.APT_CONFIG}`, ...command],
  cwd,
  check,
  ...(prepare ? { prepare } : {}),
});

const globalFlags = (ctx: PackagesContext, cacheDir: string) => [
  '--json',
  '--targets',
  ctx.paths.targets,
  '--cache-dir',
  cacheDir,
  '--g3-cache',
  ctx.paths.g3Cache,
  '--shared-cache',
  '',
];

async function fresh(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
}

/** 1. Parse + resolve: in-process library calls and `lock` against apt-get install --simulate. */
export async function parseAndResolve(ctx: PackagesContext, res: Results): Promise<{ diff: SetDiff; seeds: string[]; lock: LockFile }> {
  const s = '1. parse + resolve';
  const { plan } = ctx.target;
  const main = ctx.texts.find((t) => t.codename === plan.repos[0]?.codename && t.component === 'main');
  if (!main) throw new BenchFailure('no main index for the first repository of the plan');
  ctx.log(`${s}: in-process, ${ctx.runs} runs each`);
  const parseMain = timeInProcess('parsePackages (main)', ctx.runs, () => parseAll([main]), ctx.log);
  res.add(s, parseMain.timing, `\`parsePackages\` of ${main.codename} ${main.path} (${main.stanzas} stanzas, in-process)`);
  const all = timeInProcess('parsePackages (all indexes)', ctx.runs, () => parseAll(ctx.texts), ctx.log);
  res.add(s, all.timing, `\`parsePackages\` of all ${ctx.texts.length} indexes (${all.result} stanzas, in-process)`);
  const resolved = timeInProcess('resolve', ctx.runs, () => resolveImage(ctx.loaded, plan), ctx.log);
  const ours = resolved.result.packages;
  const resolveM = res.add(s, resolved.timing, `\`resolve\` (${plan.request.packages.length} requested + base required → ${ours.length} packages, in-process)`);
  const both = timeInProcess('parse all + resolve', ctx.runs, () => resolveAfterParse(ctx), ctx.log);
  const bothM = res.add(s, both.timing, '`parsePackages` of all indexes + `resolve` (in-process)');

  const seeds = baseSeeds(ctx.loaded, plan);
  const names = [...new Set([...plan.request.packages, ...seeds])];
  const shown = `${plan.request.packages.length} requested + ${seeds.length} required/essential seeds`;
  let aptInstalls: ReturnType<typeof parseSimulate> = [];
  const simulated = async (r: Run) => {
    expectExit(r);
    const installs = parseSimulate(r.stdout);
    if (installs.length === 0) throw new Error('apt-get --simulate printed no Inst lines');
    if (aptInstalls.length > 0 && installs.length !== aptInstalls.length)
      throw new Error(`apt chose ${installs.length} packages, ${aptInstalls.length} in an earlier run`);
    aptInstalls = installs;
  };
  const lockRun = async (r: Run) => {
    expectExit(r);
    const j = jsonOf<{ status: string; packages: number }>(r);
    if (j.status !== 'written' || j.packages !== ours.length)
      throw new Error(`lock says status=${j.status}, packages=${j.packages}; expected written, ${ours.length}`);
  };
  const specs: Spec[] = [
    builder(
      ctx,
      [TARGET, 'lock', '--update', '--offline', ...globalFlags(ctx, ctx.paths.cacheDir)],
      '`builder.sh <t> lock --update --offline` (process: verify stored metadata, decompress, parse, resolve, write)',
      lockRun,
    ),
    apt(
      ctx,
      ['apt-get', ...simulateArgs(names, false)],
      ctx.paths.work,
      `\`apt-get install --simulate --no-install-recommends\` <${shown}> (reads pkgcache.bin)`,
      simulated,
    ),
    apt(
      ctx,
      ['apt-get', ...simulateArgs(names, true)],
      ctx.paths.work,
      `the same with \`-o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=\` (parses the lists every run)`,
      simulated,
    ),
    apt(
      ctx,
      ['apt-cache', '-q', 'policy', plan.request.packages[0] ?? 'apt'],
      ctx.paths.work,
      '`apt-cache policy <one name>` (apt start-up and pkgcache.bin load, for reference)',
      async (r) => expectExit(r),
    ),
  ];
  ctx.log(`${s}: processes, ${ctx.runs} runs each, round-robin`);
  const [lockT, cachedT, uncachedT] = await measure(ctx, res, s, specs, ctx.runs);
  res.pair(s, bothM, uncachedT!);
  res.pair(s, resolveM, cachedT!);
  res.pair(s, lockT!, cachedT!);
  res.pair(s, lockT!, uncachedT!);

  const lock = await readLock(ctx.target.lockFile);
  if (!lock) throw new BenchFailure(`no lock at ${ctx.target.lockFile} after the lock runs`);
  const sameAsLock = compareSets(
    ours,
    lock.image.packages.map((p) => ({ name: p.name, version: p.version, arch: p.architecture })),
  );
  if (sameAsLock.same !== ours.length || sameAsLock.apt !== ours.length)
    throw new BenchFailure('the lock command chose another set than the in-process resolve (same metadata): the benchmark is broken');
  return { diff: compareSets(ours, aptInstalls), seeds, lock };
}

// The same work as a lock's parse and resolve, from the decompressed texts.
function resolveAfterParse(ctx: PackagesContext): number {
  const byRepo = new Map<string, IndexText[]>();
  for (const t of ctx.texts) byRepo.set(t.repo, [...(byRepo.get(t.repo) ?? []), t]);
  const repos = ctx.loaded.repos.map((r) => ({ ...r, packages: (byRepo.get(r.id) ?? []).flatMap((t) => parsePackages(t.text, t.repo)) }));
  return resolveImage({ ...ctx.loaded, repos }, ctx.target.plan).packages.length;
}

/** 2 and 3. Cold fetch of the locked closure, then warm runs on the same files. */
export async function fetchClosure(ctx: PackagesContext, res: Results, lock: LockFile): Promise<void> {
  const pkgs = lock.image.packages;
  const n = pkgs.length;
  const bytes = pkgs.reduce((sum, p) => sum + p.size, 0);
  const pkgDir = path.join(ctx.paths.fetchCacheDir, 'pkgCache', lock.providerId);
  const cacheArgs = [TARGET, 'cache', ...globalFlags(ctx, ctx.paths.fetchCacheDir)];
  const s2 = '2. cold fetch (network)';
  const cold: Spec[] = [
    builder(
      ctx,
      cacheArgs,
      `\`builder.sh <t> cache\` (empty cache dir, no shared cache, ${ctx.settings.workers} workers)`,
      async (r) => {
        expectCache(r, n, n, bytes);
        await expectFiles(pkgDir, pkgs);
      },
      async () => {
        await rm(ctx.paths.fetchCacheDir, { recursive: true, force: true });
        await rm(ctx.paths.g3Cache, { recursive: true, force: true });
      },
    ),
    apt(
      ctx,
      ['apt-get', ...downloadArgs(pkgs)],
      ctx.paths.aptDownload,
      `\`apt-get download\` <${n} name=version> (one process, empty directory)`,
      async (r) => {
        expectExit(r);
        await expectFiles(ctx.paths.aptDownload, pkgs);
      },
      () => fresh(ctx.paths.aptDownload),
    ),
  ];
  ctx.log(`${s2}: ${n} packages, ${(bytes / 1048576).toFixed(1)} MiB, ${ctx.coldRuns} run(s) each`);
  const [ourCold, aptCold] = await measure(ctx, res, s2, cold, ctx.coldRuns, bytes);
  res.pair(s2, ourCold!, aptCold!);

  const s3 = '3. warm (files present)';
  const list = path.join(ctx.paths.work, 'SHA256SUMS');
  await writeFile(list, sha256List(pkgs));
  const warm: Spec[] = [
    builder(ctx, cacheArgs, '`builder.sh <t> cache` (warm: stamps valid)', async (r) => void expectCache(r, n, 0, 0)),
    builder(ctx, [...cacheArgs, '--verify'], '`builder.sh <t> cache --verify` (rehash every file)', async (r) => void expectCache(r, n, 0, 0)),
    apt(ctx, ['apt-get', ...downloadArgs(pkgs)], ctx.paths.aptDownload, `\`apt-get download\` <${n} name=version> (all files present)`, async (r) =>
      expectNoFetch(r),
    ),
    {
      label: 'sha256sum -c',
      display: '`sha256sum -c --quiet` over the same files',
      file: 'sha256sum',
      args: ['-c', '--quiet', list],
      cwd: pkgDir,
      check: async (r) => expectExit(r),
    },
    {
      label: 'builder.sh --help',
      display: '`builder.sh --help` (start-up floor, for reference)',
      file: path.join(ctx.root, 'builder.sh'),
      args: ['--help'],
      cwd: ctx.root,
      check: async (r) => expectExit(r),
    },
  ];
  ctx.log(`${s3}: ${ctx.runs} runs each, round-robin`);
  const [ourWarm, ourVerify, aptWarm, sums] = await measure(ctx, res, s3, warm, ctx.runs);
  res.pair(s3, ourWarm!, aptWarm!);
  res.pair(s3, ourWarm!, sums!);
  res.pair(s3, ourVerify!, sums!);
}

async function measure(ctx: PackagesContext, res: Results, scenario: string, specs: Spec[], runs: number, bytes?: number): Promise<Measured[]> {
  const timings = await measureGroup(specs, runs, ctx.env, ctx.log);
  return timings.map((t, i) => res.add(scenario, t, specs[i]?.display ?? t.label, bytes));
}
