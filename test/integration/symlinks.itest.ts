// Symbolic links are never followed inside the toolkit's folders: each test
// plants a real link from a cache, the shared cache, the run log or the
// workspace to a "victim" folder or file outside them, runs the real CLI, and
// checks that the victim is untouched and that the link was reported and
// removed (or the command stopped with exit 2 naming it). Also: a running
// `cache` holds what it works on, so `cache clean --all` cannot take it away.
import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ignoreNotFound } from '../../src/fs/safe.js';
import {
  badFinalFiles,
  collect,
  finalFiles,
  makeProject,
  type Project,
  ROOT,
  type RunResult,
  runBuilder,
  sha256,
  startBuilder,
  writeCatalogue,
} from '../support/project.js';

let p: Project;
let env: Record<string, string>;
let victim: string;
const cleanups: Array<() => Promise<void>> = [];

beforeEach(async () => {
  p = await makeProject({ count: 4, size: 4096 });
  env = { ...p.env, G3_WORK_DIR: path.join(p.dir, 'work'), G3_CACHE_DIR: path.join(p.dir, 'cache') };
  // Outside every folder of the toolkit: files with known contents, and one named like a cached item.
  victim = await mkdtemp(path.join(tmpdir(), 'g3-victim-'));
  await writeFile(path.join(victim, 'precious.txt'), 'keep me\n');
  await writeFile(path.join(victim, item(0).file), 'not the package\n');
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await p.cleanup();
  await rm(victim, { recursive: true, force: true });
});

// biome-ignore lint/suspicious/noExplicitAny: reports are checked field by field below
type Json = Record<string, any>;
const item = (i: number) => p.files[i] as Project['files'][number];
const cli = (args: string[], extra: Record<string, string> = {}) => runBuilder(args, { ...env, ...extra });

/** Every path under `root` with its size, mtime and content digest: proof that nothing changed. */
async function contents(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of (await ignoreNotFound(readdir(d, { withFileTypes: true }))) ?? []) {
      const full = path.join(d, e.name);
      const st = await lstat(full);
      const what = e.isDirectory() ? 'dir' : e.isSymbolicLink() ? `-> ${await readlink(full)}` : `${st.size} ${st.mtimeMs} ${sha256(await readFile(full))}`;
      out.push(`${path.relative(root, full)} ${what}`);
      if (e.isDirectory()) await walk(full);
    }
  };
  await walk(root);
  return out.sort();
}

/** Replace `at` (whatever is there) with a symbolic link to `to`. */
async function plantLink(at: string, to: string): Promise<void> {
  await rm(at, { recursive: true, force: true });
  await mkdir(path.dirname(at), { recursive: true });
  await symlink(to, at);
}

/** `at` is a real directory now (the link was removed, not followed), or nothing is there. */
async function notALink(at: string): Promise<void> {
  const st = await ignoreNotFound(lstat(at));
  expect(st?.isSymbolicLink() ?? false).toBe(false);
}

const warm = async () => {
  const r = await cli(['latest', 'cache']);
  expect(r.code, r.stderr).toBe(0);
};

