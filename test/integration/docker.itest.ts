// The Docker layer against the real daemon (the CI script starts one), and
// scripts/docker-daemon.sh against a fake dockerd so the real one is left alone.
import { createHash, randomBytes } from 'node:crypto';
import { access, chmod, cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DockerClient, detectClient, ensureDaemon } from '../../src/docker/client.js';
import type { ContainerSpec } from '../../src/docker/commands.js';
import { Docker } from '../../src/docker/docker.js';
import { StepError, UserError } from '../../src/errors.js';
import { run } from '../../src/exec.js';
import type { ComposeResult } from '../../src/compose/compose.js';
import type { CacheEvent } from '../../src/log/events.js';
import { buildCarrier, startCarrier } from '../../src/pipeline/carrier.js';
import { useTempDirs } from '../unit/tmpdir.js';

const tempDir = useTempDirs('g3-docker-itest-');
const SCRIPT = path.resolve('scripts/docker-daemon.sh');
const unique = `${process.pid}-${randomBytes(3).toString('hex')}`;
const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

let client: DockerClient;
let docker: Docker;
const images: string[] = [];
const containers: string[] = [];

beforeAll(async () => {
  client = await detectClient();
  docker = new Docker(client);
});

afterAll(async () => {
  for (const c of containers) docker.removeSync(c);
  if (images.length) await run({ command: client.bin, args: ['rmi', '-f', ...images] }, { reject: false });
});

