// `npm run bench:delta`: one package added to the template. The first build of
// the default template (empty package cache and work folder, the base and
// composer images removed first, as on a fresh machine), then the same
// template plus one package (`file`) in that work folder, which starts from the
// first build's installed-package snapshot and installs only the difference
// (the delta route), then the same lock again from an empty work folder (new
// chroot, every package installed). The delta build's raw image must be the
// from-scratch build's, bit for bit. Writes bench/out/delta.json.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../src/exec.js';
import { hashFile } from '../src/fs/hash.js';
import { coldDocker, jsonOf, timedBuilder, warmBuilder } from './measure.js';
import { benchProject } from './project.js';

/** The package the second template adds: a small leaf of the default template's repositories. */
export const ADDED_PACKAGE = 'file';

interface BuildJson {
  base: { outcome: string };
  compose: { image: string; snapshot: string; installed: string; sourceDateEpoch: number };
}

const PROVIDER = 'debian-debian13-x86_64';

export interface DeltaResult {
  /** Seconds of each whole `build`. */
  first: number;
  delta: number;
  scratch: number;
  /** The delta build's raw image has the from-scratch build's SHA256. */
  identical: boolean;
  /** One line per check, `ok: ...` or `FAILED: ...`, outcomes first, then the SHA256 comparison. */
  checks: string[];
}

/**
 * Time the three builds in `outDir` (made afresh) with the project at `root`;
 * `env` is the base environment (PATH, HOME, ...), the benchmark sets the
 * catalogue, caches and work folders itself.
 */
export async function measureDelta(opts: { root: string; outDir: string; env: NodeJS.ProcessEnv }): Promise<DeltaResult> {
  const project = await benchProject(opts.root, opts.outDir);
  // The second target: the default template plus one package, built into a folder of its own.
  await writeFile(
    path.join(project, 'templates', 'plus.yml'),
    [
      'extends: minimal.yml',
      'target: {os: debian, dist: debian13, arch: x86_64, imageType: raw}',
      'systemConfig:',
      '  name: plus',
      `  packages: [${ADDED_PACKAGE}]`,
      '',
    ].join('\n'),
  );
  const targets = path.join(project, 'targets.yml');
  const catalogue = await run({ command: 'cat', args: [targets] });
  const tools = /^\s+tools: (\[.*\])$/m.exec(catalogue.stdout)?.[1] ?? '[]';
  await writeFile(targets, `${catalogue.stdout}\n  bench-plus:\n    template: templates/plus.yml\n    tools: ${tools}\n`);
  const base = {
    ...opts.env,
    G3_TARGETS: targets,
    G3_CACHE_DIR: path.join(opts.outDir, 'cache'),
    SHARED_G3_CACHE_PATH: '',
    G3_DOCKER_CLIENT: opts.env.G3_DOCKER_CLIENT ?? '/usr/bin/docker',
  };
  const build = async (target: string, workDir: string, epoch?: number): Promise<{ seconds: number; json: BuildJson }> => {
    const env = { ...base, G3_WORK_DIR: workDir, ...(epoch !== undefined ? { SOURCE_DATE_EPOCH: String(epoch) } : {}) };
    process.stderr.write(`${target} build in ${workDir} ...\n`);
    // As a user runs it: builder.sh, the bundled entry point.
    const r = await timedBuilder(opts.root, [target, 'build', '--json'], env);
    return { seconds: r.seconds, json: jsonOf<BuildJson>(r, `${target} build`) };
  };

  const work = path.join(opts.outDir, 'work');
  // The first build as the issue measured it (and as bench/rebuild.ts does): empty caches and work folder, and the
  // base and composer images made. Without this, the first build's time depended on what earlier sections left.
  await coldDocker(base.G3_DOCKER_CLIENT, [
    `g3-composer/base:${PROVIDER}`,
    ...['bench', 'bench-plus'].flatMap((t) => [`g3-composer/composer:${t}`, `g3-composer/g3-minimal:${t}`]),
  ]);
  await warmBuilder(opts.root);
  const first = await build('bench', work);
  // Every later build uses the first one's SOURCE_DATE_EPOCH, so a commit made meanwhile changes nothing.
  const epoch = first.json.compose.sourceDateEpoch;
  const delta = await build('bench-plus', work, epoch);
  const deltaHash = await hashFile(delta.json.compose.image);
  const scratch = await build('bench-plus', path.join(opts.outDir, 'work-scratch'), epoch);
  const scratchHash = await hashFile(scratch.json.compose.image);

  const lockOf = async (target: string) =>
    JSON.parse((await run({ command: 'cat', args: [path.join(project, `${target}.lock.json`)] })).stdout) as {
      image: { packages: Array<{ name: string; version: string; sha256: string }> };
    };
  const had = new Set((await lockOf('bench')).image.packages.map((p) => `${p.name} ${p.version} ${p.sha256}`));
  const added = (await lockOf('bench-plus')).image.packages.filter((p) => !had.has(`${p.name} ${p.version} ${p.sha256}`));
  const check = (ok: boolean, what: string, got: string) => `${ok ? 'ok' : 'FAILED'}: ${what}${ok ? '' : ` (got ${got})`}`;
  const identical = deltaHash.sha256 === scratchHash.sha256;
  const checks = [
    check(
      first.json.compose.installed === 'created' && first.json.base.outcome === 'created',
      'the first build made the base image and installed every package',
      `base image ${first.json.base.outcome}, packages ${first.json.compose.installed}`,
    ),
    check(
      /^delta from [0-9a-f]{16} \(\+\d+ packages\)$/.test(delta.json.compose.installed) &&
        delta.json.compose.installed.endsWith(`(+${added.length} packages)`) &&
        delta.json.compose.snapshot === 'not needed',
      `the build with ${ADDED_PACKAGE} added took the delta route and installed only the ${added.length} new package(s) (${added.map((p) => p.name).join(', ')})`,
      `${delta.json.compose.installed}, chroot ${delta.json.compose.snapshot}`,
    ),
    check(
      scratch.json.compose.installed === 'created' && scratch.json.compose.snapshot === 'created',
      'the same lock from an empty work folder made the chroot and installed every package',
      `${scratch.json.compose.installed}, chroot ${scratch.json.compose.snapshot}`,
    ),
    check(identical, `the delta build's raw image is the from-scratch build's (SHA256 ${scratchHash.sha256.slice(0, 16)})`, deltaHash.sha256.slice(0, 16)),
  ];
  return { first: first.seconds, delta: delta.seconds, scratch: scratch.seconds, identical, checks };
}

async function main(): Promise<void> {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const out = path.join(root, 'bench', 'out', 'delta');
  const r = await measureDelta({ root, outDir: out, env: process.env });
  await writeFile(path.join(root, 'bench', 'out', 'delta.json'), `${JSON.stringify(r, null, 2)}\n`);
  const s = (x: number) => `${x.toFixed(1)} s`;
  process.stdout.write(
    [
      `first build (empty caches and work folder, base and composer images made): ${s(r.first)}`,
      `one package added, delta route: ${s(r.delta)} (${(r.delta / r.first).toFixed(2)} of the first build)`,
      `same lock from scratch: ${s(r.scratch)} (${(r.scratch / r.first).toFixed(2)} of the first build)`,
      ...r.checks,
      '',
    ].join('\n'),
  );
  if (r.checks.some((c) => !c.startsWith('ok'))) process.exitCode = 1;
}

// Run by `npm run bench:delta`; imported (by a benchmark runner), it only exports measureDelta.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
