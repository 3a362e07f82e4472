import { chmod, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { detectClient, ensureDaemon } from '../../src/docker/client.js';
import { Docker } from '../../src/docker/docker.js';
import { StepError, UserError } from '../../src/errors.js';
import { useTempDirs } from './tmpdir.js';

const tempDir = useTempDirs('g3-docker-client-');

// Shell fragments emulating the docker clients met in the wild. `version`
// prints the client part and exits 1, as real clients do when no daemon answers.
const VERSION = (v: string) =>
  `if [ "$1" = version ]; then echo '{"Version":"${v}","ApiVersion":"1.41"}'; echo 'Cannot connect to the Docker daemon' >&2; exit 1; fi`;
const FAKES = {
  withBuildx: `${VERSION('27.1.0')}
if [ "$1" = buildx ] && [ "$2" = version ]; then echo 'github.com/docker/buildx v0.16.0'; exit 0; fi
exit 1`,
  // Debian's 20.10 client: no buildx, but the classic builder takes DOCKER_BUILDKIT=1.
  buildkitEnv: `${VERSION('20.10.24')}
if [ "$1" = buildx ]; then echo "docker: 'buildx' is not a docker command." >&2; exit 1; fi
if [ "$1" = build ] && [ "$DOCKER_BUILDKIT" = 1 ]; then echo 'Usage:  docker build'; exit 0; fi
exit 1`,
  // A v28 client without the plugin refuses both.
  refusing: `${VERSION('28.2.2')}
if [ "$1" = buildx ]; then echo 'docker: unknown command: docker buildx' >&2; exit 1; fi
if [ "$1" = build ] && [ "$DOCKER_BUILDKIT" = 1 ]; then echo 'ERROR: BuildKit is enabled but the buildx component is missing or broken.' >&2; exit 1; fi
exit 1`,
};

/** Writes an executable sh script `name` in `dir` and returns its path. */
async function fake(dir: string, body: string, name = 'docker'): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, name);
  await writeFile(file, `#!/bin/sh\n${body}\n`);
  await chmod(file, 0o755);
  return file;
}

