// Machine facts and the Markdown report (stdout, bench/out/results.md and BENCHMARKS.md).
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { execa } from 'execa';
import { type DataSet, KiB, MiB, sizeStats } from './data.js';
import type { Timing } from './measure.js';
import type { Shape } from './origin.js';

export interface Facts {
  date: string;
  nproc: string;
  cpu: string;
  memory: string;
  kernel: string;
  node: string;
  benchFs: string;
  tools: string[];
}

/** The first line of a command's output, cut to `words` words. */
async function firstLine(file: string, args: string[], words = 8): Promise<string> {
  const r = await execa(file, args, { reject: false });
  const line = String(r.stdout).split('\n')[0]?.trim();
  return line ? line.split(/\s+/).slice(0, words).join(' ') : `${file}: unavailable`;
}

/** "ext4 (/dev/vda mounted on /)" for the filesystem holding `dir`. */
export async function filesystemOf(dir: string): Promise<string> {
  const r = await execa('df', ['-P', '-T', dir], { reject: false });
  const fields = String(r.stdout).split('\n')[1]?.trim().split(/\s+/) ?? [];
  if (fields.length < 7) return 'unknown';
  return `${fields[1]} (${fields[0]} mounted on ${fields[6]})`;
}

async function memAvailable(): Promise<number | undefined> {
  const text = await readFile('/proc/meminfo', 'utf8').catch(() => '');
  const m = /^MemAvailable:\s+(\d+) kB/m.exec(text);
  return m ? Number(m[1]) * 1024 : undefined;
}

/** Facts about the machine, taken before the benchmark starts. */
export async function machineFacts(benchDir: string): Promise<Facts> {
  const gib = (n: number) => `${(n / 1024 ** 3).toFixed(1)} GiB`;
  const avail = await memAvailable();
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    nproc: await firstLine('nproc', []),
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    memory: `${gib(os.totalmem())} total, ${gib(os.freemem())} free${avail === undefined ? '' : `, ${gib(avail)} available`}`,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    benchFs: await filesystemOf(benchDir),
    tools: await Promise.all([
      firstLine('wget', ['--version'], 3),
      firstLine('curl', ['--version'], 2),
      firstLine('sha256sum', ['--version']),
      firstLine('cp', ['--version']),
      firstLine('bash', ['--version']),
    ]),
  };
}

/** A measured command, with how it is shown and how many bytes it moves. */
export interface Measured extends Timing {
  scenario: string;
  display: string;
  bytes?: number;
}

/** One ratio line: a g3-composer command against a baseline. */
export interface Pair {
  scenario: string;
  g3: Measured;
  base: Measured;
}

export interface ReportInput {
  facts: Facts;
  command: string;
  /** The main data set (absent when `--only` left out scenarios 1 to 3b). */
  ds?: DataSet;
  /** The shaped scenario's data set and origin, when it ran. */
  shaped?: { ds: DataSet; shape: Shape };
  runs: number;
  workers: number;
  seed: number;
  crossFs: string;
  pairs: Pair[];
  timings: Measured[];
  checks: string[];
}

const secs = (s: number) => (s < 0.1 ? `${(s * 1000).toFixed(1)} ms` : `${s.toFixed(2)} s`);
const size = (n: number) => (n >= MiB ? `${(n / MiB).toFixed(1)} MiB` : `${(n / KiB).toFixed(0)} KiB`);

/** "0.25 (4.0× faster)": g3-composer's median over the baseline's. */
export function ratioCell(g3: number, base: number): string {
  const r = g3 / base;
  const times = (x: number) => (x >= 10 ? x.toFixed(0) : x.toFixed(1));
  const how = r <= 1 ? `${times(1 / r)}× faster` : `${times(r)}× slower`;
  return `${r >= 10 ? r.toFixed(0) : r.toFixed(2)} (${how})`;
}

/** The results table (also printed on its own). */
export function resultsTable(pairs: readonly Pair[]): string {
  const lines = [
    '| Scenario | g3-composer | median | Baseline | median | ratio (g3-composer / baseline) |',
    '|---|---|---:|---|---:|---:|',
    ...pairs.map(
      (p) =>
        `| ${p.scenario} | ${p.g3.display} | ${secs(p.g3.median)} | ${p.base.display} | ${secs(p.base.median)} | ${ratioCell(p.g3.median, p.base.median)} |`,
    ),
  ];
  return lines.join('\n');
}

