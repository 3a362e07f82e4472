// `npm run bench [-- options]`: the g3-cache against g3's wget loop and plain
// tools, side by side in one run; see BENCHMARKS.md (which this writes).
import { rmSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { MiB, makeDataSet, writeLists } from './data.js';
import { BenchFailure, runOnce } from './measure.js';
import type { Source } from './cold.js';
import { type OriginProcess, type Shape, startOriginProcess } from './origin.js';
import { machineFacts, renderDocument, resultsTable } from './report.js';
import { bench, CHECKS, SCENARIO_KEYS, type ScenarioKey } from './scenarios.js';
import { BUILD_KEYS, type BuildKey, buildSide, goalsSection } from './goals.js';
import { HEADING } from './rebuild.js';
import { recordSection } from './section.js';

const HELP = `Usage: npm run bench -- [options]

  --files N        number of files (default 200)
  --total-mb M     their total size in MiB (default 300)
  --runs R         timed runs of every command (default 3)
  --seed S         seed of sizes and contents (default 1)
  --workers W      g3-composer --workers, and xargs -P for curl (default 8)
  --shm-dir DIR    another filesystem for the copying shared tier (default /dev/shm)
  --only LIST      run only these scenarios, comma-separated: cold (1), warm (2), shared (3),
                   shm (3b), shaped (1c); warm, shared and shm bring cold along; and the
                   build side (section "Rebuilds and the cold path"): unchanged (first and
                   unchanged builds of the default template), check (warm cache --check
                   against --help), oic (cold build of the OS Image Composer minimal template,
                   this tree against --baseline), memory (peak RSS of its lock), delta (one
                   package added: delta route vs first build vs from scratch) (default: all)
  --baseline REV   the tree the oic scenario compares with (default: the commit before issue 18)
  --latency-ms MS  the shaped origin's delay before every answer (default 40)
  --rate-bytes B   the shaped origin's bandwidth per connection, bytes/s (default 8000000)
  --shaped-files N, --shaped-total-mb M
                   the shaped scenario's data set (default 60 files, 56 MiB)
  --shaped-workers LIST
                   more g3-composer --workers values to time in the shaped scenario,
                   each against curl, e.g. 4,12,16 (default: none)
  --keep           keep the data under bench/out (reused by the next run with the same sizes)
  --record         write BENCHMARKS.md even for a non-default size (default: only for the default size)
  --no-record      never write BENCHMARKS.md
  -h, --help       show this help

Example (quick): npm run bench -- --files 20 --total-mb 20
Example (shaped only): npm run bench -- --only shaped --shaped-workers 4,12,16`;

interface Options {
  files: number;
  totalBytes: number;
  runs: number;
  seed: number;
  workers: number;
  shmDir: string;
  only: Set<ScenarioKey>;
  /** The build-side scenarios (goals.ts). */
  build: Set<BuildKey>;
  baseline?: string;
  shape: Shape;
  shapedFiles: number;
  shapedTotalBytes: number;
  shapedWorkers: number[];
  keep: boolean;
  record: boolean;
  argv: string[];
}

/** A bad command line: exit 2 with the message and the usage. */
class UsageError extends Error {}

const parse = (args: string[]) =>
  parseArgs({
    args,
    options: {
      files: { type: 'string', default: '200' },
      'total-mb': { type: 'string', default: '300' },
      runs: { type: 'string', default: '3' },
      seed: { type: 'string', default: '1' },
      workers: { type: 'string', default: '8' },
      'shm-dir': { type: 'string', default: '/dev/shm' },
      only: { type: 'string' },
      baseline: { type: 'string' },
      'latency-ms': { type: 'string', default: '40' },
      'rate-bytes': { type: 'string', default: '8000000' },
      'shaped-files': { type: 'string', default: '60' },
      'shaped-total-mb': { type: 'string', default: '56' },
      'shaped-workers': { type: 'string', default: '' },
      keep: { type: 'boolean', default: false },
      record: { type: 'boolean' },
      'no-record': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });

function parseOptions(argv: string[]): Options {
  let values: ReturnType<typeof parse>['values'];
  try {
    values = parse(argv).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    process.exit(0);
  }
  const int = (name: string, v: string, min: number, max: number): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < min || n > max) throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, not "${v}"`);
    return n;
  };
  const files = int('files', values.files, 1, 100_000);
  const totalMb = int('total-mb', values['total-mb'], 1, 1_000_000);
  const { only, build } = parseOnly(values.only);
  const shapedFiles = int('shaped-files', values['shaped-files'], 1, 100_000);
  const shapedTotalMb = int('shaped-total-mb', values['shaped-total-mb'], 1, 1_000_000);
  const isDefault = files === 200 && totalMb === 300 && values.only === undefined;
  return {
    files,
    totalBytes: totalMb * MiB,
    runs: int('runs', values.runs, 1, 100),
    seed: int('seed', values.seed, 0, 2 ** 31),
    workers: int('workers', values.workers, 1, 64),
    shmDir: values['shm-dir'],
    only,
    build,
    baseline: values.baseline,
    shape: { latencyMs: int('latency-ms', values['latency-ms'], 0, 60_000), rateBytesPerSecond: int('rate-bytes', values['rate-bytes'], 1, 1e12) },
    shapedFiles,
    shapedTotalBytes: shapedTotalMb * MiB,
    shapedWorkers: values['shaped-workers'] === '' ? [] : values['shaped-workers'].split(',').map((w) => int('shaped-workers', w.trim(), 1, 64)),
    keep: values.keep,
    record: values['no-record'] ? false : (values.record ?? isDefault),
    argv,
  };
}

/** The scenarios `--only` names (all when absent); warm, shared and shm need the tiers cold fills. */
function parseOnly(value: string | undefined): { only: Set<ScenarioKey>; build: Set<BuildKey> } {
  if (value === undefined) return { only: new Set(SCENARIO_KEYS), build: new Set(BUILD_KEYS) };
  const keys = new Set<ScenarioKey>();
  const build = new Set<BuildKey>();
  for (const k of value.split(',').map((x) => x.trim())) {
    if ((BUILD_KEYS as readonly string[]).includes(k)) build.add(k as BuildKey);
    else if ((SCENARIO_KEYS as readonly string[]).includes(k)) keys.add(k as ScenarioKey);
    else throw new UsageError(`--only takes ${[...SCENARIO_KEYS, ...BUILD_KEYS].join(', ')}, not "${k}"`);
  }
  if (keys.has('warm') || keys.has('shared') || keys.has('shm')) keys.add('cold');
  return { only: keys, build };
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

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const out = path.join(root, 'bench', 'out');
  const shm = path.join(opts.shmDir, `g3-composer-bench-${process.pid}`);
  const env = childEnv();
  await mkdir(out, { recursive: true });
  const facts = await machineFacts(out);
  log(`machine: nproc ${facts.nproc}, ${facts.memory}, bench/out on ${facts.benchFs}`);
  const wantsMain = ['cold', 'warm', 'shared', 'shm'].some((k) => opts.only.has(k as ScenarioKey));
  const origins: OriginProcess[] = [];
  // Stay subscribed ('on'): a second Ctrl-C while stopping must not kill us before the clean-up.
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    log('interrupted: stopping the origins and removing the tmpfs shared tier');
    rmSync(shm, { recursive: true, force: true });
    void Promise.all(origins.map((o) => o.stop())).finally(() => process.exit(130));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  /** Make (or reuse) a data set in `dir`, serve it, and write its catalogue and lists into `listDir`. */
  const serve = async (dir: string, listDir: string, files: number, bytes: number, shape?: Shape): Promise<Source> => {
    const ds = await makeDataSet(dir, files, bytes, opts.seed, log);
    const origin = await startOriginProcess(root, dir, 6 * 3600, env, shape);
    origins.push(origin);
    log(
      `origin ${origin.url} (pid ${origin.pid})${shape ? `, shaped: ${shape.latencyMs} ms a request, ${shape.rateBytesPerSecond} bytes/s a connection` : ''}`,
    );
    await mkdir(listDir, { recursive: true });
    return { origin, ds, lists: await writeLists(listDir, ds, origin.url) };
  };
  try {
    // Untimed: builder.sh rebuilds its bundle when a source is newer, which must not land in the first timed run.
    const warmUp = await runOnce({ label: 'warm-up', file: path.join(root, 'builder.sh'), args: ['--help'], cwd: root, check: async () => undefined }, env);
    if (warmUp.exitCode !== 0) throw new BenchFailure(`builder.sh --help exited ${warmUp.exitCode}:\n${warmUp.stderr}`);
    const main = wantsMain ? await serve(path.join(out, 'origin'), out, opts.files, opts.totalBytes) : undefined;
    const shaped = opts.only.has('shaped')
      ? { ...(await serve(path.join(out, 'origin-shaped'), path.join(out, 'shaped'), opts.shapedFiles, opts.shapedTotalBytes, opts.shape)), shape: opts.shape }
      : undefined;
    const result = await bench(opts, { root, out, shm, main, shaped, env, log });
    const command = ['npm run bench', ...(opts.argv.length ? ['--', ...opts.argv] : [])].join(' ');
    const doc = renderDocument({
      facts,
      command,
      ds: main?.ds,
      shaped: shaped && { ds: shaped.ds, shape: shaped.shape },
      runs: opts.runs,
      workers: opts.workers,
      seed: opts.seed,
      checks: CHECKS,
      ...result,
    });
    // The build side: builds, the cold OS Image Composer template, lock's memory (goals.ts), after the cache scenarios.
    const side = opts.build.size > 0 ? await buildSide({ root, runs: opts.runs, baseline: opts.baseline, only: opts.build, env }) : undefined;
    const goals = side && goalsSection({ facts, command, shaped: result.pairs.filter((p) => p.scenario.startsWith('1c.')), side });
    await writeFile(path.join(out, 'results.md'), goals ? `${doc.trimEnd()}\n\n${goals}` : doc);
    await writeFile(
      path.join(out, 'results.json'),
      JSON.stringify({ facts, options: { ...opts, only: [...opts.only], build: [...opts.build] }, ...result, side }, null, 2),
    );
    if (opts.record) {
      // Keep the sections the other benchmarks write (packages, compose, pipeline): everything from the first
      // heading this document does not have.
      const kept = othersSections(await readFile(path.join(root, 'BENCHMARKS.md'), 'utf8').catch(() => ''), doc);
      await writeFile(path.join(root, 'BENCHMARKS.md'), kept ? `${doc.trimEnd()}\n\n${kept}` : doc);
      if (goals) await recordSection(path.join(root, 'BENCHMARKS.md'), HEADING, goals);
    }
    if (goals) process.stdout.write(`\n${goals}\n`);
    process.stdout.write(`\n${resultsTable(result.pairs)}\n\n`);
    log(`all runs checked. Report: ${opts.record ? 'BENCHMARKS.md and ' : ''}bench/out/results.md`);
  } finally {
    await Promise.all(origins.map((o) => o.stop()));
    await rm(shm, { recursive: true, force: true });
    if (!opts.keep) {
      for (const d of ['origin', 'origin-shaped', 'g3', 'base', 'shaped']) await rm(path.join(out, d), { recursive: true, force: true });
    }
  }
}

main().catch((err: unknown) => {
  if (err instanceof UsageError) {
    log(`npm run bench: ${err.message}\n\n${HELP}`);
    process.exitCode = 2;
    return;
  }
  if (err instanceof BenchFailure) log(`\nbenchmark aborted: ${err.message}\n(run with --keep to inspect bench/out afterwards)`);
  else log(`\nbenchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
});

/** The part of `previous` from its first "## " heading that `doc` does not have, to the end ('' when none). */
export function othersSections(previous: string, doc: string): string {
  const own = new Set(doc.split('\n').filter((l) => l.startsWith('## ')));
  const lines = previous.split('\n');
  const first = lines.findIndex((l) => l.startsWith('## ') && !own.has(l));
  return first < 0 ? '' : `${lines.slice(first).join('\n').trimEnd()}\n`;
}