/** A root filesystem with a shell, cat and sleep copied from this host, with the libraries ldd names. */
async function hostShellTree(root: string): Promise<void> {
  const binaries = ['/bin/sh', '/bin/cat', '/bin/sleep'];
  const files = new Set<string>(binaries);
  for (const bin of binaries) {
    const { stdout } = await run({ command: 'ldd', args: [bin] });
    for (const m of stdout.matchAll(/(\/\S+) \(0x/g)) if (m[1]) files.add(m[1]);
  }
  for (const f of files) {
    await mkdir(path.join(root, path.dirname(f)), { recursive: true });
    await cp(f, path.join(root, f), { dereference: true });
  }
  await mkdir(path.join(root, 'data'));
}

async function tarOf(dir: string, tar: string): Promise<string> {
  await run({ command: 'tar', args: ['-C', dir, '-cf', tar, '.'] });
  return tar;
}

describe('detectClient and ensureDaemon on this machine', () => {
  it('picks a client that builds with BuildKit: buildx, or a client that takes DOCKER_BUILDKIT=1 such as /usr/bin/docker', async () => {
    const buildx = await run({ command: 'docker', args: ['buildx', 'version'] }, { reject: false });
    if (buildx.exitCode === 0) expect(client.mode).toBe('buildx');
    else expect(client).toMatchObject({ bin: '/usr/bin/docker', mode: 'buildkit' });
    expect(client.version).toMatch(/^\d+\.\d+/);
  });

  it('finds a daemon that answers', async () => {
    expect((await ensureDaemon(client)).serverVersion).toMatch(/^\d+\.\d+/);
  });

  it('explains how to start a daemon when the client reaches none', async () => {
    const dir = await tempDir();
    const wrapper = path.join(dir, 'docker');
    await writeFile(wrapper, `#!/bin/sh\nDOCKER_HOST=unix:///nonexistent exec ${client.bin} "$@"\n`);
    await chmod(wrapper, 0o755);
    const err = await ensureDaemon({ ...client, bin: wrapper }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toMatch(/^no Docker daemon answers .*\(Cannot connect to the Docker daemon at unix:\/\/\/nonexistent/);
    expect((err as UserError).hint).toContain('scripts/docker-daemon.sh start');
  });
});

describe('images', () => {
  it('builds from a context with BuildKit, returning the id docker wrote, and inspect shows the labels', async () => {
    const ctx = await tempDir();
    await writeFile(path.join(ctx, 'hello.txt'), 'hello\n');
    await writeFile(path.join(ctx, 'Dockerfile'), 'FROM scratch\nARG WHO\nCOPY hello.txt /hello.txt\n');
    const tag = `g3-itest-build:${unique}`;
    images.push(tag);
    const lines: string[] = [];
    const { imageId } = await docker.build({
      context: ctx,
      tags: [tag],
      buildArgs: { WHO: 'me' },
      labels: { 'org.g3.test': unique },
      onLine: (l) => lines.push(l),
    });
    expect(imageId).toMatch(/^sha256:[0-9a-f]{64}$/);
    // BuildKit numbers its steps (#1, #2...); the classic builder prints "Step 1/3".
    expect(lines.some((l) => /^#\d+ /.test(l))).toBe(true);
    const info = await docker.imageInspect(tag);
    expect(info).toMatchObject({ id: imageId, labels: { 'org.g3.test': unique } });
    expect(Date.parse(info?.created ?? '')).not.toBeNaN();
  });

  it('fails a build with a StepError that shows the end of the build output', async () => {
    const ctx = await tempDir();
    await writeFile(path.join(ctx, 'Dockerfile.g3'), 'FROM scratch\nCOPY missing-file.txt /x\n');
    const err = await docker.build({ context: ctx, dockerfile: path.join(ctx, 'Dockerfile.g3'), tags: [], buildArgs: {}, labels: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepError);
    expect((err as StepError).message).toContain(`docker build of ${path.join(ctx, 'Dockerfile.g3')} failed`);
    expect((err as StepError).message).toContain('missing-file.txt');
  });

  it('gives undefined when inspecting an image that does not exist', async () => {
    expect(await docker.imageInspect(`g3-itest-absent:${unique}`)).toBeUndefined();
  });

  it('imports a tarball with changes, and tags it under a second name with the same id', async () => {
    const dir = await tempDir();
    await mkdir(path.join(dir, 'tree'));
    await writeFile(path.join(dir, 'tree', 'one.txt'), '1\n');
    const ref = `g3-itest-import:${unique}`;
    const second = `g3-itest-import:${unique}-b`;
    images.push(ref, second);
    const id = await docker.importTar(await tarOf(path.join(dir, 'tree'), path.join(dir, 't.tar')), ref, ['ENV G3=1', 'WORKDIR /data']);
    expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect((await docker.imageInspect(ref))?.id).toBe(id);
    await docker.tag(ref, second);
    expect((await docker.imageInspect(second))?.id).toBe(id);
  });
});

describe('the image that carries a disk image (buildCarrier)', () => {
  /**
   * The ids of every image whose layers include `diffId`. Other test files
   * run beside this one on the same daemon: an image they remove between the
   * listing and the inspection is skipped (it is not one of ours).
   */
  async function imagesWithLayer(diffId: string): Promise<string[]> {
    const ids = [...new Set((await run({ command: client.bin, args: ['images', '-a', '-q', '--no-trunc'] })).stdout.split('\n').filter(Boolean))];
    const r = await run({ command: client.bin, args: ['image', 'inspect', '--format', '{{.Id}} {{json .RootFS.Layers}}', ...ids] }, { reject: false });
    const errors = r.stderr.split('\n').filter((line) => line && !/^Error: No such image: /.test(line));
    expect(errors).toEqual([]);
    return r.stdout
      .split('\n')
      .filter((line) => line.includes(diffId))
      .map((line) => line.split(' ')[0] as string);
  }

  /** What buildCarrier reads of a finished compose: these artifacts in `dir`, with an SBOM and a manifest (with stage timings) written there. */
  async function composeOf(dir: string, artifacts: Array<{ type: string; file: string; path: string; size: number }>, made: number): Promise<ComposeResult> {
    await writeFile(path.join(dir, 'd.spdx.json'), '{}\n');
    await writeFile(path.join(dir, 'd.manifest.json'), `{"timings":{"disk":1},"made":${made}}\n`);
    return {
      buildDir: dir,
      artifacts: artifacts.map((a) => ({ ...a, sha256: '' })),
      sbom: { path: path.join(dir, 'd.spdx.json') },
      manifest: path.join(dir, 'd.manifest.json'),
    } as unknown as ComposeResult;
  }

  it('takes the layer through docker import and names it with a load of the config alone; the whole archive gives the same id', async () => {
    const dir = await tempDir();
    const disk = path.join(dir, 'disk.vhdx');
    // Random bytes: a layer no other image on this daemon has.
    await writeFile(disk, randomBytes(3 * 1024 * 1024));
    const compose = await composeOf(dir, [{ type: 'vhdx', file: 'disk.vhdx', path: disk, size: 3 * 1024 * 1024 }], 1);
    const ref = `g3-itest-carrier:${unique}`;
    images.push(ref);
    const events: CacheEvent[] = [];
    const input = { compose, refs: [ref], labels: { 'org.g3.test': unique }, epoch: 1750000000, emit: (e: CacheEvent) => events.push(e) };
    const first = await buildCarrier({ ...input, docker });
    expect(events.filter((e) => e.type === 'debug')).toEqual([]);
    const info = JSON.parse((await run({ command: client.bin, args: ['image', 'inspect', '--format', '{{json .}}', ref] })).stdout) as {
      Id: string;
      Created: string;
      Architecture: string;
      RootFS: { Layers: string[] };
    };
    expect(info).toMatchObject({ Id: first.imageId, Created: new Date(1750000000 * 1000).toISOString().replace('.000', ''), Architecture: 'amd64' });
    expect(info.RootFS.Layers).toHaveLength(1);
    // The imported image is gone: only the carrier holds the layer.
    expect(await imagesWithLayer(info.RootFS.Layers[0] as string)).toEqual([first.imageId]);
    const ctr = (await run({ command: client.bin, args: ['create', ref, '/none'] })).stdout.trim();
    try {
      await run({ command: client.bin, args: ['cp', `${ctr}:/disk`, path.join(dir, 'out')] });
    } finally {
      await run({ command: client.bin, args: ['rm', ctr] }, { reject: false });
    }
    // Compared by digest: a deep equality of two 3 MiB buffers takes vitest seconds.
    const sha = async (f: string) =>
      createHash('sha256')
        .update(await readFile(f))
        .digest('hex');
    expect(await sha(path.join(dir, 'out', 'disk.vhdx'))).toBe(await sha(disk));
    expect(JSON.parse(await readFile(path.join(dir, 'out', 'd.manifest.json'), 'utf8'))).toEqual({ made: 1 });

    // A daemon where the import fails (a fault put in its way) gets the whole archive: the same image.
    await run({ command: client.bin, args: ['rmi', ref] });
    const refusing = new Docker(client);
    refusing.importStream = async () => {
      throw new StepError('docker import of the layer failed (exit code 1): not here');
    };
    events.length = 0;
    const second = await buildCarrier({ ...input, docker: refusing });
    expect(second.imageId).toBe(first.imageId);
    expect(events.map((e) => ('message' in e ? e.message : ''))).toContainEqual(
      expect.stringContaining('(docker import of the layer failed (exit code 1): not here); loading the whole archive'),
    );
    expect(await imagesWithLayer(info.RootFS.Layers[0] as string)).toEqual([first.imageId]);

    // A file that changed since it was hashed fails the build once: no whole archive after the import, no image.
    await run({ command: client.bin, args: ['rmi', ref] });
    await writeFile(disk, randomBytes(3 * 1024 * 1024 + 512));
    events.length = 0;
    await expect(buildCarrier({ ...input, docker })).rejects.toThrow('changed while it was archived');
    expect(events.filter((e) => e.type === 'debug')).toEqual([]);
    expect(await docker.imageInspect(ref)).toBeUndefined();
  });

  it('streams the artifacts into docker import while the build finishes, giving the image buildCarrier makes of the same outputs', async () => {
    const dir = await tempDir();
    // A sparse raw image (converted to qcow2 for the image) and a vhdx, both with bytes no other layer has.
    const raw = path.join(dir, 'd.raw');
    await run({ command: 'truncate', args: ['-s', String(16 * 1024 * 1024), raw] });
    await writeFile(raw, randomBytes(1024 * 1024), { flag: 'r+' });
    const vhdx = path.join(dir, 'd.vhdx');
    await writeFile(vhdx, randomBytes(2 * 1024 * 1024));
    const artifacts = [
      { type: 'vhdx', file: 'd.vhdx', path: vhdx, size: 2 * 1024 * 1024 },
      { type: 'raw', file: 'd.raw', path: raw, size: 16 * 1024 * 1024 },
    ];
    const compose = await composeOf(dir, artifacts, 2);
    const ref = `g3-itest-early:${unique}`;
    images.push(ref);
    const events: CacheEvent[] = [];
    const emit = (e: CacheEvent) => events.push(e);
    const input = { docker, compose, refs: [ref], labels: { 'org.g3.test': unique }, epoch: 1750000000, emit };
    const start = (given: typeof artifacts) => startCarrier({ docker: Promise.resolve(docker), epoch: 1750000000, artifacts: given, refs: [ref], emit });
    const tick = () => new Promise((resolve) => setTimeout(resolve, 100));

    // Started, then the build goes on (the SBOM and the manifest are written) before it finishes.
    const early = start(artifacts);
    await tick();
    const streamed = await early.finish(input);
    expect(streamed.files).toEqual([
      { name: 'd.vhdx', from: 'd.vhdx' },
      { name: 'd.qcow2', from: 'd.raw', converted: 'qcow2' },
      { name: 'd.spdx.json', from: 'd.spdx.json' },
      { name: 'd.manifest.json', from: 'd.manifest.json', without: 'timings' },
    ]);
    expect(events.filter((e) => e.type === 'debug')).toEqual([]);
    const layer = (await docker.imageInspect(ref))?.layers?.[0] as string;
    expect(await imagesWithLayer(layer)).toEqual([streamed.imageId]);
    await expect(access(path.join(dir, '.carrier'))).rejects.toThrow();

    // The same outputs made into the image afterwards (the output cache's way): the same image.
    await run({ command: client.bin, args: ['rmi', ref] });
    const made = await buildCarrier(input);
    expect(made.imageId).toBe(streamed.imageId);
    expect(made.files).toEqual(streamed.files);

    // Given other artifacts than the build's outputs (here in another order): the image is made from the outputs, the same one.
    await run({ command: client.bin, args: ['rmi', ref] });
    events.length = 0;
    const odd = start([artifacts[1], artifacts[0]] as typeof artifacts);
    expect((await odd.finish(input)).imageId).toBe(streamed.imageId);
    expect(events.map((e) => ('message' in e ? e.message : ''))).toContain(
      'the artifacts given while the build ran are not its outputs: making the image from the outputs',
    );
    expect(await imagesWithLayer(layer)).toEqual([streamed.imageId]);

    // A build that fails before it is done: the import stops, no image, no scratch directory.
    // (What docker import gave is watched here, not the daemon's whole list: other test files add and remove images beside this one.)
    await run({ command: client.bin, args: ['rmi', ref] });
    const watched = new Docker(client);
    let imported: Promise<{ id: string; diffId: string }> | undefined;
    watched.importStream = (source, what) => {
      imported = docker.importStream(source, what);
      return imported;
    };
    const failed = startCarrier({ docker: Promise.resolve(watched), epoch: 1750000000, artifacts, refs: [ref], emit });
    await tick();
    await failed.abort();
    expect(await docker.imageInspect(ref)).toBeUndefined();
    await expect(imported).rejects.toThrow('the build ended before its image was made');
    await expect(access(path.join(dir, '.carrier'))).rejects.toThrow();
  });
});

describe('containers', () => {
  let image: string;
  const spec = (over: Partial<ContainerSpec>): ContainerSpec => ({
    image,
    name: `g3-itest-${unique}-${randomBytes(2).toString('hex')}`,
    mounts: [],
    network: 'none',
    privileged: false,
    capAdd: [],
    securityOpt: [],
    devices: [],
    command: ['/bin/sleep', '1000'],
    ...over,
  });

  beforeAll(async () => {
    const dir = await tempDir();
    await hostShellTree(path.join(dir, 'tree'));
    image = `g3-itest-shell:${unique}`;
    images.push(image);
    await docker.importTar(await tarOf(path.join(dir, 'tree'), path.join(dir, 'shell.tar')), image);
  });

  it('runs a detached container with a read-only bind mount and runs steps in it', async () => {
    const data = await tempDir();
    await writeFile(path.join(data, 'in.txt'), 'from the host\n');
    const s = spec({ mounts: [{ source: data, target: '/data', readonly: true }], env: { G3_RUN: 'run' }, labels: { 'org.g3.test': unique } });
    containers.push(s.name);
    expect(await docker.runDetached(s)).toMatch(/^[0-9a-f]{64}$/);

    const shown = await docker.exec(s.name, ['/bin/sh', '-c', 'cat /data/in.txt; echo "$G3_RUN $G3_STEP"'], { env: { G3_STEP: 'step' } });
    expect(shown.stdout).toBe('from the host\nrun step');
    const fed = await docker.exec(s.name, ['/bin/cat'], { input: 'through stdin' });
    expect(fed.stdout).toBe('through stdin');
    const lines: string[] = [];
    const denied = await docker.exec(s.name, ['/bin/sh', '-c', 'echo x > /data/out.txt'], { reject: false, onLine: (l) => lines.push(l) });
    expect(denied.exitCode).not.toBe(0);
    expect(lines.join('\n')).toMatch(/Read-only file system/);
    expect(await exists(path.join(data, 'out.txt'))).toBe(false);
    await expect(docker.exec(s.name, ['/bin/sh', '-c', 'exit 7'])).rejects.toThrow(/in container g3-itest-.* failed \(exit code 7\)/);

    await docker.remove(s.name);
    const ps = await run({ command: client.bin, args: ['ps', '-a', '--filter', `name=^${s.name}$`, '--format', '{{.Names}}'] });
    expect(ps.stdout).toBe('');
  });

  it('fails to start a container from a missing image with a StepError naming container and image', async () => {
    const s = spec({ image: `g3-itest-absent:${unique}` });
    containers.push(s.name);
    await expect(docker.runDetached(s)).rejects.toThrow(`starting container ${s.name} from image g3-itest-absent:${unique} failed`);
  });

  it('removeSync removes a running container and ignores one that is gone', async () => {
    const s = spec({});
    containers.push(s.name);
    await docker.runDetached(s);
    const listed = () => run({ command: client.bin, args: ['ps', '-a', '--filter', `name=^${s.name}$`, '--format', '{{.Names}}'] });
    expect((await listed()).stdout).toBe(s.name);
    docker.removeSync(s.name);
    docker.removeSync(s.name);
    expect((await listed()).stdout).toBe('');
  });
});

// A fake dockerd and a fake client stand in for the real ones; DOCKER_HOST points
// the real clients at nothing, so the running daemon is neither seen nor touched.
describe('scripts/docker-daemon.sh', () => {
  async function sandbox(dockerdBody: string) {
    const dir = await tempDir();
    const bin = path.join(dir, 'bin');
    await mkdir(bin);
    const marker = path.join(dir, 'up');
    await writeFile(path.join(bin, 'dockerd'), `#!/bin/sh\n${dockerdBody}\n`);
    await writeFile(path.join(bin, 'fake-docker'), `#!/bin/sh\n[ -f "${marker}" ] || { echo 'Cannot connect' >&2; exit 1; }\necho 99.0-fake\n`);
    await chmod(path.join(bin, 'dockerd'), 0o755);
    await chmod(path.join(bin, 'fake-docker'), 0o755);
    const pidfile = path.join(dir, 'dockerd.pid');
    const log = path.join(dir, 'dockerd.log');
    const env = {
      PATH: `${bin}:${process.env['PATH']}`,
      DOCKER_HOST: 'unix:///nonexistent',
      G3_DOCKER_CLIENT: path.join(bin, 'fake-docker'),
      G3_DOCKERD_PIDFILE: pidfile,
      G3_DOCKERD_LOG: log,
      G3_FAKE_MARKER: marker,
    };
    const script = (arg: string) => run({ command: SCRIPT, args: [arg] }, { env, reject: false });
    return { script, pidfile, log, marker };
  }

  // Comes up after a moment, goes down cleanly on SIGTERM.
  const WELL_BEHAVED = `echo "fake dockerd starting"; trap 'rm -f "$G3_FAKE_MARKER"; exit 0' TERM
sleep 1; touch "$G3_FAKE_MARKER"; while :; do sleep 0.2; done`;

  it('starts a daemon, reports it, leaves it running on a second start, and stops only what it started', async () => {
    const { script, pidfile, log } = await sandbox(WELL_BEHAVED);
    expect(await script('status')).toMatchObject({ exitCode: 1, stderr: 'no Docker daemon answers' });
    expect(await script('stop')).toMatchObject({ exitCode: 0, stdout: expect.stringContaining('leaving any other daemon alone') });

    const started = await script('start');
    expect(started).toMatchObject({ exitCode: 0, stdout: expect.stringContaining('server 99.0-fake') });
    const pid = Number((await readFile(pidfile, 'utf8')).trim());
    expect(() => process.kill(pid, 0)).not.toThrow();
    expect(await readFile(log, 'utf8')).toContain('fake dockerd starting');

    expect(await script('start')).toMatchObject({ exitCode: 0, stdout: expect.stringContaining('already answers') });
    expect(Number((await readFile(pidfile, 'utf8')).trim())).toBe(pid);
    expect(await script('status')).toMatchObject({ exitCode: 0 });

    expect(await script('stop')).toMatchObject({ exitCode: 0, stdout: `stopped dockerd ${pid}` });
    expect(() => process.kill(pid, 0)).toThrow();
    expect(await exists(pidfile)).toBe(false);
    expect(await script('status')).toMatchObject({ exitCode: 1 });
  });

  it('fails start with the end of the log when dockerd exits early', async () => {
    const { script, pidfile } = await sandbox(`echo 'failed to start daemon: cannot bind' >&2; exit 1`);
    const r = await script('start');
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('dockerd exited before it answered');
    expect(r.stderr).toContain('failed to start daemon: cannot bind');
    expect(await exists(pidfile)).toBe(false);
  });

  it('leaves alone a process named by a pid file when it is not a dockerd', async () => {
    const { script, pidfile } = await sandbox(WELL_BEHAVED);
    await writeFile(pidfile, `${process.pid}\n`);
    expect(await script('stop')).toMatchObject({ exitCode: 0, stdout: expect.stringContaining('names no running dockerd') });
    expect(await exists(pidfile)).toBe(false);
  });
});
