// The scenarios of the benchmark: the commands measured (g3-composer and its
// baselines), what each run is checked for, and which timings are compared.
import { mkdir, rm, stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import { expectCheckOk, expectExit, expectFetches, expectLinked, expectRefresh, expectTree, type RefreshWant } from './checks.js';
import { bashCommand, coldCommands, fresh, g3Command, type Source, type Spec } from './cold.js';
import { MiB } from './data.js';
import { BenchFailure, type Command, type Run, measureGroup, runOnce } from './measure.js';
import { delta, type Shape, type Stats } from './origin.js';
import { filesystemOf, type Measured, type Pair } from './report.js';
import { DEFAULTS } from '../src/config/schema.js';

/** The scenarios `--only` can pick; warm, shared and shm start from the tiers cold fills. */
/** The `workers` setting's default, which the shaped scenario's main row uses. */
export const DEFAULT_WORKERS = Number(DEFAULTS.workers);

export const SCENARIO_KEYS = ['cold', 'warm', 'shared', 'shm', 'shaped'] as const;
export type ScenarioKey = (typeof SCENARIO_KEYS)[number];

export interface BenchOptions {
  runs: number;
  workers: number;
  shmDir: string;
  only: ReadonlySet<ScenarioKey>;
  /** More g3-composer worker counts to time in the shaped scenario. */
  shapedWorkers: number[];
}

/** Where things are, and what the scenarios run against. */
export interface BenchContext {
  root: string;
  out: string;
  shm: string;
  /** The unshaped origin and the main data set (scenarios 1 to 3b). */
  main?: Source;
  /** The origin shaped like a distant mirror and its data set (scenario 1c). */
  shaped?: Source & { shape: Shape };
  env: NodeJS.ProcessEnv;
  log: (s: string) => void;
}

/** Why `dir` cannot hold a copying shared tier, or undefined when it can. */
async function crossFsProblem(dir: string, benchDir: string, bytes: number): Promise<string | undefined> {
  const st = await stat(dir).catch(() => undefined);
  if (!st?.isDirectory()) return `${dir} does not exist`;
  if (st.dev === (await stat(benchDir)).dev) return `${dir} is on the same filesystem as bench/out`;
  const fs = await statfs(dir);
  if (fs.bavail * fs.bsize < bytes * 1.2) return `${dir} has less than ${Math.ceil((bytes * 1.2) / MiB)} MiB free`;
  return undefined;
}

interface Scenario {
  key: ScenarioKey;
  name: string;
  commands: Spec[];
  /** Ratio lines: [g3-composer label, baseline label]. */
  pairs: Array<[string, string]>;
  /** Untimed set-up before the first run. */
  before?: () => Promise<void>;
  /** Independent, untimed checks of the last g3-composer result, and clean-up. */
  after?: () => Promise<void>;
}

/** "1c. cold refresh, shaped origin (40 ms a request, 8 MB/s a connection)". */
export function shapedName(shape: Shape): string {
  const mb = shape.rateBytesPerSecond / 1e6;
  return `1c. cold refresh, shaped origin (${shape.latencyMs} ms a request, ${Number.isInteger(mb) ? mb : mb.toFixed(1)} MB/s a connection)`;
}

const SHAPED_TAG = 'shaped: ';

/** Run the chosen scenarios; the ratio lines, every timing, and what the copying shared tier was on. */
export async function bench(opts: BenchOptions, ctx: BenchContext): Promise<{ pairs: Pair[]; timings: Measured[]; crossFs: string }> {
  const { env, log } = ctx;
  const scenarios: Scenario[] = [];
  let crossFs = 'not measured';
  if (ctx.main) {
    const built = await mainScenarios(opts, ctx, ctx.main);
    scenarios.push(...built.scenarios);
    crossFs = built.crossFs;
  }
  if (ctx.shaped && opts.only.has('shaped')) scenarios.push(shapedScenario(opts, ctx, ctx.shaped));

  const timings: Measured[] = [];
  const pairs: Pair[] = [];
  const t = (label: string) => {
    const m = timings.find((x) => x.label === label);
    if (!m) throw new Error(`internal: no timing "${label}"`);
    return m;
  };
  for (const s of scenarios) {
    log(`\n${s.name}`);
    await s.before?.();
    const ts = await measureGroup(s.commands, opts.runs, env, log);
    ts.forEach((m, i) => {
      const spec = s.commands[i] as Spec;
      timings.push({ ...m, scenario: s.name, display: spec.display, bytes: spec.bytes });
    });
    await s.after?.();
    for (const [g, b] of s.pairs) pairs.push({ scenario: s.name, g3: t(g), base: t(b) });
  }
  return { pairs, timings, crossFs };
}

/** Scenario 1c: a cold refresh from the origin shaped like a distant mirror, at each worker count asked for. */
function shapedScenario(opts: BenchOptions, ctx: BenchContext, src: Source & { shape: Shape }): Scenario {
  const base = path.join(ctx.out, 'shaped');
  const dirs = {
    local: path.join(base, 'g3', 'local'),
    shared: path.join(base, 'g3', 'shared'),
    wget: path.join(base, 'base', 'wget'),
    curl: path.join(base, 'base', 'curl'),
  };
  const c = coldCommands(ctx.root, src, dirs, opts.workers, SHAPED_TAG);
  // g3-composer at its default worker count (what a user gets), curl at -P${opts.workers}.
  const main = c.g3(DEFAULT_WORKERS);
  const extra = [...new Set(opts.shapedWorkers)].filter((w) => w !== DEFAULT_WORKERS).map((w) => c.g3(w));
  return {
    key: 'shaped',
    name: shapedName(src.shape),
    commands: [main, c.wget, c.curl, ...extra],
    pairs: [[main.label, c.wget.label], [main.label, c.curl.label], ...extra.map((g): [string, string] => [g.label, c.curl.label])],
    after: async () => {
      await expectTree(dirs.local, src.ds, { hash: true });
      await expectLinked(dirs.local, dirs.shared, src.ds, true);
      await rm(path.join(base, 'base'), { recursive: true, force: true });
    },
  };
}

/** Scenarios 1 to 3b against the unshaped origin (those `--only` picked), with their ratio lines and after-checks. */
async function mainScenarios(opts: BenchOptions, ctx: BenchContext, src: Source) {
  const { root, out, shm, env, log } = ctx;
  const { origin, ds, lists } = src;
  const n = ds.items.length;
  const dir = {
    local: path.join(out, 'g3', 'local'),
    shared: path.join(out, 'g3', 'shared'),
    localX: path.join(out, 'g3', 'local-x'),
    wget: path.join(out, 'base', 'wget'),
    curl: path.join(out, 'base', 'curl'),
    cp: path.join(out, 'base', 'cp'),
    cpal: path.join(out, 'base', 'cp-al'),
    cpx: path.join(out, 'base', 'cp-x'),
    sharedX: path.join(shm, 'shared'),
  };
  let snap: Stats = { total: 0, perPath: {} };
  const snapshot = async () => {
    snap = await origin.stats();
  };
  const fetched = async (each: 0 | 1) => expectFetches(delta(snap, await origin.stats()), ds, each);
  const g3 = (local: string, shared: string, extra: string[], workers = opts.workers) => g3Command(root, lists.catalogue, local, shared, workers, extra);
  const sh = (script: string, ...args: string[]) => bashCommand(root, script, ...args);
  // A --check run that found nothing to refresh and fetched nothing.
  const checkedClean = async (r: Run) => {
    expectCheckOk(r, ds);
    await fetched(0);
  };
  const refreshed = (local: string, want: RefreshWant, each: 0 | 1) => async (r: Run) => {
    expectRefresh(r, ds, want);
    await fetched(each);
    await expectTree(local, ds);
  };
  const copied = (to: string) => async (r: Run) => {
    expectExit(r);
    await fetched(0);
    await expectTree(to, ds);
  };

  const scenarios: Scenario[] = [];
  const c = coldCommands(root, src, dir, opts.workers);
  const g3Cold = c.g3(opts.workers);
  const g3Serial = opts.workers === 1 ? [] : [c.g3(1)];
  scenarios.push({
    key: 'cold',
    name: '1. cold refresh',
    commands: [g3Cold, c.wget, c.curl, ...g3Serial],
    pairs: [[g3Cold.label, c.wget.label], [g3Cold.label, c.curl.label], ...g3Serial.map((g): [string, string] => [g.label, c.wget.label])],
    after: async () => {
      await expectTree(dir.local, ds, { hash: true });
      await expectLinked(dir.local, dir.shared, ds, true);
      await rm(path.join(out, 'base'), { recursive: true, force: true });
    },
  });

  const noFetch = async () => snapshot();
  scenarios.push({
    key: 'warm',
    name: '2. warm check',
    pairs: [
      ['g3-composer --check', 'stat-only loop'],
      ['g3-composer --check', 'sha256sum -c'],
      ['g3-composer warm refresh', 'stat-only loop'],
      ['g3-composer warm refresh', 'sha256sum -c'],
      ['g3-composer --check --verify', 'sha256sum -c'],
    ],
    commands: [
      {
        label: 'g3-composer --check',
        display: '`builder.sh bench cache --check` (stamps valid)',
        ...g3(dir.local, dir.shared, ['--check']),
        prepare: noFetch,
        check: checkedClean,
      },
      {
        label: 'g3-composer warm refresh',
        display: '`builder.sh bench cache` (warm)',
        ...g3(dir.local, dir.shared, []),
        prepare: noFetch,
        check: refreshed(dir.local, { local: n }, 0),
      },
      {
        label: 'g3-composer --check --verify',
        display: '`builder.sh bench cache --check --verify` (rehash all)',
        bytes: ds.totalBytes,
        ...g3(dir.local, dir.shared, ['--check', '--verify']),
        prepare: noFetch,
        check: checkedClean,
      },
      {
        label: 'stat-only loop',
        display: 'stat-only bash loop (`test -s` per file, g3)',
        ...sh('cd "$1" && while read -r f; do test -s "$f" || exit 1; done < "$2"', dir.local, lists.files),
        check: async (r) => expectExit(r),
      },
      {
        label: 'sha256sum -c',
        display: '`sha256sum -c` over all files',
        bytes: ds.totalBytes,
        ...sh('cd "$1" && sha256sum -c --quiet --strict "$2"', dir.local, lists.sums),
        check: async (r) => expectExit(r),
      },
      {
        label: 'builder.sh --help',
        display: '`builder.sh --help` (start-up floor, for reference)',
        file: path.join(root, 'builder.sh'),
        args: ['--help'],
        cwd: root,
        check: async (r) => expectExit(r),
      },
    ],
  });

  const cpSpec = (label: string, display: string, flags: string, from: string, to: string): Spec => ({
    label,
    display,
    bytes: flags === '-r' ? ds.totalBytes : undefined,
    ...sh(`cp ${flags} "$1" "$2"`, from, to),
    prepare: async () => {
      await rm(to, { recursive: true, force: true });
      await mkdir(path.dirname(to), { recursive: true });
      await snapshot();
    },
    check: copied(to),
  });
  scenarios.push({
    key: 'shared',
    name: '3. shared → local, same filesystem (hardlinks)',
    pairs: [
      ['g3-composer shared→local (link)', 'cp -r shared'],
      ['g3-composer shared→local (link)', 'cp -al shared'],
    ],
    after: async () => {
      await expectLinked(dir.local, dir.shared, ds, true);
      await rm(path.join(out, 'base'), { recursive: true, force: true });
    },
    commands: [
      {
        label: 'g3-composer shared→local (link)',
        display: '`builder.sh bench cache` (empty local, full shared tier)',
        ...g3(dir.local, dir.shared, []),
        prepare: async () => {
          await rm(dir.local, { recursive: true, force: true });
          await snapshot();
        },
        check: refreshed(dir.local, { shared: n, linked: n }, 0),
      },
      cpSpec('cp -r shared', '`cp -r` of the shared tier', '-r', dir.shared, dir.cp),
      cpSpec('cp -al shared', '`cp -al` of the shared tier (hardlinks)', '-al', dir.shared, dir.cpal),
    ],
  });

  const crossProblem = opts.only.has('shm') ? await crossFsProblem(opts.shmDir, out, ds.totalBytes) : 'not asked for (--only)';
  const xfs = `3b. shared → local, shared tier on ${(await filesystemOf(opts.shmDir)).split(' ')[0]} (copies)`;
  if (!crossProblem) {
    scenarios.push({
      key: 'shm',
      name: xfs,
      pairs: [['g3-composer shared→local (copy)', 'cp -r shared (cross-fs)']],
      before: async () => {
        // Fill the tmpfs shared tier the way builders do: write-back from a full local tier.
        await fresh(dir.sharedX);
        const prime: Command = {
          label: 'prime the tmpfs shared tier',
          ...g3(dir.local, dir.sharedX, []),
          prepare: snapshot,
          check: refreshed(dir.local, { local: n, writtenBack: n }, 0),
        };
        const r = await runOnce(prime, env);
        await prime.check(r).catch((err: Error) => {
          throw new BenchFailure(`${prime.label}: ${err.message}\n${r.stderr}`);
        });
        log(`  (primed ${dir.sharedX} by write-back in ${r.seconds.toFixed(2)} s)`);
      },
      after: async () => {
        await expectTree(dir.localX, ds, { hash: true });
        await expectLinked(dir.localX, dir.sharedX, ds, false);
      },
      commands: [
        {
          label: 'g3-composer shared→local (copy)',
          display: `\`builder.sh bench cache\` (empty local, full shared tier in ${opts.shmDir})`,
          bytes: ds.totalBytes,
          ...g3(dir.localX, dir.sharedX, []),
          prepare: async () => {
            await rm(dir.localX, { recursive: true, force: true });
            await snapshot();
          },
          check: refreshed(dir.localX, { shared: n, copied: n }, 0),
        },
        cpSpec('cp -r shared (cross-fs)', `\`cp -r\` of the shared tier in ${opts.shmDir}`, '-r', dir.sharedX, dir.cpx),
      ],
    });
  } else {
    log(`skipping the cross-filesystem case: ${crossProblem}`);
  }

  const chosen = scenarios.filter((s) => opts.only.has(s.key));
  return { scenarios: chosen, crossFs: crossProblem ? `not measured: ${crossProblem}` : `${opts.shmDir}, ${await filesystemOf(opts.shmDir)}` };
}

/** What every run is checked for (for the report). */
export const CHECKS = [
  "every command exited 0; every g3-composer run printed one JSON summary with `ok: true`, the catalogue's item count, no failures, missing items or corrupt copies;",
  "cold g3-composer runs (1 and 1c): `downloads` = `hits.origin` = N, `bytesDownloaded` = the data set's size, `writtenBack` = N; cold wget/curl runs likewise: the origin's `/__stats` show every catalogued file fetched exactly once per run, and nothing else;",
  'warm runs (`--check`, `--check --verify`, refresh) and every shared-tier run: the origin served no request at all; the warm refresh reports N local hits and 0 downloads; `--check` reports nothing to refresh;',
  "shared → local: `hits.shared` = N with `linkedFromShared` = N on one filesystem and `copiedFromShared` = N across filesystems; afterwards the local files are (resp. are not) the shared tier's inodes;",
  'after every run that fills a directory, each file is there with its catalogued size; after the last cold run and the last cross-filesystem run, every local file is rehashed by the benchmark itself.',
];
