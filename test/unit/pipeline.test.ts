import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Target } from '../../src/catalogue/types.js';
import type { Settings } from '../../src/config/load.js';
import { UserError } from '../../src/errors.js';
import { imageName } from '../../src/pipeline/image-name.js';
import { canonicalJson, explicitBuildArgs, type InputsSource, inputsDigest } from '../../src/pipeline/inputs.js';
import { type Decision, readState, writeState } from '../../src/pipeline/state.js';
import { pipelineStateDir as stateDir } from '../../src/layout/paths.js';
import type { OpenTarget } from '../../src/packages/target.js';
import { docker, envFlag, inputsBeforeBuild, type StepContext } from '../../src/pipeline/context.js';
import { skipReason } from '../../src/pipeline/steps.js';
import type { ImageTemplate } from '../../src/template/types.js';
import { useTempDirs } from './tmpdir.js';

const tempDir = useTempDirs('g3-pipeline-');

/** A target with these typed keys, as the catalogue loader gives them. */
const target = (name: string, keys: { image?: string; registry?: string; tags?: string[] } = {}): Target => ({
  name,
  artifacts: [],
  ...Object.fromEntries(Object.entries(keys).map(([key, value]) => [key, { value, origin: { file: 'targets.yml', line: 3 } }])),
});
const template = { image: { name: 'g3-minimal', version: '1.0.0' } } as unknown as ImageTemplate;

describe('imageName', () => {
  it.each([
    {
      what: 'defaults: g3-composer/<image.name>, tagged with the target, no registry',
      t: target('latest'),
      env: {},
      want: { registry: undefined, refs: ['g3-composer/g3-minimal:latest'], from: 'default' },
    },
    {
      what: "the target's image, registry and tags",
      t: target('latest', { image: 'team/os', registry: '127.0.0.1:5000', tags: ['1.0', 'stable'] }),
      env: {},
      want: { registry: '127.0.0.1:5000', refs: ['127.0.0.1:5000/team/os:1.0', '127.0.0.1:5000/team/os:stable'], from: 'targets.latest.image' },
    },
    {
      what: 'DOCKER_REPO wins over the target',
      t: target('latest', { image: 'team/os' }),
      env: { DOCKER_REPO: '127.0.0.1:6000/hub/os' },
      want: { registry: '127.0.0.1:6000', refs: ['127.0.0.1:6000/hub/os:latest'], from: 'DOCKER_REPO' },
    },
    {
      what: '--repo wins over DOCKER_REPO',
      t: target('latest'),
      repo: 'localhost:7000/mine/os',
      env: { DOCKER_REPO: '127.0.0.1:6000/hub/os' },
      want: { registry: 'localhost:7000', refs: ['localhost:7000/mine/os:latest'], from: '--repo' },
    },
    {
      what: "IMAGE_NAME's repository and tag when DOCKER_REPO is unset",
      t: target('latest', { tags: ['x'] }),
      env: { IMAGE_NAME: '127.0.0.1:6000/hub/os:edge' },
      want: { registry: '127.0.0.1:6000', refs: ['127.0.0.1:6000/hub/os:edge', '127.0.0.1:6000/hub/os:x'], from: 'IMAGE_NAME' },
    },
    {
      what: 'the registry setting for a repository without a host',
      t: target('latest'),
      setting: '127.0.0.1:5000',
      env: {},
      want: { registry: '127.0.0.1:5000', refs: ['127.0.0.1:5000/g3-composer/g3-minimal:latest'], from: 'default' },
    },
    {
      what: "a repository's own host wins over the registry setting",
      t: target('latest', { image: '127.0.0.1:9000/a/b' }),
      setting: '127.0.0.1:5000',
      env: {},
      want: { registry: '127.0.0.1:9000', refs: ['127.0.0.1:9000/a/b:latest'], from: 'targets.latest.image' },
    },
  ])('$what', ({ t, env, repo, setting, want }) => {
    expect(imageName({ target: t, template, env, repo, registry: setting })).toMatchObject(want);
  });

  it.each([
    { what: 'an uppercase repository', t: target('latest', { image: 'Team/OS' }), message: 'uppercase' },
    { what: 'a repository with a tag', t: target('latest', { image: 'team/os:1' }), message: 'names a tag or digest; give the repository only' },
    { what: 'a bad tag', t: target('latest', { tags: ['-bad'] }), message: 'the tag "-bad"' },
    { what: 'a registry that is not a host', t: target('latest', { registry: 'not a host' }), message: 'invalid image reference' },
  ])('refuses $what with a UserError', ({ t, message }) => {
    expect(() => imageName({ target: t, template, env: {} })).toThrow(UserError);
    expect(() => imageName({ target: t, template, env: {} })).toThrow(message);
  });
});

