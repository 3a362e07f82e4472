// `npm run bench:pipeline -- [--runs N] [--no-record]`: the hook pipeline.
// `all` (pre_build → build → push → post_push) of the default template against
// a real registry on 127.0.0.1 (Debian's docker-registry): when nothing changed
// it stops after pre_build, whether the last image is in the local daemon or
// only in the registry; with FORCE_BUILDING=1 it builds and pushes again, which
// is what a pipeline without a rebuild decision (g3's hooks) does every time.
// Packages come from the project's package cache (cache/pkgCache); the work
// directory and registry are the benchmark's own. Writes bench/out/pipeline.json
// and its section of BENCHMARKS.md.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { run } from '../src/exec.js';
import { startRegistry } from '../test/support/registry.js';
import { median } from './measure.js';
import { benchProject } from './project.js';
import { recordSection } from './section.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, 'bench', 'out', 'pipeline');
const HEADING = '## Hook pipeline';
const DOCKER = '/usr/bin/docker';

interface Step {
  step: string;
  outcome?: string;
  skipped?: boolean;
  record?: { pushed: { ref: string; digest: string }[] };
  compose?: { timings: Record<string, number> };
}

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '3' }, 'no-record': { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } },
});
if (values.help) {
  process.stdout.write('Usage: npm run bench:pipeline -- [--runs N] [--no-record]\n');
  process.exit(0);
}
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1 || runs > 10) {
  process.stderr.write('--runs must be 1-10\n');
  process.exit(2);
}

const project = (...p: string[]) => path.join(OUT, 'project', ...p);

async function main(): Promise<void> {
  const registry = await startRegistry();
  const repo = `${registry.host}/bench/minimal`;
  await benchProject(ROOT, OUT, [`image: ${repo}`]);
  const env = {
    ...process.env,
    G3_TARGETS: project('targets.yml'),
    G3_CACHE_DIR: path.join(ROOT, 'cache'),
    G3_WORK_DIR: path.join(OUT, 'work'),
    G3_LOG_FILE: 'none',
    SHARED_G3_CACHE_PATH: '',
    G3_DOCKER_CLIENT: DOCKER,
  } as Record<string, string>;
  const all = async (extra: Record<string, string> = {}): Promise<{ wall: number; steps: Step[] }> => {
    const t0 = performance.now();
    const r = await run(
      {
        command: process.execPath,
        args: ['--import', path.join(ROOT, 'node_modules/tsx/dist/loader.mjs'), path.join(ROOT, 'builder.ts'), 'bench', 'all', '--json'],
      },
      { env: { ...env, ...extra } },
    );
    return { wall: (performance.now() - t0) / 1000, steps: (JSON.parse(r.stdout) as { steps: Step[] }).steps };
  };
  const removeLocal = () => run({ command: DOCKER, args: ['image', 'rm', '-f', `${repo}:bench`] }, { reject: false });
  const expectSteps = (r: { steps: Step[] }, want: string[], what: string) => {
    const got = r.steps.map((s) => s.step);
    if (got.join() !== want.join()) throw new Error(`${what}: ran ${got.join(', ')}, expected ${want.join(', ')}`);
  };
  try {
    process.stderr.write('first all (empty work directory, no image) ...\n');
    const first = await all();
    expectSteps(first, ['pre_build', 'build', 'push', 'post_push'], 'first all');
    const series = async (what: string, before: () => Promise<unknown>, extra: Record<string, string>, want: string[]) => {
      const out: { wall: number; steps: Step[] }[] = [];
      for (let i = 0; i < runs; i++) {
        await before();
        process.stderr.write(`${what} ${i + 1}/${runs} ...\n`);
        const r = await all(extra);
        expectSteps(r, want, what);
        out.push(r);
      }
      return out;
    };
    const nothing = async () => undefined;
    const local = await series('all, nothing changed, image in the local daemon', nothing, {}, ['pre_build']);
    const remote = await series('all, nothing changed, image only in the registry', removeLocal, {}, ['pre_build']);
    const forced = await series('all with FORCE_BUILDING=1 (build and push again)', nothing, { FORCE_BUILDING: '1' }, [
      'pre_build',
      'build',
      'push',
      'post_push',
    ]);
    for (const r of [...local, ...remote]) if (r.steps[0]?.outcome !== 'unchanged') throw new Error('an unchanged run did not decide "unchanged"');
    const wall = (xs: { wall: number }[]) => median(xs.map((x) => x.wall));
    const result = { first: first.wall, local: local.map((r) => r.wall), remote: remote.map((r) => r.wall), forced: forced.map((r) => r.wall) };
    await writeFile(path.join(ROOT, 'bench', 'out', 'pipeline.json'), `${JSON.stringify(result, null, 2)}\n`);
    const s = (x: number) => `${x.toFixed(1)} s`;
    const ratio = (a: number, b: number) => `${(b / a).toFixed(1)}× faster`;
    const section = [
      HEADING,
      '',
      `Command: \`npm run bench:pipeline -- --runs ${runs}\` (median of ${runs} runs per row). \`./builder.ts bench all\` of the default template (Debian 13, 4 GiB GPT image) with a real registry on 127.0.0.1 (Debian's docker-registry); packages from the project's warm package cache. The baseline is what a pipeline without a rebuild decision does on every run: build and push again (here \`FORCE_BUILDING=1\`, which also reuses the snapshots, so it is the fastest such rebuild).`,
      '',
      '| Scenario | g3-composer | baseline | ratio |',
      '|---|---:|---:|---:|',
      `| nothing changed, the last image in the local daemon: \`all\` stops after pre_build vs build + push again | ${s(wall(local))} | ${s(wall(forced))} | ${ratio(wall(local), wall(forced))} |`,
      `| nothing changed, the last image only in the registry (label read over the Distribution API) vs build + push again | ${s(wall(remote))} | ${s(wall(forced))} | ${ratio(wall(remote), wall(forced))} |`,
      `| first \`all\` (empty work directory: chroot, install, disk, image, push) | ${s(first.wall)} | | |`,
      '',
      "`pre_build` itself refreshes the target's caches (all verified by their stamps) and computes the inputs digest before it compares; that is most of its time.",
      '',
    ].join('\n');
    if (!values['no-record']) await recordSection(path.join(ROOT, 'BENCHMARKS.md'), HEADING, section);
    process.stdout.write(`${section}\n`);
  } finally {
    await removeLocal();
    await registry.stop();
  }
}

await main();
