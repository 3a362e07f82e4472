// `npm run bench:registry -- [--runs N] [--no-record]`: the registry cache
// tier, with a real registry on 127.0.0.1 (Debian's docker-registry).
// 1. Two hosts (two work folders and caches of the bench project, no shared
//    folder): host A's cold build from the mirror (which also fills the
//    registry) against host B's cold build from the registry alone, with A's
//    lock and the mirror unreachable. B's image must be A's, bit for bit.
// 2. Throughput: `cache --push` of the locked packages into an empty
//    repository and `cache` from the registry into empty caches, against
//    `docker push` and `docker pull` of an image whose one layer holds the same
//    files. Writes bench/out/registry.json and its section of BENCHMARKS.md.
import { access, copyFile, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { run } from '../src/exec.js';
import { hashFile } from '../src/fs/hash.js';
import { startRegistry } from '../test/support/registry.js';
import { median } from './measure.js';
import { benchProject } from './project.js';
import { recordSection } from './section.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, 'bench', 'out', 'registry');
const HEADING = '## Registry cache tier';
const DOCKER = '/usr/bin/docker';
const PROVIDER = 'debian-debian13-x86_64';
/** Nothing listens there: host B's mirror. */
const CLOSED = 'http://127.0.0.1:9/debian';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '3' }, 'no-record': { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } },
});
if (values.help) {
  process.stdout.write('Usage: npm run bench:registry -- [--runs N] [--no-record]\n');
  process.exit(0);
}
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1 || runs > 10) {
  process.stderr.write('--runs must be 1-10\n');
  process.exit(2);
}

interface Built {
  cache: { items: number; downloads: number; bytesDownloaded: number; hits: { registry: number; origin: number } };
  compose: { image: string; installed: string };
}

interface Cached {
  ok: boolean;
  items: number;
  downloads: number;
  hits: { registry: number };
  bytesFromRegistry: number;
  registry: { pushed: number; bytesPushed: number; unusable: string | null; pushFailed: string | null } | null;
}

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );
const log = (s: string) => process.stderr.write(`${s}\n`);
const s1 = (x: number) => `${x.toFixed(1)} s`;
const mibps = (bytes: number, seconds: number) => `${(bytes / 1024 / 1024 / seconds).toFixed(0)} MiB/s`;

