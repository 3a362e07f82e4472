// `npm run bench:compose -- [--warm-runs N] [--no-record]`: the compose stage.
// First build of the default template (empty package cache, work directory,
// base and composer images, BuildKit cache) against later builds: unchanged
// (installed-package snapshot reused), with the root filesystem on disk
// instead of tmpfs, and without an installed-package snapshot (chroot snapshot
// reused, apt installs); and making the chroot from the cache against plain
// mmdebstrap from the same local repository, in one run. Writes bench/out/compose.json and its section of
// BENCHMARKS.md. It removes g3-composer/base:<provider-id> and prunes Docker's
// build cache to start cold; the next build makes them again.
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { makeLocalRepo } from '../src/compose/rootfs/local-repo.js';
import { LocalRunner } from '../src/docker/runner.js';
import { basePackages, lockSuite } from '../src/compose/rootfs/snapshot.js';
import { run } from '../src/exec.js';
import type { LockFile } from '../src/lock/types.js';
import { jsonOf, median, timedBuilder, warmBuilder } from './measure.js';
import { benchProject } from './project.js';
import { recordSection } from './section.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, 'bench', 'out', 'compose');
const PROVIDER = 'debian-debian13-x86_64';
const HEADING = '## Compose stage';
const DOCKER = '/usr/bin/docker';

interface BuildJson {
  seconds: number;
  cache: { downloads: number; bytesDownloaded: number };
  compose: { snapshot: string; installed: string; timings: Record<string, number> };
  scratch: string;
}

const { values } = parseArgs({
  options: { 'warm-runs': { type: 'string', default: '3' }, 'no-record': { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } },
});
if (values.help) {
  process.stdout.write('Usage: npm run bench:compose -- [--warm-runs N] [--no-record]\n');
  process.exit(0);
}
const warmRuns = Number(values['warm-runs']);
if (!Number.isInteger(warmRuns) || warmRuns < 1 || warmRuns > 10) {
  process.stderr.write('--warm-runs must be 1-10\n');
  process.exit(2);
}

const project = (...p: string[]) => path.join(OUT, 'project', ...p);
const env = {
  ...process.env,
  G3_TARGETS: project('targets.yml'),
  G3_CACHE_DIR: path.join(OUT, 'cache'),
  G3_WORK_DIR: path.join(OUT, 'work'),
  SHARED_G3_CACHE_PATH: '',
  G3_DOCKER_CLIENT: DOCKER,
};

async function timedBuild(...flags: string[]): Promise<{ wall: number; json: BuildJson }> {
  const r = await timedBuilder(ROOT, ['bench', 'build', '--json', ...flags], env);
  return { wall: r.seconds, json: jsonOf<BuildJson>(r, `build ${flags.join(' ')}`) };
}

