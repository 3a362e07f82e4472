// Rebuilds and the cold path, side by side in one run (part of `npm run bench`,
// or alone: `npm run bench:rebuild -- [--runs N] [--baseline REV] [--only LIST] [--no-record]`):
//   unchanged  the default template's first build (empty caches, no images) against
//              unchanged builds (the output cache) and one `--rebuild` (the stages)
//   check      a warm `cache --check` of the default template against `builder.sh --help`
//   oic        a cold build of a template with the facts of OS Image Composer's minimal
//              Debian 13 template (about 320 packages, raw.gz and vhdx) by this tree and by
//              the tree at REV (the commit before issue 18's work), package cache warm
// Every figure is checked before it is kept: exit codes, what each build says it
// did, and the outputs' bytes (the unchanged builds' images equal the first's; each
// cold build's raw.gz and vhdx hold the same disk).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, readFile, rm, symlink, utimes } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createGunzip } from 'node:zlib';
import { run } from '../src/exec.js';
import { hashFile } from '../src/fs/hash.js';
import { BenchFailure, coldDocker, jsonOf, median, type Run, timedBuilder, warmBuilder } from './measure.js';
import { OIC_TARGET, writeOicProject } from './oic-template.js';
import { benchProject } from './project.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, 'bench', 'out', 'rebuild');
const PROVIDER = 'debian-debian13-x86_64';
const DOCKER = '/usr/bin/docker';
/** One SOURCE_DATE_EPOCH for every build, so the two trees' images can be compared byte for byte. */
const EPOCH = '1767225600';
/** The commit before issue 18's changes: "today's" tree for the cold build. */
export const DEFAULT_BASELINE = 'd9abd58';
export const HEADING = '## Rebuilds and the cold path';

interface Artifact {
  file: string;
  path: string;
  type: string;
  compression?: string;
  sha256: string;
  size: number;
}
interface BuildJson {
  seconds: number;
  reused?: { image: string };
  cache: { downloads: number; bytesDownloaded: number };
  compose: { artifacts: Artifact[]; timings: Record<string, number>; installed: string; snapshot: string; packages: number };
}

const check = (ok: boolean, what: string) => {
  if (!ok) throw new BenchFailure(what);
};

const built = (r: Run, what: string) => jsonOf<BuildJson>(r, what);

const sameArtifacts = (a: BuildJson, b: BuildJson) =>
  JSON.stringify(a.compose.artifacts.map((x) => [x.file, x.sha256])) === JSON.stringify(b.compose.artifacts.map((x) => [x.file, x.sha256]));

export interface UnchangedResult {
  first: { seconds: number; downloads: number; mib: number; timings: Record<string, number> };
  unchanged: number[];
  rebuild: { seconds: number; timings: Record<string, number> };
  check: number[];
  help: number[];
}

