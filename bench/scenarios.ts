// The scenarios of the benchmark: the commands measured (g3-composer and its
// baselines), what each run is checked for, and which timings are compared.
import { mkdir, rm, stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import { expectCheckOk, expectExit, expectFetches, expectLinked, expectRefresh, expectTree, type RefreshWant } from './checks.js';
import { type DataSet, type Lists, MiB } from './data.js';
import { BenchFailure, type Command, type Run, measureGroup, runOnce } from './measure.js';
import { delta, type OriginProcess, type Stats } from './origin.js';
import { filesystemOf, type Measured, type Pair } from './report.js';

export interface BenchOptions {
  runs: number;
  workers: number;
  shmDir: string;
}

/** Where things are, and what the scenarios run against. */
export interface BenchContext {
  root: string;
  out: string;
  shm: string;
  origin: OriginProcess;
  ds: DataSet;
  lists: Lists;
  env: NodeJS.ProcessEnv;
  log: (s: string) => void;
}

async function fresh(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
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
  name: string;
  commands: Spec[];
}
type Spec = Command & { display: string; bytes?: number };

/** Run every scenario; the ratio lines, every timing, and what the copying shared tier was on. */
export async function bench(opts: BenchOptions, ctx: BenchContext): Promise<{ pairs: Pair[]; timings: Measured[]; crossFs: string }> {
  const { root, out, shm, origin, ds, lists, env, log } = ctx;
  const n = ds.items.length;
  const builder = path.join(root, 'builder.sh');
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

  const g3 = (local: string, shared: string, extra: string[], workers = opts.workers) => ({
    file: builder,
    args: ['bench', 'cache', '--targets', lists.catalogue, '--g3-cache', local, '--shared-cache', shared, '--workers', String(workers), '--json', ...extra],
    cwd: root,
  });
  const sh = (script: string, ...args: string[]) => ({ file: 'bash', args: ['-c', script, 'bench', ...args], cwd: root });
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
  const cold = '1. cold refresh';
  const coldG3 = (workers: number): Spec => ({
    label: `g3-composer cold (--workers ${workers})`,
    display: `\`builder.sh bench cache\`${workers === opts.workers ? '' : ` \`--workers ${workers}\``} (empty local and shared tiers)`,
    bytes: ds.totalBytes,
    ...g3(dir.local, dir.shared, [], workers),
    prepare: async () => {
      await rm(dir.local, { recursive: true, force: true });
      await fresh(dir.shared);
      await snapshot();
    },
    check: refreshed(dir.local, { origin: n, writtenBack: n }, 1),
  });
  const download = (label: string, display: string, to: string, script: string, ...args: string[]): Spec => ({
    label,
    display,
    bytes: ds.totalBytes,
    ...sh(script, to, ...args),
    prepare: async () => {
      await fresh(path.join(to, 'pool'));
      await snapshot();
    },
    check: async (r) => {
      expectExit(r);
      await fetched(1);
      await expectTree(to, ds);
    },
  });
  scenarios.push({
    name: cold,
    commands: [
      coldG3(opts.workers),
      download(
        'serial wget loop',
        'serial `wget -q -O` loop (g3)',
        dir.wget,
        'while read -r file url; do wget -q -O "$1/pool/$file" "$url" || exit 1; done < "$2"',
        lists.urls,
      ),
      download(
        `xargs -P${opts.workers} curl`,
        `\`xargs -P${opts.workers} -n2 curl -sf -o\``,
        dir.curl,
        'cd "$1/pool" && xargs -P"$3" -n2 curl -sf -o < "$2"',
        lists.urls,
        String(opts.workers),
      ),
      ...(opts.workers === 1 ? [] : [coldG3(1)]),
    ],
  });

  const warm = '2. warm check';
  const noFetch = async () => snapshot();
  scenarios.push({
    name: warm,
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
        file: builder,
        args: ['--help'],
        cwd: root,
        check: async (r) => expectExit(r),
      },
    ],
  });

  const same = '3. shared → local, same filesystem (hardlinks)';
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
    name: same,
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

  const crossProblem = await crossFsProblem(opts.shmDir, out, ds.totalBytes);
  const xfs = `3b. shared → local, shared tier on ${(await filesystemOf(opts.shmDir)).split(' ')[0]} (copies)`;
  if (!crossProblem) {
    scenarios.push({
      name: xfs,
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

  const timings: Measured[] = [];
  for (const s of scenarios) {
    log(`\n${s.name}`);
    if (s.name === xfs) {
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
    }
    const ts = await measureGroup(s.commands, opts.runs, env, log);
    ts.forEach((t, i) => {
      const spec = s.commands[i] as Spec;
      timings.push({ ...t, scenario: s.name, display: spec.display, bytes: spec.bytes });
    });
    // Independent, untimed checks of the last g3-composer result of each scenario.
    if (s.name === cold) {
      await expectTree(dir.local, ds, { hash: true });
      await expectLinked(dir.local, dir.shared, ds, true);
      await rm(path.join(out, 'base'), { recursive: true, force: true });
    } else if (s.name === same) {
      await expectLinked(dir.local, dir.shared, ds, true);
      await rm(path.join(out, 'base'), { recursive: true, force: true });
    } else if (s.name === xfs) {
      await expectTree(dir.localX, ds, { hash: true });
      await expectLinked(dir.localX, dir.sharedX, ds, false);
    }
  }

  const t = (label: string) => {
    const m = timings.find((x) => x.label === label);
    if (!m) throw new Error(`internal: no timing "${label}"`);
    return m;
  };
  const pair = (scenario: string, g: string, b: string): Pair => ({ scenario, g3: t(g), base: t(b) });
  const g3Cold = `g3-composer cold (--workers ${opts.workers})`;
  const pairs: Pair[] = [
    pair(cold, g3Cold, 'serial wget loop'),
    pair(cold, g3Cold, `xargs -P${opts.workers} curl`),
    ...(opts.workers === 1 ? [] : [pair(cold, 'g3-composer cold (--workers 1)', 'serial wget loop')]),
    pair(warm, 'g3-composer --check', 'stat-only loop'),
    pair(warm, 'g3-composer --check', 'sha256sum -c'),
    pair(warm, 'g3-composer warm refresh', 'stat-only loop'),
    pair(warm, 'g3-composer warm refresh', 'sha256sum -c'),
    pair(warm, 'g3-composer --check --verify', 'sha256sum -c'),
    pair(same, 'g3-composer shared→local (link)', 'cp -r shared'),
    pair(same, 'g3-composer shared→local (link)', 'cp -al shared'),
    ...(crossProblem ? [] : [pair(xfs, 'g3-composer shared→local (copy)', 'cp -r shared (cross-fs)')]),
  ];
  return { pairs, timings, crossFs: crossProblem ? `not measured: ${crossProblem}` : `${opts.shmDir}, ${await filesystemOf(opts.shmDir)}` };
}

/** What every run is checked for (for the report). */
export const CHECKS = [
  "every command exited 0; every g3-composer run printed one JSON summary with `ok: true`, the catalogue's item count, no failures, missing items or corrupt copies;",
  "cold g3-composer runs: `downloads` = `hits.origin` = N, `bytesDownloaded` = the data set's size, `writtenBack` = N; cold wget/curl runs likewise: the origin's `/__stats` show every catalogued file fetched exactly once per run, and nothing else;",
  'warm runs (`--check`, `--check --verify`, refresh) and every shared-tier run: the origin served no request at all; the warm refresh reports N local hits and 0 downloads; `--check` reports nothing to refresh;',
  "shared → local: `hits.shared` = N with `linkedFromShared` = N on one filesystem and `copiedFromShared` = N across filesystems; afterwards the local files are (resp. are not) the shared tier's inodes;",
  'after every run that fills a directory, each file is there with its catalogued size; after the last cold run and the last cross-filesystem run, every local file is rehashed by the benchmark itself.',
];
