// `npm run bench [-- options]`: the g3-cache against g3's wget loop and plain
// tools, side by side in one run; see BENCHMARKS.md (which this writes).
import { rmSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { MiB, makeDataSet, writeLists } from './data.js';
import { BenchFailure } from './measure.js';
import { startOriginProcess } from './origin.js';
import { machineFacts, renderDocument, resultsTable } from './report.js';
import { bench, CHECKS } from './scenarios.js';

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
  // Stay subscribed ('on'): a second Ctrl-C while stopping must not kill us before the clean-up.
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    log('interrupted: stopping the origin and removing the tmpfs shared tier');
    rmSync(shm, { recursive: true, force: true });
    void origin.stop().finally(() => process.exit(130));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    const lists = await writeLists(out, ds, origin.url);
    const result = await bench(opts, { root, out, shm, origin, ds, lists, env, log });
    const command = ['npm run bench', ...(opts.argv.length ? ['--', ...opts.argv] : [])].join(' ');
    const doc = renderDocument({ facts, command, ds, runs: opts.runs, workers: opts.workers, seed: opts.seed, checks: CHECKS, ...result });
    await writeFile(path.join(out, 'results.md'), doc);
    await writeFile(path.join(out, 'results.json'), JSON.stringify({ facts, options: opts, ...result }, null, 2));
    if (opts.record) {
      // Keep the sections the other benchmarks write (packages, compose, pipeline): everything from the first
      // heading this document does not have.
      const kept = othersSections(await readFile(path.join(root, 'BENCHMARKS.md'), 'utf8').catch(() => ''), doc);
      await writeFile(path.join(root, 'BENCHMARKS.md'), kept ? `${doc.trimEnd()}\n\n${kept}` : doc);
    }
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