/** The default template: first build, unchanged builds (output cache), one --rebuild; warm `cache --check` against the start-up floor. */
async function unchangedAndCheck(runs: number, only: Set<string>): Promise<UnchangedResult> {
  const base = path.join(OUT, 'default');
  const project = await benchProject(ROOT, base);
  const env = {
    G3_TARGETS: path.join(project, 'targets.yml'),
    G3_CACHE_DIR: path.join(base, 'cache'),
    G3_WORK_DIR: path.join(base, 'work'),
    SHARED_G3_CACHE_PATH: '',
    G3_DOCKER_CLIENT: DOCKER,
    SOURCE_DATE_EPOCH: EPOCH,
  };
  await coldDocker(DOCKER, [`g3-composer/base:${PROVIDER}`, 'g3-composer/composer:bench', 'g3-composer/g3-minimal:bench']);
  await warmBuilder(ROOT);
  process.stderr.write('rebuild: first build of the default template (cold) ...\n');
  const firstRun = await timedBuilder(ROOT, ['bench', 'build', '--json'], env);
  const first = built(firstRun, 'the first build');
  check(first.cache.downloads > 0 && !first.reused, 'the first build downloaded nothing or reused outputs: it was not cold');
  const unchanged: number[] = [];
  const checkRuns: number[] = [];
  const help: number[] = [];
  for (let i = 0; i < runs; i++) {
    if (only.has('unchanged')) {
      process.stderr.write(`rebuild: unchanged build ${i + 1}/${runs} ...\n`);
      const r = await timedBuilder(ROOT, ['bench', 'build', '--json'], env);
      const j = built(r, 'an unchanged build');
      check(j.reused?.image === 'kept', `an unchanged build did not answer from its outputs: ${JSON.stringify(j.reused)}`);
      check(sameArtifacts(j, first), "an unchanged build's artifacts are not the first build's");
      unchanged.push(r.seconds);
    }
    if (only.has('check')) {
      const c = await timedBuilder(ROOT, ['bench', 'cache', '--check', '--json'], env);
      check(c.exitCode === 0, `cache --check exited ${c.exitCode}: ${c.stderr.slice(-800)}`);
      const doc = JSON.parse(c.stdout) as { ok?: boolean; items?: number; needsRefresh?: unknown[] };
      check(doc.ok === true && (doc.items ?? 0) > 0 && doc.needsRefresh?.length === 0, `cache --check of a warm cache is not ok: ${c.stdout.slice(0, 400)}`);
      checkRuns.push(c.seconds);
      const h = await timedBuilder(ROOT, ['--help'], env);
      check(h.exitCode === 0 && h.stdout.includes('Usage'), '--help failed');
      help.push(h.seconds);
    }
  }
  process.stderr.write('rebuild: --rebuild (the stages, from the installed-package snapshot) ...\n');
  const rb = await timedBuilder(ROOT, ['bench', 'build', '--json', '--rebuild'], env);
  const rj = built(rb, 'the --rebuild build');
  check(!rj.reused && rj.compose.installed === 'reused', `--rebuild did not run the stages from the snapshot: ${rj.compose.installed}`);
  check(sameArtifacts(rj, first), "--rebuild's artifacts differ from the first build's: not reproducible");
  return {
    first: { seconds: firstRun.seconds, downloads: first.cache.downloads, mib: first.cache.bytesDownloaded / 2 ** 20, timings: first.compose.timings },
    unchanged,
    rebuild: { seconds: rb.seconds, timings: rj.compose.timings },
    check: checkRuns,
    help,
  };
}