describe('detectClient', () => {
  it.each([
    { kind: 'withBuildx' as const, mode: 'buildx', version: '27.1.0' },
    { kind: 'buildkitEnv' as const, mode: 'buildkit', version: '20.10.24' },
  ])('takes docker on PATH in $mode mode when it is $kind, reading its version without a daemon', async ({ kind, mode, version }) => {
    const dir = await tempDir();
    const bin = await fake(path.join(dir, 'bin'), FAKES[kind]);
    expect(await detectClient({ path: `${dir}/empty:${path.join(dir, 'bin')}`, fallbacks: [] })).toEqual({ bin, mode, version });
  });

  it('skips a client that refuses BuildKit and takes the next candidate', async () => {
    const dir = await tempDir();
    await fake(path.join(dir, 'bin'), FAKES.refusing);
    const debian = await fake(path.join(dir, 'usr-bin'), FAKES.buildkitEnv);
    const client = await detectClient({ path: path.join(dir, 'bin'), fallbacks: [debian] });
    expect(client).toMatchObject({ bin: debian, mode: 'buildkit' });
  });

  it('lists each refused candidate once (by real path) with its reason when none can build', async () => {
    const dir = await tempDir();
    const local = await fake(path.join(dir, 'local'), FAKES.refusing);
    const other = await fake(path.join(dir, 'other'), `${VERSION('1.0')}\nexit 3`);
    await mkdir(path.join(dir, 'bin'));
    await symlink(local, path.join(dir, 'bin', 'docker'));
    const err = await detectClient({ path: path.join(dir, 'bin'), fallbacks: [local, path.join(dir, 'missing', 'docker'), other] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    const message = (err as UserError).message;
    expect(message).toContain(
      `${path.join(dir, 'bin', 'docker')}: no buildx plugin, and DOCKER_BUILDKIT=1 docker build fails: ERROR: BuildKit is enabled but the buildx component is missing`,
    );
    expect(message).not.toContain(`${local}:`);
    expect(message).toContain(`${other}: no buildx plugin`);
    expect((err as UserError).hint).toMatch(/buildx plugin.*docker\.io.*scripts\/docker-daemon\.sh start.*G3_DOCKER_CLIENT/);
  });

  it('says nothing was found when no candidate exists', async () => {
    const dir = await tempDir();
    await expect(detectClient({ path: dir, fallbacks: [path.join(dir, 'nope')] })).rejects.toThrow(/no docker on PATH, nor .*nope/);
  });

  it.each([
    { how: 'by absolute path', name: (bin: string) => bin },
    { how: 'by name on PATH', name: () => 'docker' },
  ])('uses a configured client given $how, without trying others', async ({ name }) => {
    const dir = await tempDir();
    const bin = await fake(path.join(dir, 'bin'), FAKES.buildkitEnv);
    const buildx = await fake(path.join(dir, 'x'), FAKES.withBuildx);
    const client = await detectClient({ configured: name(bin), path: path.join(dir, 'bin'), fallbacks: [buildx] });
    expect(client).toEqual({ bin, mode: 'buildkit', version: '20.10.24' });
  });

  it('refuses a configured client that cannot build with BuildKit, naming it and why, even when another could', async () => {
    const dir = await tempDir();
    const bin = await fake(path.join(dir, 'bin'), FAKES.refusing);
    const good = await fake(path.join(dir, 'good'), FAKES.withBuildx);
    const err = await detectClient({ configured: bin, path: path.join(dir, 'good'), fallbacks: [good] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toBe(
      `the configured Docker client ${bin} (G3_DOCKER_CLIENT) cannot build with BuildKit: no buildx plugin, and DOCKER_BUILDKIT=1 docker build fails: ERROR: BuildKit is enabled but the buildx component is missing or broken.`,
    );
  });

  it('refuses a configured client that does not exist', async () => {
    const dir = await tempDir();
    await expect(detectClient({ configured: 'docker-nightly', path: dir })).rejects.toThrow(/configured Docker client docker-nightly .*not found/);
  });
});

describe('ensureDaemon', () => {
  it('returns the daemon version when one answers', async () => {
    const dir = await tempDir();
    const bin = await fake(dir, `echo '{"Version":"20.10.24+dfsg1","ApiVersion":"1.41"}'`);
    expect(await ensureDaemon({ bin, mode: 'buildkit', version: '20.10.24' })).toEqual({ serverVersion: '20.10.24+dfsg1' });
  });

  it('is a user error with the first stderr line and how to start a daemon when none answers', async () => {
    const dir = await tempDir();
    const bin = await fake(
      dir,
      `echo null; echo 'Cannot connect to the Docker daemon at unix:///x. Is the docker daemon running?' >&2; echo second >&2; exit 1`,
    );
    const err = await ensureDaemon({ bin, mode: 'buildkit', version: '1' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toBe(
      `no Docker daemon answers ${bin} (Cannot connect to the Docker daemon at unix:///x. Is the docker daemon running?)`,
    );
    expect((err as UserError).hint).toContain('scripts/docker-daemon.sh start');
    expect((err as UserError).hint).toContain('DOCKER_HOST');
  });
});

// The Docker class over a fake client that logs its arguments and stdin.
describe('Docker over a fake client', () => {
  async function logging(body: string) {
    const dir = await tempDir();
    const log = path.join(dir, 'log');
    const bin = await fake(dir, `printf '%s\\n' "$@" >>"${log}"\n${body}`);
    return { docker: new Docker({ bin, mode: 'buildkit', version: '1' }), log: () => readFile(log, 'utf8') };
  }

  it.each([
    { stderr: 'Error: No such image: gone:1', result: undefined },
    { stderr: 'Error response from daemon: No such image: gone:1', result: undefined },
  ])('imageInspect gives undefined for "$stderr"', async ({ stderr, result }) => {
    const { docker } = await logging(`echo '${stderr}' >&2; exit 1`);
    expect(await docker.imageInspect('gone:1')).toBe(result);
  });

  it('imageInspect throws a StepError naming the image when docker fails otherwise', async () => {
    const { docker } = await logging(`echo 'Cannot connect to the Docker daemon' >&2; exit 1`);
    await expect(docker.imageInspect('base:1')).rejects.toThrow(StepError);
    await expect(docker.imageInspect('base:1')).rejects.toThrow(/inspecting image base:1 failed \(exit code 1\): Cannot connect/);
  });

  it('imageInspect reads id, labels (none as {}), creation time, layers and names (none as [])', async () => {
    const { docker } = await logging(`echo '{"Id":"sha256:ab","Created":"2026-01-01T00:00:00Z","Config":{"Labels":null}}'`);
    expect(await docker.imageInspect('base:1')).toEqual({ id: 'sha256:ab', labels: {}, created: '2026-01-01T00:00:00Z', layers: [], tags: [] });
    const layered = await logging(
      `echo '{"Id":"sha256:cd","Created":"2026-01-01T00:00:00Z","Config":{"Labels":{"a":"b"}},"RootFS":{"Layers":["sha256:1","sha256:2"]},"RepoTags":["base:2"]}'`,
    );
    expect(await layered.docker.imageInspect('base:2')).toEqual({
      id: 'sha256:cd',
      labels: { a: 'b' },
      created: '2026-01-01T00:00:00Z',
      layers: ['sha256:1', 'sha256:2'],
      tags: ['base:2'],
    });
  });

  it('exec feeds stdin with -i, streams lines and returns the result when reject is false', async () => {
    const { docker, log } = await logging(`cat; echo done >&2; exit 4`);
    const lines: string[] = [];
    const r = await docker.exec('c1', ['sh', '-s'], { input: 'echo hi\n', env: { A: '1' }, reject: false, onLine: (l) => lines.push(l) });
    expect(r).toEqual({ exitCode: 4, stdout: 'echo hi', stderr: 'done' });
    expect(lines.sort()).toEqual(['done', 'echo hi']);
    expect((await log()).split('\n')).toEqual(['exec', '-i', '-e', 'A=1', 'c1', 'sh', '-s', '']);
  });

  it('loadStream gives docker load the bytes as they come, and says when docker load fails', async () => {
    const dir = await tempDir();
    const got = path.join(dir, 'got');
    const { docker, log } = await logging(`cat > "${got}"; echo 'Loaded image: a:1'`);
    async function* parts() {
      yield Buffer.from('first,');
      yield Buffer.alloc(4 * 1024 * 1024, 120);
    }
    await docker.loadStream(parts(), 'the image a:1');
    expect((await readFile(got)).length).toBe(6 + 4 * 1024 * 1024);
    expect((await log()).split('\n')[0]).toBe('load');
    const failing = await logging(`cat >/dev/null; echo 'Error processing tar file(exit status 1): unexpected EOF' >&2; exit 1`);
    await expect(failing.docker.loadStream(parts(), 'the image a:1')).rejects.toThrow(
      'docker load of the image a:1 failed (exit code 1): Error processing tar file(exit status 1): unexpected EOF',
    );
  });

  it('loadStream stops docker load and throws the failure of its source', async () => {
    const { docker } = await logging(`cat >/dev/null; echo 'Loaded image: a:1'`);
    async function* broken() {
      yield Buffer.from('part');
      throw new Error('the layer file vanished');
    }
    await expect(docker.loadStream(broken(), 'the image a:1')).rejects.toThrow('the layer file vanished');
  });

  it('importStream gives docker import - the bytes, then reads the new image id and its one layer', async () => {
    const dir = await tempDir();
    const got = path.join(dir, 'got');
    const id = `sha256:${'a'.repeat(64)}`;
    const { docker, log } = await logging(
      `if [ "$1" = import ]; then cat > "${got}"; echo '${id}'; exit 0; fi\necho '{"Id":"${id}","RootFS":{"Layers":["sha256:${'b'.repeat(64)}"]}}'`,
    );
    async function* parts() {
      yield Buffer.from('layer bytes');
    }
    expect(await docker.importStream(parts(), 'the layer of a:1')).toEqual({ id, diffId: `sha256:${'b'.repeat(64)}` });
    expect(await readFile(got, 'utf8')).toBe('layer bytes');
    expect((await log()).split('\n').slice(0, 2)).toEqual(['import', '-']);
  });

  it.each([
    { what: 'no image id', out: 'done', layers: '["sha256:1"]', why: 'gave "done": not an image id' },
    {
      what: 'two layers',
      out: `sha256:${'a'.repeat(64)}`,
      layers: '["sha256:1","sha256:2"]',
      why: `gave "sha256:${'a'.repeat(64)}": an image of 2 layers, not one`,
    },
  ])('importStream refuses an import that gives $what', async ({ out, layers, why }) => {
    const { docker } = await logging(`if [ "$1" = import ]; then cat >/dev/null; echo '${out}'; exit 0; fi\necho '{"Id":"x","RootFS":{"Layers":${layers}}}'`);
    async function* parts() {
      yield Buffer.from('x');
    }
    await expect(docker.importStream(parts(), 'the layer of a:1')).rejects.toThrow(`docker import of the layer of a:1 ${why}`);
  });

  it('importStream says when docker import fails', async () => {
    const { docker } = await logging(`cat >/dev/null; echo 'Error response from daemon: no space left on device' >&2; exit 1`);
    async function* parts() {
      yield Buffer.from('x');
    }
    await expect(docker.importStream(parts(), 'the layer of a:1')).rejects.toThrow(
      'docker import of the layer of a:1 failed (exit code 1): Error response from daemon: no space left on device',
    );
  });

  it('exec throws a StepError naming the step and container on failure', async () => {
    const { docker } = await logging(`echo 'E: Unable to locate package nope' >&2; exit 100`);
    await expect(docker.exec('c1', ['apt-get', 'install', 'nope'])).rejects.toThrow(
      'apt-get install nope in container c1 failed (exit code 100): E: Unable to locate package nope',
    );
  });

  it('build reports the last lines of the output and the Dockerfile when it fails', async () => {
    const { docker } = await logging(`i=0; while [ $i -lt 30 ]; do echo "step $i" >&2; i=$((i+1)); done; exit 1`);
    const err = await docker.build({ context: '/ctx', tags: [], buildArgs: {}, labels: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepError);
    const message = (err as StepError).message;
    expect(message).toContain('docker build of /ctx/Dockerfile failed (exit code 1)');
    expect(message).toContain('step 29');
    expect(message).toContain('step 10');
    expect(message).not.toContain('step 9\n');
  });
});
