// The build-side parts of `npm run bench` (bench/rebuild.ts, bench/lock-memory.ts)
// and the BENCHMARKS.md section that puts every goal of "rebuilds in seconds"
// side by side: each as a ratio (or a limit) measured in this one run, with every
// run's figures and whether the goal was met.
import path from 'node:path';
import { BenchFailure, median } from './measure.js';
import { ADDED_PACKAGE, type DeltaResult, measureDelta } from './delta.js';
import { measureLockMemory, type LockMemoryResult } from './lock-memory.js';
import { DEFAULT_BASELINE, HEADING, type RebuildResult, rebuildBench, rebuildRows } from './rebuild.js';
import type { Facts, Pair } from './report.js';

/** The build-side scenarios `--only` may name. */
export const BUILD_KEYS = ['unchanged', 'check', 'oic', 'memory', 'delta'] as const;
export type BuildKey = (typeof BUILD_KEYS)[number];

/** Peak RSS of `lock` for the ~320-package template must stay under this (MB as /usr/bin/time's kbytes / 1000). */
const RSS_GOAL_MB = 300;

export interface BuildSide {
  rebuild: RebuildResult;
  memory?: LockMemoryResult;
  delta?: DeltaResult;
}

/** Run the build-side scenarios `only` names. */
export async function buildSide(o: { root: string; runs: number; baseline?: string; only: Set<string>; env: NodeJS.ProcessEnv }): Promise<BuildSide> {
  const rebuild = await rebuildBench({ runs: o.runs, baseline: o.baseline ?? DEFAULT_BASELINE, only: o.only });
  let memory: LockMemoryResult | undefined;
  if (o.only.has('memory')) {
    process.stderr.write('memory: peak RSS of lock for the OS Image Composer minimal template ...\n');
    memory = await measureLockMemory({ root: o.root, outDir: path.join(o.root, 'bench', 'out', 'lock-memory'), runs: o.runs, env: o.env });
    if (!memory.ok) throw new BenchFailure(`lock memory: ${memory.checks.filter((c) => c.startsWith('FAILED')).join('; ')}`);
  }
  let delta: DeltaResult | undefined;
  if (o.only.has('delta')) {
    process.stderr.write(`delta: first build, the template plus ${ADDED_PACKAGE} (delta route), the same lock from scratch ...\n`);
    delta = await measureDelta({ root: o.root, outDir: path.join(o.root, 'bench', 'out', 'delta'), env: o.env });
    const failed = delta.checks.filter((c) => c.startsWith('FAILED'));
    if (failed.length || !delta.identical) throw new BenchFailure(`delta: ${failed.join('; ') || 'the images differ'}`);
  }
  return { rebuild, memory, delta };
}

const goal = (ratio: number, max: number) => `${ratio.toFixed(2)} (goal ≤ ${max}: ${ratio <= max ? 'met' : 'NOT met'})`;
const sec = (x: number) => (x < 1 ? `${(x * 1000).toFixed(0)} ms` : `${x.toFixed(2)} s`);

/** The section: the shaped refresh's pairs from the cache scenarios, then the build side. */
export function goalsSection(o: { facts: Facts; command: string; shaped: Pair[]; side: BuildSide }): string {
  const rows: string[] = [];
  const notes: string[] = [];
  // The first pairs are the default worker count's (scenarios.ts); others follow.
  const curl = o.shaped.find((p) => p.base.label.includes('curl'));
  const wget = o.shaped.find((p) => p.base.label.includes('wget'));
  if (curl && wget) {
    rows.push(
      `| ${curl.scenario}: ${curl.g3.display} vs ${curl.base.display} | ${sec(curl.g3.median)} | ${sec(curl.base.median)} | ${goal(curl.g3.median / curl.base.median, 1.1)} |`,
    );
    rows.push(
      `| ${wget.scenario}: ${wget.g3.display} vs ${wget.base.display} | ${sec(wget.g3.median)} | ${sec(wget.base.median)} | ${goal(wget.g3.median / wget.base.median, 0.25)} |`,
    );
    const others = o.shaped.filter((p) => p !== curl && p !== wget);
    if (others.length)
      notes.push(
        `Other worker counts against curl: ${others.map((p) => `${p.g3.display} ${sec(p.g3.median)} (${(p.g3.median / p.base.median).toFixed(2)})`).join('; ')}.`,
      );
  }
  const built = rebuildRows(o.side.rebuild);
  rows.push(...built.rows);
  notes.push(...built.notes);
  const d = o.side.delta;
  if (d) {
    rows.push(
      `| one package added (\`${ADDED_PACKAGE}\`): the delta route from the first build's installed-package snapshot vs that first build (empty caches, base and composer images made) | ${sec(d.delta)} | ${sec(d.first)} | ${goal(d.delta / d.first, 0.2)} |`,
    );
    rows.push(
      `| for reference: the same lock from an empty work folder (new chroot, every package installed; its image is the delta build's, bit for bit) vs the first build | ${sec(d.scratch)} | ${sec(d.first)} | ${(d.scratch / d.first).toFixed(2)} |`,
    );
    rows.push(
      `| for reference: the delta route vs that build from an empty work folder (the images and the package cache already there) | ${sec(d.delta)} | ${sec(d.scratch)} | ${(d.delta / d.scratch).toFixed(2)} |`,
    );
    notes.push(`Delta: ${d.checks.join('; ')}.`);
  }
  const m = o.side.memory;
  if (m?.runs.length) {
    // /usr/bin/time reports kbytes; the goal is in MB.
    const peak = Math.max(...m.runs.map((r) => (r.maxRssMiB * 1024) / 1000));
    rows.push(
      `| peak RSS of \`builder.sh oic lock --update\` (${m.packages} image packages, metadata cached), \`/usr/bin/time -v\` | ${peak.toFixed(0)} MB | limit ${RSS_GOAL_MB} MB | ${peak <= RSS_GOAL_MB ? 'met' : 'NOT met'} |`,
    );
    notes.push(
      `\`lock\` runs: ${m.runs.map((r) => `${r.seconds.toFixed(1)} s, ${((r.maxRssMiB * 1024) / 1000).toFixed(0)} MB`).join('; ')} (median ${median(m.runs.map((r) => r.seconds)).toFixed(1)} s).`,
    );
  }
  return [
    HEADING,
    '',
    `Command: \`${o.command}\`, ${o.facts.date}, nproc ${o.facts.nproc}, ${o.facts.cpu}, ${o.facts.memory}. Every figure below comes from that one run; each row was checked before it was kept (see bench/rebuild.ts and bench/lock-memory.ts). Ratio below 1: g3-composer takes less time.`,
    '',
    '| Scenario | g3-composer | baseline | ratio |',
    '|---|---:|---:|---:|',
    ...rows,
    '',
    ...notes.flatMap((n) => [n, '']),
  ].join('\n');
}