describe('inputsDigest', () => {
  async function project() {
    const dir = await tempDir();
    await mkdir(path.join(dir, 'templates', 'files'), { recursive: true });
    await writeFile(path.join(dir, 'latest.lock.json'), '{"lock":1}');
    await writeFile(path.join(dir, 'Dockerfile'), 'FROM base\n');
    await writeFile(path.join(dir, 'Dockerfile.small'), 'FROM small\n');
    await writeFile(path.join(dir, '.dockerignore'), '*\n');
    await writeFile(path.join(dir, 'templates', 'files', 'motd'), 'hello\n');
    const src: InputsSource = {
      lockFile: path.join(dir, 'latest.lock.json'),
      template: {
        image: { name: 'a', version: '1' },
        systemConfig: { name: 's', additionalFiles: [{ local: 'files/motd', final: '/etc/motd' }] },
      } as unknown as ImageTemplate,
      templateFile: path.join(dir, 'templates', 'a.yml'),
      context: dir,
      buildArgs: {},
      toolkitVersion: '0.1.0',
    };
    return { dir, src };
  }

  it('is stable: the same inputs give the same digest, whatever the key order of the template', async () => {
    const { src } = await project();
    const a = await inputsDigest(src);
    const reordered = {
      ...src,
      template: JSON.parse(JSON.stringify({ systemConfig: src.template.systemConfig, image: { version: '1', name: 'a' } })) as ImageTemplate,
    };
    expect((await inputsDigest(reordered)).digest).toBe(a.digest);
    expect(a.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(a.parts.map((p) => p.name)).toEqual([
      'lock',
      'template',
      'additionalFiles[0] files/motd',
      'Dockerfile',
      '.dockerignore',
      'build arguments',
      'toolkit version',
    ]);
  });

  it("of an overlay covers its baseline file's bytes as they are now, so a changed baseline is a change", async () => {
    const { dir, src } = await project();
    const baseline = path.join(dir, 'base.raw');
    await writeFile(baseline, 'baseline one');
    const set = { requested: [], base: 'required', baseSet: [], packages: [], installOrder: [] };
    const lock = {
      lockVersion: 1,
      target: 'latest',
      providerId: 'debian-debian13-x86_64',
      arch: 'amd64',
      requestDigest: 'x',
      request: {},
      repositories: [],
      image: set,
      tools: set,
      baseline: { source: { path: baseline }, format: 'raw', sha256: 'a'.repeat(64), size: 12, packages: [] },
    };
    await writeFile(src.lockFile, JSON.stringify(lock));
    const first = await inputsDigest(src);
    expect(first.parts.map((p) => p.name).slice(0, 3)).toEqual(['lock', 'template', 'additionalFiles[0] files/motd']);
    expect(first.parts.find((p) => p.name === 'baseline')?.sha256).toBe(createHash('sha256').update('baseline one').digest('hex'));
    await writeFile(baseline, 'baseline two');
    expect((await inputsDigest(src)).digest).not.toBe(first.digest);
  });

  it("of an ISO that boots an initramfs template, also covers that template's lock, template and files", async () => {
    const { dir, src } = await project();
    const initramfs = { lockFile: path.join(dir, 'latest.initramfs.lock.json'), template: src.template, templateFile: src.templateFile };
    // No lock yet (it is written by the first build): the part is absent, and the digest is not a built one.
    const before = await inputsDigest({ ...src, initramfs });
    expect(before.parts.map((p) => p.name)).toContain('initramfs template');
    expect(before.parts.map((p) => p.name)).not.toContain('initramfs lock');
    await writeFile(initramfs.lockFile, '{"lock":"i"}');
    const locked = await inputsDigest({ ...src, initramfs });
    expect(locked.parts.map((p) => p.name).slice(0, 5)).toEqual(['lock', 'template', 'additionalFiles[0] files/motd', 'initramfs lock', 'initramfs template']);
    expect(locked.digest).not.toBe(before.digest);
    expect(locked.digest).not.toBe((await inputsDigest(src)).digest);
    await writeFile(path.join(dir, 'templates', 'files', 'motd'), 'changed\n');
    const changed = await inputsDigest({ ...src, initramfs });
    expect(changed.parts.find((p) => p.name === 'initramfs additionalFiles[0] files/motd')?.sha256).not.toBe(
      locked.parts.find((p) => p.name === 'initramfs additionalFiles[0] files/motd')?.sha256,
    );
  });

  it.each([
    {
      part: 'lock',
      change: async (dir: string, src: InputsSource) => {
        await writeFile(path.join(dir, 'latest.lock.json'), '{"lock":2}');
        return src;
      },
    },
    {
      part: 'template',
      change: async (_dir: string, src: InputsSource) => ({ ...src, template: { ...src.template, image: { name: 'a', version: '2' } } as ImageTemplate }),
    },
    {
      part: 'additionalFiles[0] files/motd',
      change: async (dir: string, src: InputsSource) => {
        await writeFile(path.join(dir, 'templates', 'files', 'motd'), 'changed\n');
        return src;
      },
    },
    { part: 'Dockerfile', change: async (_dir: string, src: InputsSource) => ({ ...src, dockerfile: 'Dockerfile.small' }) },
    {
      part: '.dockerignore',
      change: async (dir: string, src: InputsSource) => {
        await writeFile(path.join(dir, '.dockerignore'), '*\n!x\n');
        return src;
      },
    },
    { part: 'build arguments', change: async (_dir: string, src: InputsSource) => ({ ...src, buildArgs: { SOURCE_DATE_EPOCH: '1' } }) },
    { part: 'toolkit version', change: async (_dir: string, src: InputsSource) => ({ ...src, toolkitVersion: '0.2.0' }) },
  ])('changes when the $part changes, and only that part', async ({ part, change }) => {
    const { dir, src } = await project();
    const before = await inputsDigest(src);
    const after = await inputsDigest(await change(dir, src));
    expect(after.digest).not.toBe(before.digest);
    const changed = after.parts.filter((p) => before.parts.find((b) => b.name === p.name)?.sha256 !== p.sha256).map((p) => p.name);
    expect(changed).toEqual([part]);
  });

  it('refuses a missing lock and a Dockerfile outside the context with a UserError', async () => {
    const { dir, src } = await project();
    await expect(inputsDigest({ ...src, lockFile: path.join(dir, 'none.lock.json') })).rejects.toThrow('cannot read the lock file');
    await expect(inputsDigest({ ...src, dockerfile: '../Dockerfile' })).rejects.toThrow('is outside the build context');
  });

  it('hashes an additional file only through the checked read: a link out of the template folder is refused', async () => {
    const { dir, src } = await project();
    const outside = path.join(dir, 'outside-secret');
    await writeFile(outside, 'not for the image\n');
    await rm(path.join(dir, 'templates', 'files', 'motd'));
    await symlink(outside, path.join(dir, 'templates', 'files', 'motd'));
    await expect(inputsDigest(src)).rejects.toThrow(/additionalFiles\[0\]\.local: "?files\/motd"? resolves to .*outside/);
  });

  it('takes SOURCE_DATE_EPOCH as a build argument only when it is set', () => {
    expect(explicitBuildArgs({})).toEqual({});
    expect(explicitBuildArgs({ SOURCE_DATE_EPOCH: ' ' })).toEqual({});
    expect(explicitBuildArgs({ SOURCE_DATE_EPOCH: '1700000000' })).toEqual({ SOURCE_DATE_EPOCH: '1700000000' });
  });

  it('canonicalJson sorts keys at every level and drops undefined values', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: undefined, x: 0 }], c: null } })).toBe('{"a":{"c":null,"d":[2,{"x":0,"z":1}]},"b":1}');
  });
});

