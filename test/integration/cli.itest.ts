// The command line as users meet it: offline, --check, bad input, hooks and
// the builder.sh shim, all as real processes.
import { spawn } from 'node:child_process';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ignoreNotFound } from '../../src/fs/safe.js';
import { collect, finalFiles, makeProject, type Project, ROOT, runBuilder, runScript } from '../support/project.js';

let p: Project;
beforeEach(async () => {
  p = await makeProject({ count: 3 });
});
afterEach(async () => {
  await p.cleanup();
});

/** Every path under `root` with its size and mtime, to prove nothing changed. */
async function snapshot(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of (await ignoreNotFound(readdir(d, { withFileTypes: true }))) ?? []) {
      const full = path.join(d, e.name);
      const st = await stat(full);
      out.push(`${path.relative(root, full)} ${e.isDirectory() ? 'dir' : st.size} ${e.isDirectory() ? '' : st.mtimeMs}`);
      if (e.isDirectory()) await walk(full);
    }
  };
  await walk(root);
  return out.sort();
}

describe('--offline', () => {
  it('lists the missing items, exits 1 and sends no request', async () => {
    const r = await runBuilder(['latest', 'cache', '--offline', '--json'], p.env);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).missing).toEqual(p.files.map((f) => `${f.section}/${f.file}`));
    for (const f of p.files) expect(r.stderr).toContain(`error: ${f.section}/${f.file}: not cached, and --offline forbids downloading it`);
    expect(p.origin.totalRequests()).toBe(0);
  });

  it('succeeds from the caches alone once they are warm (G3_OFFLINE=1)', async () => {
    expect((await runBuilder(['latest', 'cache'], p.env)).code).toBe(0);
    p.origin.resetCounts();
    const r = await runBuilder(['latest', 'cache'], { ...p.env, G3_OFFLINE: '1', G3_LOCAL_CACHE: path.join(p.dir, 'fresh-local') });
    expect(r.code).toBe(0);
    expect(p.origin.totalRequests()).toBe(0);
    expect(await finalFiles(path.join(p.dir, 'fresh-local'))).toHaveLength(3);
  });
});

describe('cache --check', () => {
  it('exits 1 listing each item and why, and changes nothing anywhere', async () => {
    const before = await snapshot(p.dir);
    const r = await runBuilder(['latest', 'cache', '--check'], p.env);
    expect(r.code).toBe(1);
    for (const f of p.files) expect(r.stdout).toContain(`needs refresh: ${f.section}/${f.file}: missing`);
    expect(await snapshot(p.dir)).toEqual(before);
    expect(p.origin.totalRequests()).toBe(0);
  });

  it('exits 0 when every item is present and verified, and still changes nothing', async () => {
    expect((await runBuilder(['latest', 'cache'], p.env)).code).toBe(0);
    const before = await snapshot(p.dir);
    const r = await runBuilder(['latest', 'cache', '--check', '--verify'], p.env);
    expect(r.code).toBe(0);
    expect(await snapshot(p.dir)).toEqual(before);
  });

  it('reports a corrupt local file as needing a refresh without removing it', async () => {
    expect((await runBuilder(['latest', 'cache', '--shared-cache', ''], p.env)).code).toBe(0);
    const f = p.files[0]!;
    const file = path.join(p.local, f.section, f.file);
    await writeFile(file, Buffer.alloc(f.data.length, 1));
    const r = await runBuilder(['latest', 'cache', '--check', '--json'], p.env);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).needsRefresh).toEqual([{ item: `${f.section}/${f.file}`, reason: expect.stringMatching(/^sha256 /) }]);
    expect((await readFile(file)).equals(Buffer.alloc(f.data.length, 1))).toBe(true);
  });

  it('exits 2 on bad input', async () => {
    const r = await runBuilder(['nope', 'cache', '--check'], p.env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown target "nope"');
    expect(r.stderr).toContain('Known targets: latest');
  });
});

