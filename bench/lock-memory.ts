// `npm run bench:memory -- [--runs N] [--out DIR]`: peak memory of `lock` for
// a template of OS Image Composer's minimal Debian 13 raw image (~320
// packages), measured with `/usr/bin/time -v` ("Maximum resident set size")
// around `./builder.sh oic lock --update` (the project of oic-template.ts). The repository metadata is cached
// by an untimed first run, so every timed run is warm. The mirror is the
// host's (apt sources or G3_MIRROR), as for any lock.
import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { run } from '../src/exec.js';
import { OIC_TARGET, writeOicProject } from './oic-template.js';

/** Fewer image packages than this is not the template measured. */
const MIN_PACKAGES = 300;
const TIME = '/usr/bin/time';

export interface LockMemoryOptions {
  /** The project: <root>/builder.sh is run. */
  root: string;
  /** Where the catalogue, template, lock, cache and work folders go. */
  outDir: string;
  /** Timed (warm) runs. */
  runs: number;
  env: NodeJS.ProcessEnv;
}

export interface LockMemoryResult {
  runs: { seconds: number; maxRssMiB: number }[];
  /** Image packages in the lock. */
  packages: number;
  /** Every check passed (the figures mean nothing otherwise). */
  ok: boolean;
  /** What was checked, passed or not ("FAILED: ..."). */
  checks: string[];
}

/** The peak resident set size `/usr/bin/time -v` reports, in KiB, or undefined. */
export function maxRssKiB(timeOutput: string): number | undefined {
  const m = /^\s*Maximum resident set size \(kbytes\): (\d+)\s*$/m.exec(timeOutput);
  return m ? Number(m[1]) : undefined;
}

function definedOnly(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

/** Write the catalogue and template into `outDir`, warm the metadata, then measure `runs` warm `lock --update` runs. */
export async function measureLockMemory(opts: LockMemoryOptions): Promise<LockMemoryResult> {
  const outDir = path.resolve(opts.outDir);
  // The same project as bench:rebuild's cold build (oic-template.ts).
  const targets = await writeOicProject(opts.root, outDir);
  const lockFile = path.join(outDir, `${OIC_TARGET}.lock.json`);
  const env = {
    ...definedOnly(opts.env),
    G3_TARGETS: targets,
    G3_CACHE_DIR: path.join(outDir, 'cache'),
    G3_WORK_DIR: path.join(outDir, 'work'),
  };
  const builder = path.join(opts.root, 'builder.sh');
  const args = [OIC_TARGET, 'lock', '--update'];
  const checks: string[] = [];
  let ok = true;
  const check = (pass: boolean, what: string): boolean => {
    checks.push(pass ? what : `FAILED: ${what}`);
    ok &&= pass;
    return pass;
  };

  // Untimed: fetches and verifies the repository metadata (and bundles the CLI when its sources changed).
  const warm = await run({ command: builder, args }, { cwd: opts.root, env, reject: false });
  if (!check(warm.exitCode === 0, `warm-up run exits 0${warm.exitCode ? ` (got ${warm.exitCode}: ${lastLine(warm.stderr)})` : ''}`)) {
    return { runs: [], packages: 0, ok, checks };
  }

  const runs: LockMemoryResult['runs'] = [];
  const digests = new Set<string>();
  let packages = 0;
  for (let i = 1; i <= opts.runs; i++) {
    // A lock left by an earlier run must not pass for this run's.
    await rm(lockFile, { force: true });
    const started = performance.now();
    const r = await run({ command: TIME, args: ['-v', builder, ...args] }, { cwd: opts.root, env, reject: false, package: 'time' });
    const seconds = (performance.now() - started) / 1000;
    const kib = maxRssKiB(r.stderr);
    if (!check(r.exitCode === 0, `run ${i} exits 0${r.exitCode ? ` (got ${r.exitCode}: ${lastLine(r.stderr)})` : ''}`)) break;
    if (!check(kib !== undefined, `run ${i}: ${TIME} -v reports the maximum resident set size`)) break;
    const text = await readFile(lockFile, 'utf8').catch(() => '');
    const count = imagePackages(text);
    packages = count;
    if (!check(count >= MIN_PACKAGES, `run ${i}: the lock has ${count} image packages (at least ${MIN_PACKAGES})`)) break;
    digests.add(createHash('sha256').update(text).digest('hex'));
    runs.push({ seconds, maxRssMiB: (kib ?? 0) / 1024 });
  }
  if (runs.length > 1) check(digests.size === 1, `every run wrote the same lock (${[...digests].map((d) => d.slice(0, 12)).join(', ')})`);
  return { runs, packages, ok, checks };
}

function imagePackages(lockText: string): number {
  try {
    const lock = JSON.parse(lockText) as { image?: { packages?: unknown[] } };
    return lock.image?.packages?.length ?? 0;
  } catch {
    return 0;
  }
}

function lastLine(text: string): string {
  return text.trim().split('\n').slice(-1)[0] ?? '';
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { runs: { type: 'string', default: '3' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write('Usage: npm run bench:memory -- [--runs N] [--out DIR]\n');
    return;
  }
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 20) {
    process.stderr.write('--runs must be 1-20\n');
    process.exitCode = 2;
    return;
  }
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const outDir = values.out ?? path.join(root, 'bench', 'out', 'lock-memory');
  const res = await measureLockMemory({ root, outDir, runs, env: process.env });
  for (const c of res.checks) process.stdout.write(`check: ${c}\n`);
  for (const [i, r] of res.runs.entries()) process.stdout.write(`run ${i + 1}: ${r.seconds.toFixed(2)} s, peak RSS ${r.maxRssMiB.toFixed(1)} MiB\n`);
  if (res.runs.length > 0) {
    const peak = Math.max(...res.runs.map((r) => r.maxRssMiB));
    process.stdout.write(
      `lock of ${res.packages} image packages (warm metadata): peak RSS at most ${peak.toFixed(1)} MiB over ${res.runs.length} runs (goal: 300 MB)\n`,
    );
  }
  if (!res.ok) process.exitCode = 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) await main();