/** SHA256 of what a .gz file decompresses to. */
async function gunzipSha(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file).pipe(createGunzip())) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** A checkout of `rev` beside the benchmark, with this tree's dependencies when its package-lock.json is the same. */
async function baselineTree(rev: string): Promise<string> {
  const dir = path.join(OUT, `tree-${rev}`);
  await run({ command: 'git', args: ['-C', ROOT, 'worktree', 'remove', '--force', dir] }, { reject: false });
  await rm(dir, { recursive: true, force: true });
  await run({ command: 'git', args: ['-C', ROOT, 'worktree', 'add', '--force', '--detach', dir, rev] });
  const same = (await readFile(path.join(dir, 'package-lock.json'), 'utf8')) === (await readFile(path.join(ROOT, 'package-lock.json'), 'utf8'));
  if (same) {
    // A real copy (npm would empty a linked folder), marked installed after the lock file's checkout time.
    await run({ command: 'cp', args: ['-a', path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules')] });
    const now = new Date();
    await utimes(path.join(dir, 'node_modules', '.package-lock.json'), now, now);
  }
  if (await lstat(path.join(ROOT, '.tools')).catch(() => undefined)) await symlink(path.join(ROOT, '.tools'), path.join(dir, '.tools'));
  return dir;
}

export interface OicResult {
  packages: number;
  baseline: { rev: string; seconds: number; timings: Record<string, number> };
  now: { seconds: number; timings: Record<string, number> };
  rawSha256: { baseline: string; now: string };
}

/** The OS Image Composer minimal template's cold build, by the tree at `rev` and by this one. */
async function oicCold(rev: string): Promise<OicResult> {
  const base = path.join(OUT, 'oic');
  await rm(base, { recursive: true, force: true });
  const catalogue = await writeOicProject(ROOT, path.join(base, 'project'));
  const env = (tree: string) => ({
    G3_TARGETS: catalogue,
    G3_CACHE_DIR: path.join(base, 'cache'),
    G3_WORK_DIR: path.join(base, `work-${tree}`),
    SHARED_G3_CACHE_PATH: '',
    G3_DOCKER_CLIENT: DOCKER,
    SOURCE_DATE_EPOCH: EPOCH,
  });
  process.stderr.write(`rebuild: OS Image Composer minimal template: lock and cache (untimed), tree ${rev} checked out ...\n`);
  for (const cmd of [['lock'], ['cache']]) {
    const r = await timedBuilder(ROOT, [OIC_TARGET, ...cmd], env('now'));
    check(r.exitCode === 0, `${OIC_TARGET} ${cmd[0]} exited ${r.exitCode}: ${r.stderr.slice(-1500)}`);
  }
  const old = await baselineTree(rev);
  try {
    const warm = await timedBuilder(old, ['--help'], env(rev));
    check(warm.exitCode === 0, `the tree at ${rev} does not start: ${warm.stderr.slice(-800)}`);
    const images = [`g3-composer/base:${PROVIDER}`, `g3-composer/composer:${OIC_TARGET}`, `g3-composer/minimal-os-image-debian:${OIC_TARGET}`];
    const cold = async (tree: string, label: string) => {
      await coldDocker(DOCKER, images);
      await rm(path.join(base, `work-${label}`), { recursive: true, force: true });
      process.stderr.write(`rebuild: OS Image Composer minimal template, cold build by ${label} ...\n`);
      const r = await timedBuilder(tree, [OIC_TARGET, 'build', '--json'], env(label));
      return { r, j: built(r, `the cold build by ${label}`) };
    };
    const a = await cold(old, rev);
    const b = await cold(ROOT, 'now');
    // Each tree's outputs hold one disk: raw.gz decompresses to what the vhdx holds. (The two trees' disks differ:
    // this one's install leaves fewer files behind, the delta route's normalisation.)
    const shas: string[] = [];
    for (const [label, { j }] of [[rev, a] as const, ['now', b] as const]) {
      const gz = j.compose.artifacts.find((x) => x.compression === 'gz');
      const vhdx = j.compose.artifacts.find((x) => x.type === 'vhdx');
      check(gz !== undefined && vhdx !== undefined, `the cold build by ${label} did not make raw.gz and vhdx`);
      const raw = path.join(base, `${label}-from-vhdx.raw`);
      await run({ command: 'qemu-img', args: ['convert', '-f', 'vhdx', '-O', 'raw', (vhdx as Artifact).path, raw] });
      const fromVhdx = await hashFile(raw);
      await rm(raw, { force: true });
      const fromGz = await gunzipSha((gz as Artifact).path);
      check(fromVhdx.size === 4 * 2 ** 30 && fromVhdx.sha256 === fromGz, `the cold build by ${label}: raw.gz and vhdx hold different disks`);
      shas.push(fromGz);
    }
    check(a.j.compose.packages === b.j.compose.packages, `the two trees installed ${a.j.compose.packages} and ${b.j.compose.packages} packages`);
    return {
      packages: b.j.compose.packages,
      baseline: { rev, seconds: a.r.seconds, timings: a.j.compose.timings },
      now: { seconds: b.r.seconds, timings: b.j.compose.timings },
      rawSha256: { baseline: shas[0] as string, now: shas[1] as string },
    };
  } finally {
    await run({ command: 'git', args: ['-C', ROOT, 'worktree', 'remove', '--force', old] }, { reject: false });
  }
}

export interface RebuildResult {
  unchanged?: UnchangedResult;
  oic?: OicResult;
}

export async function rebuildBench(o: { runs: number; baseline: string; only: Set<string> }): Promise<RebuildResult> {
  await mkdir(OUT, { recursive: true });
  const result: RebuildResult = {};
  if (o.only.has('unchanged') || o.only.has('check')) result.unchanged = await unchangedAndCheck(o.runs, o.only);
  if (o.only.has('oic')) result.oic = await oicCold(o.baseline);
  return result;
}

const s = (x: number) => (x < 1 ? `${(x * 1000).toFixed(0)} ms` : `${x.toFixed(1)} s`);
const goal = (ratio: number, max: number) => `${ratio.toFixed(2)} (goal ≤ ${max}: ${ratio <= max ? 'met' : 'NOT met'})`;
const stages = (t: Record<string, number>) =>
  Object.entries(t)
    .map(([k, v]) => `${k} ${v.toFixed(1)} s`)
    .join(', ');

/** The rows of the section's table and the notes under it. */
export function rebuildRows(r: RebuildResult): { rows: string[]; notes: string[] } {
  const rows: string[] = [];
  const notes: string[] = [];
  const u = r.unchanged;
  if (u?.unchanged.length) {
    const m = median(u.unchanged);
    rows.push(
      `| unchanged \`build\` (output cache: stamps checked, nothing built) vs the first build (empty caches, ${u.first.downloads} downloads, ${u.first.mib.toFixed(0)} MiB, images made) | ${s(m)} | ${s(u.first.seconds)} | ${goal(m / u.first.seconds, 0.1)} |`,
    );
    rows.push(
      `| for reference: \`build --rebuild\` (every stage from the installed-package snapshot, same bytes as the first build) vs the first build | ${s(u.rebuild.seconds)} | ${s(u.first.seconds)} | ${(u.rebuild.seconds / u.first.seconds).toFixed(2)} |`,
    );
    notes.push(
      `Unchanged builds: ${u.unchanged.map((x) => x.toFixed(2)).join(', ')} s. First build's stages: ${stages(u.first.timings)}. \`--rebuild\`'s stages: ${stages(u.rebuild.timings)}.`,
    );
  }
  if (u?.check.length) {
    const c = median(u.check);
    const h = median(u.help);
    rows.push(
      `| warm \`builder.sh bench cache --check\` of the default template vs the start-up floor \`builder.sh --help\` | ${s(c)} | ${s(h)} | ${goal(c / h, 2)} |`,
    );
    notes.push(`\`cache --check\`: ${u.check.map((x) => x.toFixed(3)).join(', ')} s; \`--help\`: ${u.help.map((x) => x.toFixed(3)).join(', ')} s.`);
  }
  const k = r.oic;
  if (k) {
    rows.push(
      `| cold build of the OS Image Composer minimal template (${k.packages} packages; raw.gz and vhdx; package cache warm, no images, empty work folder): this tree vs the tree at ${k.baseline.rev} | ${s(k.now.seconds)} | ${s(k.baseline.seconds)} | ${goal(k.now.seconds / k.baseline.seconds, 0.65)} |`,
    );
    notes.push(
      `OS Image Composer template, stages: this tree: ${stages(k.now.timings)}; tree at ${k.baseline.rev}: ${stages(k.baseline.timings)}. One build each; in each, raw.gz decompresses to the disk the vhdx holds (SHA256 ${k.rawSha256.baseline.slice(0, 16)}… and ${k.rawSha256.now.slice(0, 16)}…: this tree's install removes dpkg's and debconf's -old backups and clamps shadow's dates, so the disks differ).`,
    );
  }
  return { rows, notes };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '3' },
      baseline: { type: 'string', default: DEFAULT_BASELINE },
      only: { type: 'string', default: 'unchanged,check,oic' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write('Usage: npm run bench:rebuild -- [--runs N] [--baseline REV] [--only unchanged,check,oic]\n');
    return;
  }
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 10) throw new Error('--runs must be 1-10');
  const r = await rebuildBench({ runs, baseline: values.baseline as string, only: new Set((values.only as string).split(',')) });
  const { rows, notes } = rebuildRows(r);
  process.stdout.write(`| Scenario | g3-composer | baseline | ratio |\n|---|---:|---:|---:|\n${rows.join('\n')}\n\n${notes.join('\n\n')}\n`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