describe('cache prune, clean and verify never follow a link among the last-use records', () => {
  it.each([
    ['prune', '.g3-used', ['cache', 'prune', '--older-than', '0s']],
    ['prune', '.g3-used/debs', ['cache', 'prune', '--older-than', '0s']],
    ['clean', '.g3-used', ['cache', 'clean', '--packages']],
    ['clean', '.g3-used/debs', ['cache', 'clean', '--all']],
  ])('cache %s with %s linked outside leaves the victim alone and removes the link', async (_cmd, rel, args) => {
    await warm();
    const before = await contents(victim);
    const link = path.join(p.local, rel);
    await plantLink(link, victim);
    const r = await cli(args);
    expect(r.code, r.stderr).toBe(0);
    expect(await contents(victim)).toEqual(before);
    await notALink(link);
    expect(r.stderr).toContain(`skipped ${link}: symbolic link (to ${victim}): removed, not followed`);
  });

  it('cache verify removes a corrupt file but not the same-named file behind a linked record folder', async () => {
    await warm();
    const bad = item(0);
    const file = path.join(p.local, bad.section, bad.file);
    await rm(file);
    await writeFile(file, Buffer.alloc(bad.data.length, 7));
    const link = path.join(p.local, '.g3-used', bad.section);
    await plantLink(link, victim);
    const before = await contents(victim);
    const r = await cli(['cache', 'verify', '--json']);
    expect(r.code).toBe(1);
    const v = JSON.parse(r.stdout) as Json;
    expect(v.corrupt).toEqual([expect.objectContaining({ name: bad.file, removed: true })]);
    expect(await contents(victim)).toEqual(before);
    await notALink(link);
    expect(v.skipped).toContainEqual({ path: link, reason: `symbolic link (to ${victim}): removed, not followed` });
  });
});

describe('cache never follows a link in a tier', () => {
  it.each([
    ['a section folder of the local tier', () => path.join(p.local, item(0).section)],
    ['a section folder of the shared tier', () => path.join(p.shared, item(0).section)],
    ['.g3-stamps/<section> of the local tier', () => path.join(p.local, '.g3-stamps', item(0).section)],
    ['.g3-stamps/<section> of the shared tier', () => path.join(p.shared, '.g3-stamps', item(0).section)],
    ['.g3-used/<section> of the local tier', () => path.join(p.local, '.g3-used', item(0).section)],
    ['.g3-locks/<section> of the shared tier', () => path.join(p.shared, '.g3-locks', item(0).section)],
  ])('with %s linked outside: the victim is untouched, the link reported and removed, every item verified', async (_what, where) => {
    // The victim holds a wrong file under an item's name: followed, it would be judged corrupt and deleted, or overwritten.
    await warm();
    const link = where();
    await plantLink(link, victim);
    const before = await contents(victim);
    const r = await cli(['latest', 'cache', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(await contents(victim)).toEqual(before);
    await notALink(link);
    expect(r.stderr).toContain(`warning: removed the symbolic link ${link} (to ${victim}): links are never followed here`);
    expect(await badFinalFiles(p.local, p.files)).toEqual([]);
    expect(await finalFiles(p.local)).toHaveLength(p.files.length);
  });
});

describe('the shared cache', () => {
  it('is not used when SHARED_G3_CACHE_PATH is a link to /, and cache status lists no system folder', async () => {
    const link = path.join(p.dir, 'shared-root');
    await symlink('/', link);
    const r = await cli(['latest', 'cache', '--json'], { SHARED_G3_CACHE_PATH: link });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.match(/warning: shared cache .*is not used: \/ is a system folder/g)).toHaveLength(1);
    expect((JSON.parse(r.stdout) as Json).hits).toEqual({ local: 0, shared: 0, registry: 0, origin: p.files.length });
    for (const name of ['.g3-shared-cache', '.g3-locks', '.g3-stamps', 'debs']) expect(await ignoreNotFound(lstat(path.join('/', name)))).toBeUndefined();
    const s = await cli(['cache', 'status', '--json'], { SHARED_G3_CACHE_PATH: link });
    expect(s.code, s.stderr).toBe(0);
    const status = JSON.parse(s.stdout) as Json;
    const shared = status.tiers.filter((t: Json) => t.tier.startsWith('shared'));
    expect(shared.map((t: Json) => [t.tier, t.present, t.groups.length])).toEqual([
      ['shared', false, 0],
      ['shared-packages', false, 0],
    ]);
    expect(JSON.stringify(status)).not.toMatch(/"group": ?"(etc|proc|usr)"/);
  });

  it('is not used, with one warning, when it is a non-empty folder without the marker; the run goes on from the origin', async () => {
    const other = path.join(p.dir, 'someones-folder');
    await mkdir(other);
    await writeFile(path.join(other, 'notes.txt'), 'mine\n');
    const before = await contents(other);
    const r = await cli(['latest', 'cache', '--json'], { SHARED_G3_CACHE_PATH: other });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.match(/warning: shared cache .*no \.g3-shared-cache/g)).toHaveLength(1);
    expect((JSON.parse(r.stdout) as Json).hits.origin).toBe(p.files.length);
    expect(await contents(other)).toEqual(before);
  });

  it('gets the marker when an empty folder is first used, and a cache made before the marker is adopted', async () => {
    await warm();
    const marker = path.join(p.shared, '.g3-shared-cache');
    expect((await lstat(marker)).isFile()).toBe(true);
    // As a toolkit without the marker left it: sections with their stamps.
    await rm(marker);
    await rm(p.local, { recursive: true });
    p.origin.resetCounts();
    const r = await cli(['latest', 'cache', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as Json).hits.shared).toBe(p.files.length);
    expect(p.origin.totalRequests()).toBe(0);
    expect((await lstat(marker)).isFile()).toBe(true);
  });
});

