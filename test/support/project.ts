// A throw-away project for integration tests: a catalogue whose artifacts are
// random files served by a real origin on 127.0.0.1, and the real CLI run as
// child processes.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Origin, startOrigin } from './origin.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const LOADER = path.join(ROOT, 'node_modules/tsx/dist/loader.mjs');

export interface TestFile {
  section: string;
  file: string;
  data: Buffer;
  sha256: string;
}

export interface Project {
  dir: string;
  catalogue: string;
  local: string;
  shared: string;
  /** The package cache (cache_dir) and workspace (work_dir, with the run log) of the CLI runs: beside `dir`, not in it, so a listing of `dir` shows only what a command made there. */
  cacheDir: string;
  workDir: string;
  files: TestFile[];
  origin: Origin;
  /** Environment for the CLI: fast retries, the catalogue, the tiers, the package cache and workspace. */
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

/** Make `count` random files of `size` bytes (varied a little) and a catalogue for them. */
export async function makeProject(opts: { count?: number; size?: number; target?: string } = {}): Promise<Project> {
  const dir = await mkdtemp(path.join(tmpdir(), 'g3-itest-'));
  const files: TestFile[] = [];
  for (let i = 0; i < (opts.count ?? 6); i++) {
    const data = randomBytes((opts.size ?? 64 * 1024) + i * 977);
    files.push({ section: i % 2 ? 'tools' : 'debs', file: `pkg-${i}_1.0_amd64.deb`, data, sha256: sha256(data) });
  }
  const origin = await startOrigin({ files: Object.fromEntries(files.map((f) => [`/${f.section}/${f.file}`, f.data])) });
  const catalogue = path.join(dir, 'targets.yml');
  await writeCatalogue(catalogue, opts.target ?? 'latest', files, origin.url);
  const shared = path.join(dir, 'shared');
  await mkdir(shared);
  // Never the project's ./cache and ./workspace, the defaults of a CLI started from the toolkit.
  const state = await mkdtemp(path.join(tmpdir(), 'g3-itest-state-'));
  const env = {
    G3_TARGETS: catalogue,
    G3_LOCAL_CACHE: path.join(dir, 'local'),
    SHARED_G3_CACHE_PATH: shared,
    G3_CACHE_DIR: path.join(state, 'cache'),
    G3_WORK_DIR: path.join(state, 'workspace'),
    G3_RETRY_BACKOFF_MS: '50',
    G3_RETRIES: '3',
    G3_HTTP_TIMEOUT: '5',
  };
  return {
    dir,
    catalogue,
    local: env.G3_LOCAL_CACHE,
    shared,
    cacheDir: env.G3_CACHE_DIR,
    workDir: env.G3_WORK_DIR,
    files,
    origin,
    env,
    async cleanup() {
      await origin.close();
      await rm(dir, { recursive: true, force: true });
      await rm(state, { recursive: true, force: true });
    },
  };
}

/**
 * A copy of the project's catalogue folder docker/ (targets.yml, templates, the
 * Dockerfile: the build context) at `dir`, for a test of the default target that
 * must not write the project's docker/.g3-cache and docker/<target>.lock.json.
 * Those two are made on each machine, so they are left out. Returns the catalogue.
 */
export async function copyProjectCatalogue(dir: string): Promise<string> {
  const from = path.join(ROOT, 'docker');
  const machineMade = (file: string) => path.relative(from, file) === '.g3-cache' || /\.lock\.json$/.test(file);
  await cp(from, dir, { recursive: true, filter: (file) => !machineMade(file) });
  return path.join(dir, 'targets.yml');
}

/** The environment of a build from a catalogue copy and package cache of a test's own into `workDir` (no shared tier). */
export function buildEnv(catalogue: string, cacheDir: string, workDir: string): Record<string, string> {
  return { G3_TARGETS: catalogue, G3_CACHE_DIR: cacheDir, G3_WORK_DIR: workDir, SHARED_G3_CACHE_PATH: '', G3_DOCKER_CLIENT: '/usr/bin/docker' };
}

/** Write a catalogue for `files` at `url`. */
export async function writeCatalogue(file: string, target: string, files: TestFile[], url: string): Promise<void> {
  const items = files
    .map(
      (f) =>
        `      - section: ${f.section}\n        file: ${f.file}\n        url: ${url}/${f.section}/${f.file}\n        sha256: ${f.sha256}\n        size: ${f.data.length}\n`,
    )
    .join('');
  await writeFile(file, `targets:\n  ${target}:\n    artifacts:\n${items}`);
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Start a TypeScript entry point (builder.ts) or an executable (a hook's shim) as a child process, with a clean environment. */
export function startScript(script: string, args: string[], env: Record<string, string>, cwd = ROOT): ChildProcess {
  const ts = /\.[cm]?ts$/.test(script);
  return spawn(ts ? process.execPath : script, ts ? ['--import', LOADER, script, ...args] : args, {
    cwd,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', CI: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Start the real CLI (builder.ts) as a child process. */
export function startBuilder(args: string[], env: Record<string, string>, cwd = ROOT): ChildProcess {
  return startScript(path.join(ROOT, 'builder.ts'), args, env, cwd);
}

/** Run a script (builder.ts or a hook) to completion and collect its output. */
export function runScript(script: string, args: string[], env: Record<string, string>, cwd = ROOT): Promise<RunResult> {
  return collect(startScript(script, args, env, cwd));
}

/** Run the CLI to completion. */
export function runBuilder(args: string[], env: Record<string, string>, cwd = ROOT): Promise<RunResult> {
  return collect(startBuilder(args, env, cwd));
}

/** Wait for a child and collect its output. */
export function collect(child: ChildProcess): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

/** Every regular file under `root` that has a final (non-hidden) name, relative. */
export async function finalFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, rel: string) => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (e.name.startsWith('.')) continue;
      if (e.isDirectory()) await walk(path.join(d, e.name), path.join(rel, e.name));
      else out.push(path.join(rel, e.name));
    }
  };
  await walk(root, '');
  return out.sort();
}

/** Names of files under `root` that look like our temporary files. */
export async function tempFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await walk(path.join(d, e.name));
      else if (/\.tmp-/.test(e.name)) out.push(path.join(d, e.name));
    }
  };
  await walk(root);
  return out;
}

/** Assert-helper data: which final files under a tier do not match their pinned digest. */
export async function badFinalFiles(root: string, files: TestFile[]): Promise<string[]> {
  const want = new Map(files.map((f) => [path.join(f.section, f.file), f.sha256]));
  const bad: string[] = [];
  for (const rel of await finalFiles(root)) {
    const expected = want.get(rel);
    const got = sha256(await readFile(path.join(root, rel)));
    if (expected !== got) bad.push(rel);
  }
  return bad;
}

/** Inode of a file (to tell links from copies). */
export async function inode(file: string): Promise<number> {
  return (await stat(file)).ino;
}