async function main(): Promise<void> {
  const registry = await startRegistry();
  await benchProject(ROOT, OUT);
  // Each host has its own copy of the project (the local g3-cache lies in its build context), with host A's lock.
  const host = async (name: string, repo = 'bench/g3-cache') => {
    const project = path.join(OUT, name, 'project');
    if (!(await exists(project))) {
      await mkdir(path.dirname(project), { recursive: true });
      await run({ command: 'cp', args: ['-r', path.join(OUT, 'project'), project] });
      const lock = path.join(OUT, 'a', 'project', 'bench.lock.json');
      if (name !== 'a' && (await exists(lock))) await copyFile(lock, path.join(project, 'bench.lock.json'));
    }
    return {
      ...process.env,
      G3_TARGETS: path.join(project, 'targets.yml'),
      G3_CACHE_DIR: path.join(OUT, name, 'cache'),
      G3_WORK_DIR: path.join(OUT, name, 'work'),
      G3_LOG_FILE: 'none',
      SHARED_G3_CACHE_PATH: '',
      G3_DOCKER_CLIENT: DOCKER,
      G3_CACHE_REGISTRY: `${registry.host}/${repo}`,
    } as Record<string, string>;
  };
  const builder = async (args: string[], env: Record<string, string>) => {
    const t0 = performance.now();
    const r = await run(
      { command: process.execPath, args: ['--import', path.join(ROOT, 'node_modules/tsx/dist/loader.mjs'), path.join(ROOT, 'builder.ts'), ...args] },
      { env, reject: false },
    );
    if (r.exitCode !== 0) throw new Error(`builder ${args.join(' ')} failed (exit ${r.exitCode}):\n${r.stderr.slice(-3000)}`);
    return { seconds: (performance.now() - t0) / 1000, json: JSON.parse(r.stdout) as unknown };
  };
  const removeImages = (refs: string[]) => run({ command: DOCKER, args: ['image', 'rm', '-f', ...refs] }, { reject: false });
  const dockerRefs: string[] = [];
  try {
    // Untimed: the lock (both hosts use it), and a build by another host into another repository, so that the
    // Docker daemon both hosts share already has the base and composer images when A and B are timed.
    log('lock, and a warm-up build for the shared Docker images (untimed) ...');
    await builder(['bench', 'lock', '--json'], await host('a'));
    await builder(['bench', 'build', '--json'], await host('warm-up', 'bench/warm-up'));
    // 1. Host A from the mirror, host B from the registry.
    log('host A: cold build from the mirror (fills the registry) ...');
    const a = await builder(['bench', 'build', '--json'], await host('a'));
    const builtA = a.json as Built;
    if (builtA.cache.downloads !== builtA.cache.items) throw new Error(`host A downloaded ${builtA.cache.downloads} of ${builtA.cache.items} items: not cold`);
    log('host B: cold build from the registry, mirror unreachable ...');
    const b = await builder(['bench', 'build', '--json'], { ...(await host('b')), G3_MIRROR: CLOSED, G3_SECURITY_MIRROR: CLOSED });
    const builtB = b.json as Built;
    if (builtB.cache.downloads !== 0 || builtB.cache.hits.registry !== builtB.cache.items)
      throw new Error(`host B took ${builtB.cache.hits.registry} of ${builtB.cache.items} items from the registry, downloaded ${builtB.cache.downloads}`);
    if (builtB.compose.installed !== 'fetched') throw new Error(`host B's installed-package snapshot was ${builtB.compose.installed}, not fetched`);
    const [ha, hb] = [await hashFile(builtA.compose.image), await hashFile(builtB.compose.image)];
    if (ha.sha256 !== hb.sha256) throw new Error(`host B's image differs from host A's (${hb.sha256} vs ${ha.sha256})`);

    // 2. Throughput: the cached files of host A (packages and composer tools, no snapshots: its work folder is
    // left out), ours against docker's, each into a registry of its own with empty storage, so nothing is mounted.
    const dirs = [path.join(OUT, 'a', 'cache', 'pkgCache', PROVIDER), path.join(OUT, 'a', 'project', '.g3-cache', `composer-${PROVIDER}`)];
    const layer = path.join(OUT, 'layer');
    await mkdir(layer, { recursive: true });
    for (const d of dirs) for (const f of (await readdir(d)).filter((n) => n.endsWith('.deb'))) await copyFile(path.join(d, f), path.join(layer, f));
    const tarBytes = (await Promise.all((await readdir(layer)).map((f) => stat(path.join(layer, f))))).reduce((n, st) => n + st.size, 0);
    const push: number[] = [];
    const pull: number[] = [];
    const dpush: number[] = [];
    const dpull: number[] = [];
    let bytes = 0;
    const tar = path.join(OUT, 'layer.tar');
    await run({ command: 'tar', args: ['-C', layer, '-cf', tar, '.'] });
    for (let i = 0; i < runs; i++) {
      log(`throughput ${i + 1}/${runs} ...`);
      const ours = await startRegistry();
      const theirs = await startRegistry();
      try {
        const env = { ...(await host('a')), G3_CACHE_REGISTRY: `${ours.host}/bench/g3-cache`, G3_WORK_DIR: path.join(OUT, `no-snapshots-${i}`) };
        const p = await builder(['bench', 'cache', '--push', '--json'], env);
        const pc = p.json as Cached;
        if (!pc.ok || pc.registry?.pushFailed || (pc.registry?.pushed ?? 0) === 0)
          throw new Error(`cache --push did not push (${JSON.stringify(pc.registry)})`);
        bytes = pc.registry?.bytesPushed ?? 0;
        push.push(p.seconds);
        const q = await builder(['bench', 'cache', '--json'], {
          ...(await host(`pull-${i}`)),
          G3_CACHE_REGISTRY: `${ours.host}/bench/g3-cache`,
          G3_MIRROR: CLOSED,
          G3_SECURITY_MIRROR: CLOSED,
        });
        const qc = q.json as Cached;
        if (!qc.ok || qc.hits.registry !== qc.items) throw new Error(`cache from the registry took ${qc.hits.registry} of ${qc.items} items from it`);
        pull.push(q.seconds);
        const ref = `${theirs.host}/bench/docker:bench`;
        dockerRefs.push(ref);
        await run({ command: DOCKER, args: ['import', tar, ref] });
        let t0 = performance.now();
        await run({ command: DOCKER, args: ['push', ref] });
        dpush.push((performance.now() - t0) / 1000);
        await removeImages([ref]);
        t0 = performance.now();
        await run({ command: DOCKER, args: ['pull', ref] });
        dpull.push((performance.now() - t0) / 1000);
        await removeImages([ref]);
      } finally {
        await Promise.all([ours.stop(), theirs.stop()]);
      }
    }
    const result = { a: a.seconds, b: b.seconds, items: builtA.cache.items, bytes, tarBytes, push, pull, dockerPush: dpush, dockerPull: dpull };
    await writeFile(path.join(ROOT, 'bench', 'out', 'registry.json'), `${JSON.stringify(result, null, 2)}\n`);
    const m = { push: median(push), pull: median(pull), dpush: median(dpush), dpull: median(dpull) };
    const section = [
      HEADING,
      '',
      `Command: \`npm run bench:registry -- --runs ${runs}\` (one run of each build; median of ${runs} for each throughput row), ${new Date().toISOString().slice(0, 10)}. Debian's docker-registry (CNCF Distribution) on 127.0.0.1, filesystem storage; the bench project (the default template, ${builtA.cache.items} cached files). Hosts A and B have their own caches and work folders and no shared folder, and use one lock (made before, untimed). They share this machine's Docker daemon: an untimed warm-up build by a third host made its base and composer images first, so both timed builds reuse them alike.`,
      '',
      '| Scenario | g3-composer | baseline | ratio |',
      '|---|---:|---:|---:|',
      `| host B's cold build from the registry alone (mirror unreachable: ${builtB.cache.hits.registry} files and the installed-package snapshot fetched) vs host A's cold build from the mirror (${builtA.cache.downloads} downloads, ${(builtA.cache.bytesDownloaded / 1024 / 1024).toFixed(0)} MiB, chroot and install, then the push into the registry) | ${s1(b.seconds)} | ${s1(a.seconds)} | ${(b.seconds / a.seconds).toFixed(2)} (goal ≤ 0.5) |`,
      `| push: \`cache --push\` of host A's ${builtA.cache.items} cached files (${(bytes / 1024 / 1024).toFixed(0)} MiB in distinct blobs) into an empty registry, from its warm local cache, vs \`docker push\` into another empty registry of an image whose one layer is a tar of the same files (${(tarBytes / 1024 / 1024).toFixed(0)} MiB, gzip-compressed by docker on the way) | ${s1(m.push)} (${mibps(bytes, m.push)}) | ${s1(m.dpush)} (${mibps(tarBytes, m.dpush)}) | ${(m.push / m.dpush).toFixed(2)} |`,
      `| pull: \`cache\` into empty caches from that registry (every file verified, fsynced and stamped) vs \`docker pull\` of that image (after \`docker image rm\`) | ${s1(m.pull)} (${mibps(bytes, m.pull)}) | ${s1(m.dpull)} (${mibps(tarBytes, m.dpull)}) | ${(m.pull / m.dpull).toFixed(2)} |`,
      '',
      `Checked before anything is recorded: host A downloaded every file; host B downloaded none, took all ${builtB.cache.items} from the registry and fetched the installed-package snapshot, and its image has host A's SHA256 (${ha.sha256.slice(0, 16)}…); every push pushed, every pull took every file from the registry. Times are wall-clock around the CLI (Node start-up included) and around \`docker push\`/\`docker pull\`. Runs: push ${push.map(s1).join(', ')}; pull ${pull.map(s1).join(', ')}; docker push ${dpush.map(s1).join(', ')}; docker pull ${dpull.map(s1).join(', ')}.`,
      '',
    ].join('\n');
    if (!values['no-record']) await recordSection(path.join(ROOT, 'BENCHMARKS.md'), HEADING, section);
    process.stdout.write(`${section}\n`);
  } finally {
    await removeImages(dockerRefs);
    await registry.stop();
  }
}

await main();