describe('the run log', () => {
  it('is not written through a link at its path: one warning, the command still runs, the target is untouched', async () => {
    const target = path.join(victim, 'precious.txt');
    const logFile = path.join(p.dir, 'logs', 'g3.log');
    await plantLink(logFile, target);
    const r = await cli(['latest', 'cache'], { G3_LOG_FILE: logFile });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.match(/warning: the run log .* is a symbolic link: not followed/g)).toHaveLength(1);
    expect(await readFile(target, 'utf8')).toBe('keep me\n');
  });

  it('is not written when its folder is a link', async () => {
    const logDir = path.join(p.dir, 'logs');
    await plantLink(logDir, victim);
    const before = await contents(victim);
    const r = await cli(['latest', 'cache'], { G3_LOG_FILE: path.join(logDir, 'g3.log') });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: the run log's folder .* is a symbolic link: not followed/);
    expect(await contents(victim)).toEqual(before);
  });
});

describe('the workspace and the package cache', () => {
  it('cache clean --workspace removes a linked image-build folder as a link and leaves its target', async () => {
    const imagebuild = path.join(env.G3_WORK_DIR as string, 'debian-x', 'imagebuild');
    await mkdir(path.join(env.G3_WORK_DIR as string, 'debian-x', 'chrootbuild'), { recursive: true });
    await plantLink(imagebuild, victim);
    const before = await contents(victim);
    const r = await cli(['cache', 'clean', '--workspace']);
    expect(r.code, r.stderr).toBe(0);
    expect(await contents(victim)).toEqual(before);
    await notALink(imagebuild);
  });

  it('cache clean --packages removes a linked provider folder of the package cache as a link', async () => {
    const provider = path.join(env.G3_CACHE_DIR as string, 'pkgCache', 'debian-x');
    await plantLink(provider, victim);
    const before = await contents(victim);
    const r = await cli(['cache', 'clean', '--packages']);
    expect(r.code, r.stderr).toBe(0);
    expect(await contents(victim)).toEqual(before);
    await notALink(provider);
    expect(r.stderr).toContain(`skipped ${provider}: symbolic link (to ${victim}): removed, not followed`);
  });
});

describe('cache verify', () => {
  it('reports a folder it cannot read and exits 1 instead of calling it clean', async () => {
    await warm();
    const section = path.join(p.local, item(0).section);
    await chmod(section, 0o000);
    cleanups.push(() => chmod(section, 0o755));
    const r = await runWithoutDacOverride(['cache', 'verify', '--json']);
    expect(r.code, r.stderr).toBe(1);
    const v = JSON.parse(r.stdout) as Json;
    expect(v.ok).toBe(false);
    expect(v.unreadable).toEqual([expect.objectContaining({ path: section, reason: expect.stringMatching(/cannot read: EACCES/) })]);
    expect(r.stderr).toContain(`could not read ${section}: cannot read: EACCES`);
  });
});