describe('pipeline state', () => {
  it.each([
    ['latest', 'latest'],
    ['../../etc', '%2E%2E%2F..%2Fetc'],
    ['a/b', 'a%2Fb'],
    ['.hidden', '%2Ehidden'],
  ])('keeps target %j inside the state directory as %j', (name, element) => {
    expect(stateDir('/w', name)).toBe(path.join('/w', '.g3-pipeline', element));
  });

  it('reads back what it wrote, and treats a damaged record as none, with a warning', async () => {
    const dir = await tempDir();
    const d: Decision = { target: 't', inputsDigest: 'sha256:1', parts: [], outcome: 'unchanged', build: false, reason: 'r', at: 'now' };
    await writeState(dir, 't', 'pre_build', d);
    expect(await readState(dir, 't', 'pre_build')).toEqual(d);
    await writeFile(path.join(stateDir(dir, 't'), 'pre_build.json'), '{broken');
    const warnings: string[] = [];
    expect(await readState(dir, 't', 'pre_build', (m) => warnings.push(m))).toBeUndefined();
    expect(warnings[0]).toContain('pre_build.json');
    expect(await readState(dir, 'other', 'build')).toBeUndefined();
  });
});

describe('envFlag and skipReason', () => {
  it.each([
    ['1', true],
    ['true', true],
    ['YES', true],
    ['on', true],
    ['0', false],
    ['', false],
    [undefined, false],
    ['no', false],
  ])('envFlag(%j) is %s', (value, want) => {
    expect(envFlag(value)).toBe(want);
  });

  const inputs = { digest: 'sha256:aaa', parts: [] };
  const ctx = (workDir: string, env: Record<string, string | undefined> = {}): StepContext => ({
    settings: { workDir } as Settings,
    target: 't',
    env,
    emit: () => undefined,
  });
  const decided = async (workDir: string, outcome: Decision['outcome'], digest = inputs.digest) =>
    writeState(workDir, 't', 'pre_build', {
      target: 't',
      inputsDigest: digest,
      parts: [],
      outcome,
      build: outcome === 'changed' || outcome === 'forced',
      reason: `${outcome} reason`,
      last: { where: 'local', ref: 'r:t' },
      at: 'then',
    });

  it.each([
    { what: 'no decision: run', outcome: undefined, env: {}, skip: undefined },
    { what: 'unchanged with the same inputs: skip', outcome: 'unchanged' as const, env: {}, skip: 'pre_build found r:t up to date at then: unchanged reason' },
    { what: 'unchanged but the inputs changed since: run', outcome: 'unchanged' as const, digest: 'sha256:old', env: {}, skip: undefined },
    { what: 'changed: run', outcome: 'changed' as const, env: {}, skip: undefined },
    { what: 'FORCE_BUILDING over an unchanged decision: run', outcome: 'unchanged' as const, env: { FORCE_BUILDING: '1' }, skip: undefined },
    {
      what: 'PROHIBIT_BUILDING: skip, even with FORCE_BUILDING',
      outcome: 'changed' as const,
      env: { PROHIBIT_BUILDING: '1', FORCE_BUILDING: '1' },
      skip: 'PROHIBIT_BUILDING is set: no build',
    },
  ])('$what', async ({ outcome, digest, env, skip }) => {
    const dir = await tempDir();
    if (outcome) await decided(dir, outcome, digest);
    const reason = await skipReason(ctx(dir, env), 'build', inputs);
    if (skip === undefined) expect(reason).toBeUndefined();
    else expect(reason).toContain(skip);
  });
});

