// `npm run bench:packages -- [options]`: the packages stage (lock and cache
// on a template target) against apt on the same repositories, side by side in
// one run; writes bench/out/packages.json and its section of BENCHMARKS.md.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { CacheEvent } from '../src/log/events.js';
import { metadataOptions } from '../src/packages/target.js';
import { run } from '../src/exec.js';
import { BenchFailure, runOnce } from './measure.js';
import { updatePrivateApt } from './packages-apt.js';
import { indexTexts, loadAll } from './packages-inproc.js';
import { probeDamage } from './packages-probes.js';
import { recordSection, renderSection } from './packages-report.js';
import { fetchClosure, type PackagesContext, parseAndResolve, Results } from './packages-scenarios.js';
import { benchPaths, benchSettings, openBenchTarget, redactor, writeBenchTarget } from './packages-target.js';
import { machineFacts, resultsTable } from './report.js';

const HELP = `Usage: npm run bench:packages -- [options]

  --runs R         timed runs of every local command (default 5)
  --cold-runs C    runs of each network-bound command, 1 or 2 (default 1; each fetches the whole closure)
  --no-fetch       only scenarios 0 and 1 (metadata, parse + resolve): no package downloads, nothing recorded
  --keep           keep the work directory bench/out/packages (about 2 × the closure)
  --no-record      do not write the section of BENCHMARKS.md
  -h, --help       show this help`;

/** A bad command line: exit 2 with the message and the usage. */
class UsageError extends Error {}

const OPTIONS = {
  runs: { type: 'string', default: '5' },
  'cold-runs': { type: 'string', default: '1' },
  'no-fetch': { type: 'boolean', default: false },
  keep: { type: 'boolean', default: false },
  'no-record': { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h' },
} as const;

function options(argv: string[]) {
  let values: ReturnType<typeof parseArgs<{ args: string[]; options: typeof OPTIONS }>>['values'];
  try {
    values = parseArgs({ args: argv, options: OPTIONS }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const int = (name: string, v: string, max: number) => {
    if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > max) throw new UsageError(`--${name} must be a whole number from 1 to ${max}, not "${v}"`);
    return Number(v);
  };
  return {
    help: values.help === true,
    runs: int('runs', values.runs, 50),
    coldRuns: int('cold-runs', values['cold-runs'], 2),
    keep: values.keep,
    fetch: !values['no-fetch'],
    record: !values['no-record'] && !values['no-fetch'],
    argv,
  };
}

/** The child environment: no ambient g3 settings (the flags say where everything goes). */
function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('G3_') || k === 'SHARED_G3_CACHE_PATH' || k === 'APT_CONFIG') delete env[k];
  env.G3_OFFLINE = '0'; // beats a G3_OFFLINE in the project's .env; lock runs pass --offline
  return env;
}

async function toolLine(command: string, args: string[]): Promise<string> {
  const r = await run({ command, args }, { reject: false }).catch(() => undefined);
  return r?.stdout.split('\n')[0]?.trim() || `${command}: unavailable`;
}

let redact = (s: string) => s;
const log = (s: string) => process.stderr.write(`${redact(s)}\n`);