describe('bad input is refused with exit 2 and creates nothing', () => {
  const sha = 'a'.repeat(64);
  it.each([
    ['a section with a slash', 'section: "a/b"\n        file: x.deb', /targets\.yml:4: targets\.latest\.artifacts\[0\]\.section must be a plain name/],
    ['a file named ..', 'section: s\n        file: ".."', /targets\.yml:5: targets\.latest\.artifacts\[0\]\.file must not be ".."/],
    ['an absolute file path', 'section: s\n        file: /etc/passwd', /targets\.yml:5: targets\.latest\.artifacts\[0\]\.file must be a plain name/],
    ['a NUL in a file name', 'section: s\n        file: "a\\0b"', /targets\.yml:5: targets\.latest\.artifacts\[0\]\.file must not contain a NUL byte/],
    ['a hidden file name', 'section: s\n        file: .g3-stamps', /targets\.yml:5: targets\.latest\.artifacts\[0\]\.file must not start with "\."/],
  ])('%s', async (_name, fields, message) => {
    await writeFile(p.catalogue, `targets:\n  latest:\n    artifacts:\n      - ${fields}\n        url: http://127.0.0.1:9/x\n        sha256: ${sha}\n`);
    const r = await runBuilder(['latest', 'cache'], p.env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(await finalFiles(p.dir)).toEqual(['targets.yml']);
  });

  it.each([
    ['a file: URL', 'file:///etc/passwd', /must use http or https, not file:/],
    ['an ftp URL', 'ftp://127.0.0.1/x', /must use http or https/],
  ])('refuses %s', async (_name, url, message) => {
    await writeFile(p.catalogue, `targets:\n  latest:\n    artifacts:\n      - section: s\n        file: x\n        url: ${url}\n        sha256: ${sha}\n`);
    const r = await runBuilder(['latest', 'cache'], p.env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/targets\.yml:6: targets\.latest\.artifacts\[0\]\.url /);
    expect(r.stderr).toMatch(message);
  });

  it('names file, line and problem for malformed YAML', async () => {
    await writeFile(p.catalogue, 'targets:\n  latest:\n    artifacts: [\n');
    const r = await runBuilder(['latest', 'cache'], p.env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/targets\.yml:\d+: malformed YAML/);
  });

  it('exits 2 on an unknown option with a hint', async () => {
    const r = await runBuilder(['latest', 'cache', '--workerz', '3'], p.env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown option --workerz');
    expect(r.stderr).toContain('Did you mean --workers?');
  });

  it('exits 2 on an invalid --workers value naming the source', async () => {
    const r = await runBuilder(['latest', 'cache', '--workers', '0'], p.env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('invalid workers "0" from --workers (flag)');
  });
});

describe('hooks and the shim', () => {
  it('hooks/cache takes the target from DOCKER_TAG with no arguments, as an autobuild calls it', async () => {
    const env = {
      ...p.env,
      DOCKER_TAG: 'latest',
      SOURCE_BRANCH: 'main',
      SOURCE_COMMIT: 'abc',
      DOCKER_REPO: '127.0.0.1:5000/me/img',
      IMAGE_NAME: '127.0.0.1:5000/me/img:latest',
      DOCKERFILE_PATH: 'Dockerfile',
      COMMIT_MSG: 'a commit',
    };
    const r = await runScript(path.join(ROOT, 'hooks/cache'), [], env);
    expect(r.code).toBe(0);
    expect(await finalFiles(p.local)).toHaveLength(3);
  });

  it('hooks/cache takes <branch> <target> arguments and passes options on', async () => {
    const r = await runScript(path.join(ROOT, 'hooks/cache'), ['main', 'latest', '--json'], p.env);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).downloads).toBe(3);
  });

  it.each(['build', 'push', 'post_push'])('hooks/%s refuses a target without a template (no image to make) with exit 2, naming it', async (hook) => {
    const r = await runScript(path.join(ROOT, 'hooks', hook), [], { ...p.env, DOCKER_TAG: 'latest' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('target latest has no template');
  });

  it('a hook with no target argument and no DOCKER_TAG exits 2 saying so', async () => {
    const r = await runScript(path.join(ROOT, 'hooks', 'pre_build'), [], p.env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no target: pass one (hooks/pre_build <branch> <target>) or set DOCKER_TAG');
  });

  it('hooks/cache --ignore-valid-until main latest takes latest as the target (a boolean option takes no value)', async () => {
    const r = await runScript(path.join(ROOT, 'hooks/cache'), ['--ignore-valid-until', 'main', 'latest', '--json'], p.env);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ target: 'latest', downloads: 3 });
  });

  it.each(['--help', '-h', '--version'])('DOCKER_TAG=%s is refused as a target name with exit 2, never read as an option', async (tag) => {
    const r = await runScript(path.join(ROOT, 'hooks/cache'), [], { ...p.env, DOCKER_TAG: tag });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`target "${tag}" is not a valid target name`);
    expect(r.stdout).toBe('');
    expect(p.origin.totalRequests()).toBe(0);
  });

  it('builder.sh behaves as builder.ts, from another directory', async () => {
    const child = spawn(path.join(ROOT, 'builder.sh'), ['latest', 'cache', '--json'], {
      cwd: p.dir,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, CI: '1', ...p.env },
    });
    const r = await collect(child);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).downloads).toBe(3);
  });
});