describe('inputsBeforeBuild', () => {
  const ROOT = path.resolve(import.meta.dirname, '../..');

  async function setup() {
    const dir = await tempDir();
    const templateFile = path.join(dir, 'img.yml');
    await writeFile(templateFile, 'image: {name: g3-minimal, version: "1.0.0"}\n');
    await writeFile(path.join(dir, 'Dockerfile'), 'FROM scratch\n');
    const t = {
      target: target('latest'),
      catalogueFile: path.join(dir, 'targets.yml'),
      templateFile,
      lockFile: path.join(dir, 'latest.lock.json'),
      template,
    } as unknown as OpenTarget;
    const ctx = { settings: { projectRoot: ROOT } as Settings, target: 'latest', env: {}, emit: () => undefined } as unknown as StepContext;
    return { t: { t, cat: { file: path.join(dir, 'targets.yml'), targets: new Map(), warnings: [] } }, ctx };
  }

  it('has no inputs before the first build, when there is no lock yet', async () => {
    const { t, ctx } = await setup();
    expect(await inputsBeforeBuild(ctx, t)).toBeUndefined();
  });

  it('fails before building when the lock is there but cannot be read', async () => {
    const { t, ctx } = await setup();
    await mkdir(t.t.lockFile);
    await expect(inputsBeforeBuild(ctx, t)).rejects.toThrow(/^cannot read the lock file .*latest\.lock\.json: EISDIR/);
  });

  it('gives the inputs when the lock is readable', async () => {
    const { t, ctx } = await setup();
    await writeFile(t.t.lockFile, '{}');
    expect((await inputsBeforeBuild(ctx, t))?.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
});

describe('docker(ctx)', () => {
  /** A docker client that logs each call and answers as a BuildKit-capable client whose daemon answers while `up` exists. */
  async function client(dir: string) {
    const log = path.join(dir, 'calls');
    const up = path.join(dir, 'up');
    const bin = path.join(dir, 'docker');
    await writeFile(
      bin,
      `#!/bin/sh
echo "$*" >>"${log}"
case "$1" in
  buildx) [ "$2" = version ] && { echo 'github.com/docker/buildx v0.16.0'; exit 0; } ;;
  version)
    case "$3" in
      *Client*) echo '{"Version":"27.1.0"}'; exit 0 ;;
      *) [ -e "${up}" ] && { echo '{"Version":"27.1.0"}'; exit 0; }; echo 'Cannot connect to the Docker daemon' >&2; exit 1 ;;
    esac ;;
esac
exit 1
`,
      { mode: 0o755 },
    );
    const calls = async () => (await readFile(log, 'utf8')).trim().split('\n').length;
    return { bin, up, calls };
  }

  it('finds and checks the client once per step context', async () => {
    const dir = await tempDir();
    const { bin, up, calls } = await client(dir);
    await writeFile(up, '');
    const ctx = { settings: { dockerClient: bin } as Settings, target: 'latest', env: { PATH: '' }, emit: () => undefined } as unknown as StepContext;
    const first = await docker(ctx);
    const once = await calls();
    expect(await docker(ctx)).toBe(first);
    expect(await calls()).toBe(once);
    // Another run (another context) checks again.
    await docker({ ...ctx });
    expect(await calls()).toBe(2 * once);
  });

  it('keeps no failure: a daemon that answers later is found by the next call', async () => {
    const dir = await tempDir();
    const { bin, up } = await client(dir);
    const ctx = { settings: { dockerClient: bin } as Settings, target: 'latest', env: { PATH: '' }, emit: () => undefined } as unknown as StepContext;
    await expect(docker(ctx)).rejects.toThrow(/no Docker daemon answers/);
    await writeFile(up, '');
    expect((await docker(ctx)).client.bin).toBe(bin);
  });
});