function timingsTable(ts: readonly Measured[]): string {
  const rate = (t: Measured) => (t.bytes ? `${(t.bytes / MiB / t.median).toFixed(0)} MiB/s` : '');
  return [
    '| Scenario | Command | runs | median | min – max | throughput |',
    '|---|---|---|---:|---:|---:|',
    ...ts.map(
      (t) =>
        `| ${t.scenario} | ${t.display} | ${t.seconds.map((s) => s.toFixed(3)).join(', ')} | ${secs(t.median)} | ${secs(t.min)} – ${secs(t.max)} | ${rate(t)} |`,
    ),
  ].join('\n');
}

/** The whole BENCHMARKS.md document. */
export function renderDocument(r: ReportInput): string {
  const f = r.facts;
  const data = (ds: DataSet) => {
    const st = sizeStats(ds);
    return `${ds.items.length} files, ${size(ds.totalBytes)} in all (sizes ${size(st.min)} – ${size(st.max)}, median ${size(st.median)}; log-normal, seed ${r.seed})`;
  };
  const dataLines = [
    r.ds && `- **Data:** ${data(r.ds)}, random bytes (AES-CTR keystream, incompressible), catalogued as target \`bench\` with sha256 and size.`,
    r.shaped && `- **Shaped data (1c):** ${data(r.shaped.ds)}, made the same way.`,
  ].filter(Boolean);
  const shapedOrigin = r.shaped
    ? ` For 1c a second one, shaped like a distant mirror: ${r.shaped.shape.latencyMs} ms before every answer's headers and at most ${r.shaped.shape.rateBytesPerSecond} bytes/s on each connection (a token bucket per socket).`
    : '';
  return `# Benchmarks

The g3-cache (\`./builder.sh <target> cache\`, which runs the esbuild bundle of builder.ts) against what g3 did and against
plain tools near the machine's limit, measured side by side in one run of
\`${r.command}\` (\`bench/run.ts\`). This file is written by that command.

## Set-up

- **Date:** ${f.date}
- **Machine:** nproc ${f.nproc}; ${f.cpu}; memory ${f.memory}; ${f.kernel}; Node ${f.node}
- **Bench directory** (\`bench/out\`, local and shared tiers, baselines' targets): ${f.benchFs}
- **Cross-filesystem shared tier:** ${r.crossFs}
- **Tools:** ${f.tools.join('; ')}
${dataLines.join('\n')}
- **Origin:** \`test/support/origin-cli.ts\`, a separate Node process on 127.0.0.1 serving the files from disk.${shapedOrigin}
- **Method:** each command ran ${r.runs} times, round-robin within its scenario; the median is reported. Before every run its target directories are emptied and \`sync\` flushes dirty pages (both untimed). Times are wall-clock around the child process, so g3-composer's include starting Node and loading the bundle (see the start-up floor). g3-composer ran with \`--workers ${r.workers} --json\`; the curl baseline with \`xargs -P${r.workers}\`.

## Results

Ratio below 1: g3-composer is faster.

${resultsTable(r.pairs)}

## All timings

${timingsTable(r.timings)}

## What every run was checked for

A benchmark that measures a failing command is worthless, so the run aborts if any of these fails:

${r.checks.map((c) => `- ${c}`).join('\n')}

## Reading the numbers

- g3-composer does more than the baselines: it streams every download through SHA256 and checks its size,
  writes to a temporary name, fsyncs the file before the atomic rename (and each directory once at the end), writes a
  verification stamp, takes a per-item lock, and links each download into the shared tier. wget, curl and
  cp verify nothing and leave their data unflushed in the page cache when they exit.
- Everything fits in RAM, so reads (origin files, warm checks, shared tier) come from the page cache:
  this measures CPU and system-call cost, not the disk.
- The origin of scenarios 1 to 3b is on 127.0.0.1: there is no latency per request. Against a real mirror a serial
  wget loop pays a round trip (or several) per file, so parallel downloads gain more there; scenario 1c adds a
  latency and a bandwidth limit per connection to show that.
- Warm checks are dominated by process start-up (Node loading the bundle); compare them with the start-up floor.
`;
}