async function main(): Promise<void> {
  await benchProject(ROOT, OUT);

  // Cold: nothing cached, no images, no build cache.
  await run(
    { command: DOCKER, args: ['rmi', '-f', `g3-composer/base:${PROVIDER}`, 'g3-composer/composer:bench', 'g3-composer/g3-minimal:bench'] },
    { reject: false },
  );
  await run({ command: DOCKER, args: ['builder', 'prune', '-af'] }, { reject: false });
  await warmBuilder(ROOT);
  process.stderr.write('first build (cold) ...\n');
  const first = await timedBuild();
  type Run = { wall: number; json: BuildJson };
  const series = async (what: string, before: () => Promise<void>, ...flags: string[]): Promise<Run[]> => {
    const runs: Run[] = [];
    for (let i = 0; i < warmRuns; i++) {
      await before();
      process.stderr.write(`${what} ${i + 1}/${warmRuns} ...\n`);
      runs.push(await timedBuild(...flags));
    }
    return runs;
  };
  const nothing = async () => undefined;
  const installedDir = path.join(OUT, 'work', PROVIDER, 'chrootbuild', 'installed');
  // --rebuild: these rows time the stages; an unchanged build without it answers from the output cache (bench:rebuild).
  const warm = await series('unchanged build', nothing, '--rebuild');
  const onDisk = await series('unchanged build, --scratch disk', nothing, '--rebuild', '--scratch', 'disk');
  const noInstalled = await series('build without an installed-package snapshot', () => rm(installedDir, { recursive: true, force: true }), '--rebuild');
  if (warm.some((w) => w.json.compose.installed !== 'reused') || noInstalled.some((w) => w.json.compose.snapshot !== 'reused'))
    throw new Error('a later build did not reuse what it should have');

  // The chroot: plain mmdebstrap from a local repository of the same cached packages, on the host.
  const lock = JSON.parse(await readFile(project('bench.lock.json'), 'utf8')) as LockFile;
  const base = basePackages(lock);
  const repo = await makeLocalRepo(new LocalRunner(), {
    dir: path.join(OUT, 'mm-repo'),
    pkgDir: path.join(OUT, 'cache', 'pkgCache', PROVIDER),
    packages: base,
  });
  const mm: number[] = [];
  for (let i = 0; i < warmRuns; i++) {
    const target = path.join(OUT, `mm-root-${i}`);
    const t0 = performance.now();
    await run({
      command: 'mmdebstrap',
      args: ['--variant=custom', `--include=${base.map((p) => p.name).join(',')}`, '--mode=root', '-q', lockSuite(lock), target, repo.copySource],
    });
    mm.push((performance.now() - t0) / 1000);
    await rm(target, { recursive: true, force: true });
  }

  const wall = (runs: Run[]) => median(runs.map((w) => w.wall));
  const warmWall = wall(warm);
  const warmChroot = median(noInstalled.map((w) => w.json.compose.timings.chroot ?? 0));
  const summary = (r: Run) => ({
    wall: r.wall,
    downloads: r.json.cache.downloads,
    timings: r.json.compose.timings,
    snapshot: r.json.compose.snapshot,
    installed: r.json.compose.installed,
    scratch: r.json.scratch,
  });
  const result = {
    first: { ...summary(first), bytes: first.json.cache.bytesDownloaded },
    warm: warm.map(summary),
    onDisk: onDisk.map(summary),
    noInstalled: noInstalled.map(summary),
    mmdebstrap: mm,
    basePackages: base.length,
  };
  await writeFile(path.join(ROOT, 'bench', 'out', 'compose.json'), `${JSON.stringify(result, null, 2)}\n`);
  const s = (x: number) => `${x.toFixed(1)} s`;
  const less = (a: number, b: number) => `${(b / a).toFixed(1)}× faster, ${(100 * (1 - a / b)).toFixed(0)}% less time`;
  const stages = (r: Run | undefined) =>
    Object.entries(r?.json.compose.timings ?? {})
      .map(([k, v]) => `${k} ${v.toFixed(1)} s`)
      .join(', ');
  const section = [
    HEADING,
    '',
    `Command: \`npm run bench:compose -- --warm-runs ${warmRuns}\` (one run of the first build; median of ${warmRuns} for each other row). Default template (Debian 13, ${lock.image.packages.length} packages, 4 GiB GPT image), Docker 20.10 with BuildKit, ${base.length} base packages. The first build's root filesystem was in ${first.json.scratch}.`,
    '',
    '| Scenario | g3-composer | baseline | ratio |',
    '|---|---:|---:|---:|',
    `| unchanged second build (installed-package snapshot reused, root filesystem in ${warm[0]?.json.scratch}) vs first build (whole \`build\`) | ${s(warmWall)} | ${s(first.wall)} (first: ${first.json.cache.downloads} downloads, ${(first.json.cache.bytesDownloaded / 1024 / 1024).toFixed(0)} MiB, base and composer images made, chroot ${first.json.compose.snapshot}) | ${less(warmWall, first.wall)} |`,
    `| unchanged second build with \`--scratch disk\` vs first build | ${s(wall(onDisk))} | ${s(first.wall)} | ${less(wall(onDisk), first.wall)} |`,
    `| second build without an installed-package snapshot (chroot reused, apt installs) vs first build | ${s(wall(noInstalled))} | ${s(first.wall)} | ${less(wall(noInstalled), first.wall)} |`,
    `| chroot: snapshot reused (verify + unpack) vs \`mmdebstrap --variant=custom\` from the same local repository | ${s(warmChroot)} | ${s(median(mm))} | ${(median(mm) / warmChroot).toFixed(1)}× faster |`,
    `| chroot: first creation in the build container (mmdebstrap + snapshot) vs plain mmdebstrap | ${s(first.json.compose.timings.chroot ?? 0)} | ${s(median(mm))} | ${((first.json.compose.timings.chroot ?? 0) / median(mm)).toFixed(1)}× the time |`,
    '',
    'Every `build` ends by making the image that carries the disk image (qcow2 conversion of the raw image, layer tarball and `docker load`): it is in the whole-build times above and not among the compose stages below.',
    '',
    `Stage timings: first build: ${stages(first)}. Unchanged build: ${stages(warm[0])}. With \`--scratch disk\`: ${stages(onDisk[0])}. Without an installed-package snapshot: ${stages(noInstalled[0])}.`,
    '',
  ].join('\n');
  if (!values['no-record']) await recordSection(path.join(ROOT, 'BENCHMARKS.md'), HEADING, section);
  process.stdout.write(`${section}\n`);
}

await main();
