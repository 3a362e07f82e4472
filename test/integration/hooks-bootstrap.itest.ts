// Hooks as a Docker Hub autobuild runs them: right after `git clone`, with no
// `npm ci` before, from another folder. A real clone of this repository (its
// committed state) in a temp folder, with no node_modules and, when the
// system's Node.js is older than 22.19, no Node to run on but the one the
// bootstrap installs. The first runs go two at a time, to show that
// concurrent first runs do not break each other's installs.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/exec.js';
import { collect, makeProject, type Project, ROOT, type RunResult } from '../support/project.js';

let dir: string;
let clone: string;
let p: Project;

// The test's own Node.js (a project-local one when this checkout installed it) is kept off PATH,
// so the clone must find or install one itself, as on a fresh machine.
const PATH = (process.env.PATH ?? '/usr/bin:/bin')
  .split(':')
  .filter((d) => !d.includes(`${path.sep}.tools${path.sep}node${path.sep}`) && !d.includes(`${path.sep}node_modules${path.sep}`))
  .join(':');

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'g3-fresh-clone-'));
  clone = path.join(dir, 'clone');
  await run({ command: 'git', args: ['clone', '--quiet', ROOT, clone] });
  p = await makeProject({ count: 2 });
}, 120_000);
afterAll(async () => {
  await p?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Run a file of the clone from `/`, with a clean environment. */
function runFromRoot(file: string, args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  const child = spawn(path.join(clone, file), args, {
    cwd: '/',
    env: { PATH, HOME: process.env.HOME ?? '/root', CI: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return collect(child);
}

const exists = (f: string) =>
  stat(f).then(
    () => true,
    () => false,
  );

describe('a fresh clone, no npm ci, run from another folder', () => {
  it('hooks/cache --help and builder.sh --help, both first runs at once, install what they need and answer', { timeout: 600_000 }, async () => {
    expect(await exists(path.join(clone, 'node_modules'))).toBe(false);
    const [hook, shim] = await Promise.all([runFromRoot('hooks/cache', ['--help']), runFromRoot('builder.sh', ['--help'])]);
    for (const r of [hook, shim]) {
      expect(r.stderr).not.toContain('ERR_MODULE_NOT_FOUND');
      expect(r.code, r.stderr).toBe(0);
    }
    expect(hook.stdout).toMatch(/^Usage: hooks\/cache \[<branch>\] \[<target>\] \[options\]/);
    expect(shim.stdout).toMatch(/^Usage: \.\/builder\.sh <target> <command>/);
    // Exactly one of them installed the dependencies; the other waited for it.
    expect(`${hook.stderr}${shim.stderr}`.match(/installing dependencies \(npm ci\)/g)).toHaveLength(1);
    expect(await exists(path.join(clone, 'node_modules/.package-lock.json'))).toBe(true);
    expect(await exists(path.join(clone, 'dist/hooks.mjs'))).toBe(true);
  });

  it('runs on Node.js >= 22.19: the system one when new enough, else one installed into .tools/node/', async () => {
    const r = await runFromRoot('scripts/node.sh', ['-p', 'process.versions.node + " " + process.execPath']);
    expect(r.code, r.stderr).toBe(0);
    const [version = '', exec = ''] = r.stdout.trim().split(' ');
    const [major = 0, minor = 0] = version.split('.').map(Number);
    expect(major > 22 || (major === 22 && minor >= 19), version).toBe(true);
    const system = await run({ command: 'node', args: ['-p', 'process.versions.node'] }, { env: { PATH }, reject: false }).catch(() => undefined);
    const [sysMajor = 0, sysMinor = 0] = (system?.exitCode === 0 ? system.stdout.trim() : '0.0').split('.').map(Number);
    if (sysMajor < 22 || (sysMajor === 22 && sysMinor < 19)) expect(exec.startsWith(path.join(clone, '.tools/node/')), exec).toBe(true);
  });

  it('DOCKER_TAG=latest hooks/cache --check, then hooks/cache, then --check again', async () => {
    const env = { ...p.env, DOCKER_TAG: 'latest' };
    const before = await runFromRoot('hooks/cache', ['--check'], env);
    expect(before.code, before.stderr).toBe(1);
    for (const f of p.files) expect(before.stdout).toContain(`needs refresh: ${f.section}/${f.file}: missing`);
    const fill = await runFromRoot('hooks/cache', ['--json'], env);
    expect(fill.code, fill.stderr).toBe(0);
    expect(JSON.parse(fill.stdout).downloads).toBe(2);
    const after = await runFromRoot('hooks/cache', ['--check'], env);
    expect(after.code, after.stderr).toBe(0);
  });

  it('installs the dependencies again when package-lock.json changed (a pull), and only then', { timeout: 600_000 }, async () => {
    const now = new Date();
    await utimes(path.join(clone, 'package-lock.json'), now, now);
    const again = await runFromRoot('hooks/cache', ['--help']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain('installing dependencies (npm ci)');
    const then = await runFromRoot('hooks/cache', ['--help']);
    expect(then.code, then.stderr).toBe(0);
    expect(then.stderr).not.toContain('npm ci');
  });
});

describe('the Node.js the bootstrap installs is the one pinned', () => {
  it('installs the pinned package after checking its SHA-512, and refuses one that does not match the pin', { timeout: 300_000 }, async () => {
    const good = await run({ command: path.join(ROOT, 'scripts/node.sh'), args: ['--install-into', path.join(dir, 'good'), '--path'] }, { reject: false });
    expect(good.exitCode, good.stderr).toBe(0);
    const bin = good.stdout.trim();
    expect(bin.startsWith(path.join(dir, 'good')), bin).toBe(true);
    expect((await run({ command: bin, args: ['--version'] })).stdout.trim()).toMatch(/^v22\./);
    // Runnable by every user (mktemp's 0700 is not kept): some test steps run unprivileged.
    expect((await stat(path.join(dir, 'good', '22.23.5-linux-x64'))).mode & 0o777).toBe(0o755);
    // The same script with one character of the pin changed: the registry's bytes no longer match it.
    const script = await readFile(path.join(ROOT, 'scripts/node.sh'), 'utf8');
    const bad = script
      .replace(/(\[x64\]="sha512-)(.)/, (_m, head: string, c: string) => `${head}${c === 'A' ? 'B' : 'A'}`)
      .replace(/(\[arm64\]="sha512-)(.)/, (_m, head: string, c: string) => `${head}${c === 'A' ? 'B' : 'A'}`);
    expect(bad).not.toBe(script);
    await mkdir(path.join(dir, 'bad', 'scripts'), { recursive: true });
    await writeFile(path.join(dir, 'bad', 'scripts', 'node.sh'), bad, { mode: 0o755 });
    const refused = await run(
      { command: path.join(dir, 'bad', 'scripts', 'node.sh'), args: ['--install-into', path.join(dir, 'bad', 'inst'), '--path'] },
      { reject: false },
    );
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain('does not match the integrity pinned in scripts/node.sh; not installed');
    // Nothing of it is left to run: no node binary under the install folder.
    expect(await exists(path.join(dir, 'bad', 'inst', '22.23.5-linux-x64'))).toBe(false);
    expect(await exists(path.join(dir, 'bad', 'inst', '22.23.5-linux-arm64'))).toBe(false);
  });
});
