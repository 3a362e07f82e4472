// `npm run bench [-- options]`: the g3-cache against g3's wget loop and plain
// tools, side by side in one run; see BENCHMARKS.md (which this writes).
import { rmSync } from 'node:fs';
import { mkdir, rm, stat, statfs, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { expectCheckOk, expectExit, expectFetches, expectLinked, expectRefresh, expectTree, type RefreshWant } from './checks.js';
import { type DataSet, type Lists, MiB, makeDataSet, writeLists } from './data.js';
import { BenchFailure, type Command, type Run, measureGroup, runOnce } from './measure.js';
import { delta, type OriginProcess, type Stats, startOriginProcess } from './origin.js';
import { filesystemOf, machineFacts, type Measured, type Pair, renderDocument, resultsTable } from './report.js';

const HELP = `Usage: npm run bench -- [options]

  --files N        number of files (default 200)
  --total-mb M     their total size in MiB (default 300)
  --runs R         timed runs of every command (default 3)
  --seed S         seed of sizes and contents (default 1)
  --workers W      g3-composer --workers, and xargs -P for curl (default 8)
  --shm-dir DIR    another filesystem for the copying shared tier (default /dev/shm)
  --keep           keep the data under bench/out (reused by the next run with the same sizes)
  --record         write BENCHMARKS.md even for a non-default size (default: only for the default size)
  --no-record      never write BENCHMARKS.md
  -h, --help       show this help

Example (quick): npm run bench -- --files 20 --total-mb 20`;

interface Options {
  files: number;
  totalBytes: number;
  runs: number;
  seed: number;
  workers: number;
  shmDir: string;
  keep: boolean;
  record: boolean;
  argv: string[];
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      files: { type: 'string', default: '200' },
      'total-mb': { type: 'string', default: '300' },
      runs: { type: 'string', default: '3' },
      seed: { type: 'string', default: '1' },
      workers: { type: 'string', default: '8' },
      'shm-dir': { type: 'string', default: '/dev/shm' },
      keep: { type: 'boolean', default: false },
      record: { type: 'boolean' },
      'no-record': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    process.exit(0);
  }
  const int = (name: string, v: string, min: number, max: number): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < min || n > max) throw new BenchFailure(`--${name} must be a whole number from ${min} to ${max}, not "${v}"`);
    return n;
  };
  const files = int('files', values.files, 1, 100_000);
  const totalMb = int('total-mb', values['total-mb'], 1, 1_000_000);
  const isDefault = files === 200 && totalMb === 300;
  return {
    files,
    totalBytes: totalMb * MiB,
    runs: int('runs', values.runs, 1, 100),
    seed: int('seed', values.seed, 0, 2 ** 31),
    workers: int('workers', values.workers, 1, 64),
    shmDir: values['shm-dir'],
    keep: values.keep,
    record: values['no-record'] ? false : (values.record ?? isDefault),
    argv,
  };
}

const log = (s: string) => process.stderr.write(`${s}\n`);

/** The child environment: no ambient g3 settings, no proxy for the local origin. */
function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('G3_') || k === 'SHARED_G3_CACHE_PATH') delete env[k];
  env.G3_OFFLINE = '0'; // beats a G3_OFFLINE in the project's .env
  env.NO_PROXY = '127.0.0.1,localhost';
  env.no_proxy = env.NO_PROXY;
  return env;
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