async function main(): Promise<void> {
  const opts = options(process.argv.slice(2));
  if (opts.help) return void process.stdout.write(`${HELP}\n`);
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const out = path.join(root, 'bench', 'out');
  const paths = benchPaths(path.join(out, 'packages'));
  const env = childEnv();
  await rm(paths.work, { recursive: true, force: true });
  await mkdir(paths.work, { recursive: true });
  const facts = await machineFacts(paths.work);
  facts.tools = await Promise.all([
    toolLine('apt-get', ['--version']),
    toolLine('xz', ['--version']),
    toolLine('sha256sum', ['--version']),
    toolLine('gpgv', ['--version']),
  ]);
  await writeBenchTarget(paths);
  const settings = await benchSettings(root, paths, env);
  if (!settings.mirror || !settings.securityMirror)
    throw new BenchFailure('no Debian mirror configured (G3_MIRROR / G3_SECURITY_MIRROR, or the host apt sources)');
  redact = redactor(settings);
  const emit = (e: CacheEvent) => {
    if (e.type === 'warning' || e.type === 'info') log(`  ${e.type}: ${e.message}`);
  };
  try {
    const target = await openBenchTarget(settings, emit);
    // builder.sh rebuilds its bundle when a source is newer: do that now, untimed, not in the first measured run.
    const warmUp = await runOnce({ label: 'warm-up', file: path.join(root, 'builder.sh'), args: ['--help'], cwd: root, check: async () => undefined }, env);
    if (warmUp.exitCode !== 0) throw new BenchFailure(`builder.sh --help failed (exit ${warmUp.exitCode}): ${warmUp.stderr.trim()}`);
    const res = new Results();
    const s0 = '0. metadata, cold (network)';
    log(`${s0}: our loadRepository × ${target.plan.repos.length} (empty store), then apt-get update (empty lists)`);
    const loaded = await loadAll(target.plan, metadataOptions(settings, emit));
    const one = (label: string, seconds: number) => ({ label, seconds: [seconds], median: seconds, min: seconds, max: seconds });
    const ourMeta = res.add(
      s0,
      one('loadRepository', loaded.seconds),
      `\`loadRepository\` × ${target.plan.repos.length} (fetch, verify, decompress, parse; in-process)`,
    );
    const started = performance.now();
    const apt = await updatePrivateApt(paths.apt, target.plan);
    const aptMeta = res.add(s0, one('apt-get update', (performance.now() - started) / 1000), '`apt-get update` (empty lists, private configuration)');
    res.pair(s0, ourMeta, aptMeta);
    for (const w of apt.warnings) log(`  apt: ${w}`);
    const texts = await indexTexts(loaded, paths.storeDir);
    const ctx: PackagesContext = { root, paths, settings, target, loaded, texts, apt, env, runs: opts.runs, coldRuns: opts.coldRuns, log, emit };

    const { diff, seeds, lock } = await parseAndResolve(ctx, res);
    log(
      `same choice: ours ${diff.ours}, apt ${diff.apt}, same ${diff.same}, only ours ${diff.onlyOurs.length}, only apt ${diff.onlyApt.length}, other version ${diff.versionDiffers.length}`,
    );
    if (!opts.fetch) {
      process.stdout.write(`\n${redact(resultsTable(res.pairs))}\n\n`);
      return;
    }
    await fetchClosure(ctx, res, lock);
    const probes = await probeDamage(ctx, lock);

    const indexBytes = loaded.metadata.reduce((n, m) => n + m.indexes.reduce((k, x) => k + x.size, 0), 0);
    const closureBytes = lock.image.packages.reduce((n, p) => n + p.size, 0);
    const command = opts.argv.length > 0 ? ['npm run bench:packages --', ...opts.argv].join(' ') : 'npm run bench:packages';
    const report = {
      facts,
      command,
      runs: opts.runs,
      coldRuns: opts.coldRuns,
      workers: settings.workers,
      repos: target.plan.repos.map((r) => ({ id: r.id, url: redact(r.url), codename: r.codename, components: r.components })),
      indexes: texts.map((t) => ({ repo: t.repo, path: t.path, bytes: t.bytes, stanzas: t.stanzas })),
      request: target.plan.request.packages,
      seeds: seeds.length,
      closure: { packages: lock.image.packages.length, bytes: closureBytes },
      pairs: res.pairs,
      timings: res.timings,
      diff,
      probes,
      // Both sides' indexes (apt's are about the same size), the closure per cold run and side, the probes' refetch.
      downloadedBytes: 2 * indexBytes + 2 * opts.coldRuns * closureBytes,
    };
    await writeFile(path.join(out, 'packages.json'), redact(`${JSON.stringify(report, null, 2)}\n`));
    const section = redact(renderSection(report));
    if (opts.record) await recordSection(path.join(root, 'BENCHMARKS.md'), section);
    process.stdout.write(`\n${redact(resultsTable(res.pairs))}\n\n`);
    log(`all runs checked. Results: bench/out/packages.json${opts.record ? ' and BENCHMARKS.md' : ''}`);
  } finally {
    if (!opts.keep) await rm(paths.work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  if (err instanceof UsageError) {
    log(`bench/packages.ts: ${err.message}\n\n${HELP}`);
    process.exitCode = 2;
    return;
  }
  if (err instanceof BenchFailure) log(`\nbenchmark aborted: ${err.message}\n(run with --keep to inspect bench/out/packages afterwards)`);
  else log(`\nbenchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
});