/**
 * The CLI as root without the capabilities that let root read any folder
 * (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), so a folder with mode 000 is
 * unreadable to it, as it is to any other user.
 */
function runWithoutDacOverride(args: string[]): Promise<RunResult> {
  const drop = '-dac_override,-dac_read_search';
  const child = spawn(
    'setpriv',
    [
      `--inh-caps=${drop}`,
      `--bounding-set=${drop}`,
      '--',
      process.execPath,
      '--import',
      path.join(ROOT, 'node_modules/tsx/dist/loader.mjs'),
      path.join(ROOT, 'builder.ts'),
      ...args,
    ],
    {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', CI: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    void collect(child).then(resolve);
  });
}

/** A promise and the function that resolves it. */
function signal(): { fired: Promise<void>; fire: () => void } {
  let fire = () => undefined as undefined;
  const fired = new Promise<void>((ok) => {
    fire = () => void ok();
  });
  return { fired, fire };
}

/** An origin on 127.0.0.1 that answers `held` only when release() is called; stops by itself. */
async function holdingOrigin(
  files: Record<string, Buffer>,
  held: string,
): Promise<{ url: string; requested: Promise<void>; release: () => void; close: () => Promise<void> }> {
  const released = signal();
  const seen = signal();
  const release = released.fire;
  const requested = seen.fire;
  const server: Server = createServer((req, res) => {
    const body = files[req.url ?? ''];
    if (!body) return void res.writeHead(404).end();
    const send = () => res.writeHead(200, { 'Content-Length': body.length }).end(body);
    if (req.url !== held) return send();
    requested();
    void released.fired.then(send);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const lifetime = setTimeout(() => release(), 120_000);
  lifetime.unref();
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requested: seen.fired,
    release,
    close: async () => {
      clearTimeout(lifetime);
      release();
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}

describe('a running cache', () => {
  it('holds what it works on: cache clean --all leaves the files it has verified while it runs', async () => {
    // Warm: every item but the last one verified in the local tier (no shared tier, to keep it local).
    const noShared = { SHARED_G3_CACHE_PATH: '' };
    const [first, ...rest] = p.files;
    const last = rest.pop() as Project['files'][number];
    const files = Object.fromEntries(p.files.map((f) => [`/${f.section}/${f.file}`, f.data]));
    const origin = await holdingOrigin(files, `/${last.section}/${last.file}`);
    cleanups.push(origin.close);
    await writeCatalogue(p.catalogue, 'latest', [first as Project['files'][number], ...rest], origin.url);
    expect((await cli(['latest', 'cache'], noShared)).code).toBe(0);
    await writeCatalogue(p.catalogue, 'latest', p.files, origin.url);
    // The run verifies the warm items, then waits on the origin for the last one.
    const running: ChildProcess = startBuilder(['latest', 'cache', '--json'], { ...env, ...noShared, G3_HTTP_TIMEOUT: '600', G3_HTTP_MIN_SPEED: '0' });
    cleanups.push(async () => void running.kill('SIGKILL'));
    const done = collect(running);
    await origin.requested;
    const held = [first, ...rest].map((f) => path.join(p.local, (f as Project['files'][number]).section, (f as Project['files'][number]).file));
    const clean = await cli(['cache', 'clean', '--all', '--json'], noShared);
    expect(clean.code, clean.stderr).toBe(0);
    const report = JSON.parse(clean.stdout) as Json;
    expect(report.removed.filter((e: Json) => held.includes(e.path))).toEqual([]);
    for (const h of report.held) expect(h.reason).toContain(`pid ${running.pid}`);
    for (const f of held) expect((await stat(f)).isFile()).toBe(true);
    origin.release();
    const r = await done;
    expect(r.code, r.stderr).toBe(0);
    expect(await badFinalFiles(p.local, p.files)).toEqual([]);
    expect(await finalFiles(p.local)).toHaveLength(p.files.length);
  });
});