async function bench(opts: Options, root: string, out: string, origin: OriginProcess, ds: DataSet, lists: Lists, env: NodeJS.ProcessEnv, shm: string) {
  const n = ds.items.length;
  const builder = path.join(root, 'builder.ts');
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
    display: `\`builder.ts bench cache\`${workers === opts.workers ? '' : ` \`--workers ${workers}\``} (empty local and shared tiers)`,
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
      download('serial wget loop', 'serial `wget -q -O` loop (g3)', dir.wget, 'while read -r file url; do wget -q -O "$1/pool/$file" "$url" || exit 1; done < "$2"', lists.urls),
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
        display: '`builder.ts bench cache --check` (stamps valid)',
        ...g3(dir.local, dir.shared, ['--check']),
        prepare: noFetch,
        check: async (r) => {
          expectCheckOk(r, ds);
          await fetched(0);
        },
      },
      {
        label: 'g3-composer warm refresh',
        display: '`builder.ts bench cache` (warm)',
        ...g3(dir.local, dir.shared, []),
        prepare: noFetch,
        check: refreshed(dir.local, { local: n }, 0),
      },
      {
        label: 'g3-composer --check --verify',
        display: '`builder.ts bench cache --check --verify` (rehash all)',
        bytes: ds.totalBytes,
        ...g3(dir.local, dir.shared, ['--check', '--verify']),
        prepare: noFetch,
        check: async (r) => {
          expectCheckOk(r, ds);
          await fetched(0);
        },
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
        label: 'builder.ts --help',
        display: '`builder.ts --help` (start-up floor, for reference)',
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
        display: '`builder.ts bench cache` (empty local, full shared tier)',
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
          display: `\`builder.ts bench cache\` (empty local, full shared tier in ${opts.shmDir})`,
          bytes: ds.totalBytes,
          ...g3(dir.localX, dir.sharedX, []),
          prepare: async () => {
            await rm(dir.localX, { recursive: true, force: true });
            await snapshot();
          },
          check: refreshed(dir.localX, { shared: n, copied: n }, 0),
        },
        { ...cpSpec('cp -r shared (cross-fs)', `\`cp -r\` of the shared tier in ${opts.shmDir}`, '-r', dir.sharedX, dir.cpx), bytes: ds.totalBytes },
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
      const prime: Command = { label: 'prime the tmpfs shared tier', ...g3(dir.local, dir.sharedX, []), prepare: snapshot, check: refreshed(dir.local, { local: n, writtenBack: n }, 0) };
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

const CHECKS = [
  'every command exited 0; every g3-composer run printed one JSON summary with `ok: true`, the catalogue\'s item count, no failures, missing items or corrupt copies;',
  'cold g3-composer runs: `downloads` = `hits.origin` = N, `bytesDownloaded` = the data set\'s size, `writtenBack` = N; cold wget/curl runs likewise: the origin\'s `/__stats` show every catalogued file fetched exactly once per run, and nothing else;',
  'warm runs (`--check`, `--check --verify`, refresh) and every shared-tier run: the origin served no request at all; the warm refresh reports N local hits and 0 downloads; `--check` reports nothing to refresh;',
  'shared → local: `hits.shared` = N with `linkedFromShared` = N on one filesystem and `copiedFromShared` = N across filesystems; afterwards the local files are (resp. are not) the shared tier\'s inodes;',
  'after every run that fills a directory, each file is there with its catalogued size; after the last cold run and the last cross-filesystem run, every local file is rehashed by the benchmark itself.',
];

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const out = path.join(root, 'bench', 'out');
  const shm = path.join(opts.shmDir, `g3-composer-bench-${process.pid}`);
  const env = childEnv();
  await mkdir(out, { recursive: true });
  const facts = await machineFacts(out);
  log(`machine: nproc ${facts.nproc}, ${facts.memory}, bench/out on ${facts.benchFs}`);
  const originDir = path.join(out, 'origin');
  const ds = await makeDataSet(originDir, opts.files, opts.totalBytes, opts.seed, log);
  const origin = await startOriginProcess(root, originDir, 6 * 3600, env);
  log(`origin ${origin.url} (pid ${origin.pid})`);
  const stop = () => {
    log('interrupted: stopping the origin and removing the tmpfs shared tier');
    rmSync(shm, { recursive: true, force: true });
    void origin.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const lists = await writeLists(out, ds, origin.url);
    const result = await bench(opts, root, out, origin, ds, lists, env, shm);
    const command = ['npm run bench', ...(opts.argv.length ? ['--', ...opts.argv] : [])].join(' ');
    const doc = renderDocument({ facts, command, ds, runs: opts.runs, workers: opts.workers, seed: opts.seed, checks: CHECKS, ...result });
    await writeFile(path.join(out, 'results.md'), doc);
    await writeFile(path.join(out, 'results.json'), JSON.stringify({ facts, options: opts, ...result }, null, 2));
    if (opts.record) await writeFile(path.join(root, 'BENCHMARKS.md'), doc);
    process.stdout.write(`\n${resultsTable(result.pairs)}\n\n`);
    log(`all runs checked. Report: ${opts.record ? 'BENCHMARKS.md and ' : ''}bench/out/results.md`);
  } finally {
    await origin.stop();
    await rm(shm, { recursive: true, force: true });
    if (!opts.keep) {
      for (const d of ['origin', 'g3', 'base']) await rm(path.join(out, d), { recursive: true, force: true });
    }
  }
}

main().catch((err: unknown) => {
  if (err instanceof BenchFailure) log(`\nbenchmark aborted: ${err.message}`);
  else log(`\nbenchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
});
