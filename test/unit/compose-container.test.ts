// The build container's specification, the chroot mounts (always undone) and
// the composer image's references and OCI labels.
import { copyFile, mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  buildComposerImage,
  COMPOSER_INPUTS_LABEL,
  composerInputs,
  composerInputsRef,
  composerRefs,
  gitMissing,
  ociLabels,
} from '../../src/compose/images/composer-image.js';
import type { Docker } from '../../src/docker/docker.js';
import { BUILD_CAPS, BUILD_SECURITY_OPTS, containerSpec } from '../../src/compose/images/container.js';
import { chrootMounts, createdDirs, mountsUnder, withMounts } from '../../src/compose/rootfs/mounts.js';
import type { Runner, StepOptions } from '../../src/docker/runner.js';
import { StepError, UserError } from '../../src/errors.js';
import { type RunResult, run } from '../../src/exec.js';
import { useTempDirs } from './tmpdir.js';

const tempDir = useTempDirs('g3-compose-');
const ROOT = '/build/rootfs';

/** Records every command; `answer` gives a command's result (default: exit 0). Throws like the real runner unless reject is false. */
class RecordingRunner implements Runner {
  readonly where = 'fake';
  readonly calls: string[] = [];
  constructor(private readonly answer: (argv: string[]) => Partial<RunResult> | undefined = () => undefined) {}

  async run(argv: string[], opts: StepOptions = {}): Promise<RunResult> {
    this.calls.push(argv.join(' '));
    const r = { exitCode: 0, stdout: '', stderr: '', ...this.answer(argv) };
    if (r.exitCode !== 0 && opts.reject !== false) throw new StepError(`${argv[0]} failed`, { command: argv, exitCode: r.exitCode, stderr: r.stderr });
    return r;
  }

  /** A marker in the call list, for what the wrapped function did. */
  note(text: string): void {
    this.calls.push(text);
  }
}

const busy = (target: string) => (argv: string[]) => (argv.join(' ') === `umount -R ${target}` ? { exitCode: 32, stderr: 'target is busy' } : undefined);

describe('containerSpec', () => {
  const opts = {
    image: 'g3-composer/minimal:latest',
    mounts: [{ path: '/srv/cache', readonly: true }, { path: '/srv/work' }],
    labels: { 'org.g3-composer.target': 'minimal' },
  };

  it.each([
    [false, BUILD_CAPS, BUILD_SECURITY_OPTS],
    [true, [], []],
  ])('with privileged %s adds capabilities %j and security options %j', (privileged, capAdd, securityOpt) => {
    const spec = containerSpec('g3-composer-0a1b', { ...opts, privileged });
    expect(spec.privileged).toBe(privileged);
    expect(spec.capAdd).toEqual(capAdd);
    expect(spec.securityOpt).toEqual(securityOpt);
  });

  it('asks for no device, no network, and only the capabilities the stages need', () => {
    const spec = containerSpec('g3-composer-0a1b', { ...opts, privileged: false });
    expect(spec.network).toBe('none');
    expect(spec.devices).toEqual([]);
    expect([...spec.capAdd].sort()).toEqual([
      'CHOWN',
      'DAC_OVERRIDE',
      'FOWNER',
      'FSETID',
      'KILL',
      'MKNOD',
      'SETFCAP',
      'SETGID',
      'SETUID',
      'SYS_ADMIN',
      'SYS_CHROOT',
    ]);
    expect(spec.securityOpt).toEqual(['apparmor=unconfined']);
  });

  it('mounts host directories at the same paths, idles, and labels its role', () => {
    const spec = containerSpec('g3-composer-0a1b', { ...opts, privileged: false });
    expect(spec.name).toBe('g3-composer-0a1b');
    expect(spec.image).toBe('g3-composer/minimal:latest');
    expect(spec.mounts).toEqual([
      { source: '/srv/cache', target: '/srv/cache', readonly: true },
      { source: '/srv/work', target: '/srv/work', readonly: undefined },
    ]);
    expect(spec.command).toEqual(['sleep', 'infinity']);
    expect(spec.labels).toEqual({ 'org.g3-composer.role': 'build', 'org.g3-composer.target': 'minimal' });
    expect(spec.tmpfs).toEqual([]);
  });

  it('gives the scratch directory a tmpfs of its own where chroot programs may run, without setuid or devices', () => {
    const spec = containerSpec('g3-composer-0a1b', { ...opts, privileged: false, scratch: '/g3-scratch' });
    expect(spec.tmpfs).toEqual(['/g3-scratch:rw,exec,nosuid,nodev,mode=0755']);
  });

  it("runs on the composer image's platform when it is foreign, and names none otherwise", () => {
    expect(containerSpec('g3-composer-0a1b', { ...opts, privileged: false, platform: 'linux/arm64' }).platform).toBe('linux/arm64');
    expect(containerSpec('g3-composer-0a1b', { ...opts, privileged: false })).not.toHaveProperty('platform');
  });
});

describe('chrootMounts', () => {
  it('mounts proc, a read-only sysfs, /dev recursively and the repository directories read-only', () => {
    expect(chrootMounts(['/repo', '/pkg'])).toEqual([
      { at: '/proc', args: ['-t', 'proc', 'proc'] },
      { at: '/sys', args: ['-t', 'sysfs', '-o', 'ro', 'sysfs'] },
      { at: '/dev', args: ['--rbind', '/dev'] },
      { at: '/repo', args: ['--bind', '-o', 'ro', '/repo'] },
      { at: '/pkg', args: ['--bind', '-o', 'ro', '/pkg'] },
    ]);
  });
});

describe('withMounts', () => {
  const mounts = chrootMounts(['/repo']);
  const mounted = [
    `mkdir -p -v ${ROOT}/proc`,
    `mount -t proc proc ${ROOT}/proc`,
    `mkdir -p -v ${ROOT}/sys`,
    `mount -t sysfs -o ro sysfs ${ROOT}/sys`,
    `mkdir -p -v ${ROOT}/dev`,
    `mount --rbind /dev ${ROOT}/dev`,
    `mkdir -p -v ${ROOT}/repo`,
    `mount --bind -o ro /repo ${ROOT}/repo`,
  ];
  const unmounted = [`umount -R ${ROOT}/repo`, `umount -R ${ROOT}/dev`, `umount -R ${ROOT}/sys`, `umount -R ${ROOT}/proc`];

  it('mounts in order under the root, runs the step, unmounts in reverse and returns its value', async () => {
    const runner = new RecordingRunner();
    const value = await withMounts(runner, ROOT, mounts, async () => {
      runner.note('step');
      return 42;
    });
    expect(value).toBe(42);
    expect(runner.calls).toEqual([...mounted, 'step', ...unmounted, 'cat /proc/self/mountinfo']);
  });

  it('removes the mount points it had to create (deepest first), after unmounting, on success and on failure', async () => {
    const created = (argv: string[]) =>
      argv[0] === 'mkdir' && argv.at(-1) === `${ROOT}/repo` ? { stdout: `mkdir: created directory '${ROOT}/repo'` } : undefined;
    for (const step of [async () => 1, () => Promise.reject(new Error('apt failed'))]) {
      const runner = new RecordingRunner(created);
      await withMounts(runner, ROOT, mounts, step).catch(() => undefined);
      expect(runner.calls.at(-1)).toBe(`rmdir -- ${ROOT}/repo`);
      expect(runner.calls.filter((c) => c.startsWith('rmdir'))).toHaveLength(1);
    }
    expect(createdDirs("mkdir: created directory '/r/a'\nmkdir: created directory '/r/a/b'\n")).toEqual(['/r/a', '/r/a/b']);
  });

  it('fails when something is still mounted under the root after unmounting', async () => {
    const line = `36 25 0:32 / ${ROOT}/proc rw,nosuid - proc proc rw`;
    const runner = new RecordingRunner((argv) => (argv[0] === 'cat' ? { stdout: `${line}\n` } : undefined));
    await expect(withMounts(runner, ROOT, mounts, async () => 1)).rejects.toThrow(`still mounted after the stage: ${ROOT}/proc`);
  });

  it("unmounts in reverse when the step throws and reports the step's own error", async () => {
    const runner = new RecordingRunner();
    const boom = new Error('apt-get install failed');
    await expect(withMounts(runner, ROOT, mounts, () => Promise.reject(boom))).rejects.toBe(boom);
    expect(runner.calls).toEqual([...mounted, ...unmounted]);
  });

  it("reports the step's error first and the mounts that stayed too when unmounting fails", async () => {
    const runner = new RecordingRunner((argv) => (argv[0] === 'umount' ? { exitCode: 32, stderr: 'busy' } : undefined));
    const boom = new Error('dpkg failed');
    const err = await withMounts(runner, ROOT, mounts, () => Promise.reject(boom)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepError);
    expect((err as Error).message).toMatch(new RegExp(`^dpkg failed; then unmounting failed: .*${ROOT}/repo: busy`));
    expect((err as Error).cause).toBe(boom);
    expect(runner.calls.filter((c) => c.startsWith('umount -R -l'))).toHaveLength(4);
  });

  it('undoes only the mounts already made when a mount fails, and never runs the step', async () => {
    const runner = new RecordingRunner((argv) =>
      argv.join(' ') === `mount --rbind /dev ${ROOT}/dev` ? { exitCode: 32, stderr: 'permission denied' } : undefined,
    );
    let ran = false;
    const err = await withMounts(runner, ROOT, mounts, async () => {
      ran = true;
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepError);
    expect((err as StepError).details.stderr).toBe('permission denied');
    expect(ran).toBe(false);
    expect(runner.calls).toEqual([...mounted.slice(0, 6), `umount -R ${ROOT}/sys`, `umount -R ${ROOT}/proc`]);
  });

  it('detaches a busy mount lazily and succeeds', async () => {
    const runner = new RecordingRunner(busy(`${ROOT}/dev`));
    await expect(withMounts(runner, ROOT, mounts, async () => 'ok')).resolves.toBe('ok');
    expect(runner.calls.slice(mounted.length)).toEqual([
      `umount -R ${ROOT}/repo`,
      `umount -R ${ROOT}/dev`,
      `umount -R -l ${ROOT}/dev`,
      `umount -R ${ROOT}/sys`,
      `umount -R ${ROOT}/proc`,
      'cat /proc/self/mountinfo',
    ]);
  });

  it('unmounts the rest, then fails naming the mount that stayed and why', async () => {
    const runner = new RecordingRunner((argv) =>
      argv.includes(`${ROOT}/sys`) && argv[0] === 'umount' ? { exitCode: 32, stderr: 'target is busy\n' } : undefined,
    );
    const err = await withMounts(runner, ROOT, mounts, async () => 'ok').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepError);
    expect((err as Error).message).toBe(`could not unmount ${ROOT}/sys: target is busy`);
    expect(runner.calls.at(-1)).toBe(`umount -R ${ROOT}/proc`);
  });
});

describe('mountsUnder', () => {
  const mountinfo = [
    '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
    `300 22 0:5 / ${ROOT}/proc rw,nosuid shared:2 - proc proc rw`,
    `301 22 0:6 / ${ROOT}/sys ro,nosuid shared:3 - sysfs sysfs ro`,
    `302 22 0:7 / ${ROOT} rw shared:4 - tmpfs tmpfs rw`,
    `303 22 0:8 / ${ROOT}2/dev rw shared:5 - devtmpfs udev rw`,
    '304 22 0:9 / /build/other rw shared:6 - tmpfs tmpfs rw',
    '',
  ].join('\n');

  it('lists the mount points at and under the root, not a sibling that shares its prefix', async () => {
    const runner = new RecordingRunner(() => ({ stdout: mountinfo }));
    expect(await mountsUnder(runner, ROOT)).toEqual([`${ROOT}/proc`, `${ROOT}/sys`, ROOT]);
    expect(runner.calls).toEqual(['cat /proc/self/mountinfo']);
  });
});

describe('composerRefs', () => {
  it.each([
    ['minimal', ['g3-composer/composer:minimal']],
    ['latest', ['g3-composer/composer:latest']],
    ['Edge+1', ['g3-composer/composer:edge-1']],
  ])('tags the composer image of target %s as %j, whatever the target image is called', (target, refs) => {
    expect(composerRefs(target)).toEqual(refs);
  });
});

describe('ociLabels', () => {
  const now = new Date('2025-06-01T12:00:00.000Z');

  /** A project directory that is not a git repository. */
  async function project(pkg: Record<string, unknown>): Promise<string> {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'package.json'), JSON.stringify(pkg));
    return dir;
  }

  it('falls back to unknown revision and a file URL source outside git', async () => {
    const dir = await project({ version: '1.2.3' });
    expect(await ociLabels(dir, {}, now)).toEqual({
      'org.opencontainers.image.created': '2025-06-01T12:00:00.000Z',
      'org.opencontainers.image.revision': 'unknown',
      'org.opencontainers.image.version': '1.2.3',
      'org.opencontainers.image.source': `file://${dir}`,
    });
  });

  it.each([
    ['a string', 'git+file:///srv/git/g3.git'],
    ['an object with url', { type: 'git', url: 'file:///srv/git/g3.git' }],
  ])('takes the source from package.json repository given as %s', async (_what, repository) => {
    const labels = await ociLabels(await project({ repository }), {}, now);
    expect(labels['org.opencontainers.image.source']).toBe(typeof repository === 'string' ? repository : repository.url);
    expect(labels['org.opencontainers.image.version']).toBe('0.0.0');
  });

  it('takes the revision from SOURCE_COMMIT and the creation time from SOURCE_DATE_EPOCH', async () => {
    const labels = await ociLabels(await project({}), { SOURCE_COMMIT: 'abc123', SOURCE_DATE_EPOCH: '1700000000' }, now);
    expect(labels['org.opencontainers.image.revision']).toBe('abc123');
    expect(labels['org.opencontainers.image.created']).toBe('2023-11-14T22:13:20.000Z');
  });

  it('takes a missing git for "no git information" and reports any other failure of it', () => {
    expect(gitMissing(new UserError('git is not installed'))).toBeUndefined();
    const other = new StepError('git: cannot read .git: Permission denied');
    expect(() => gitMissing(other)).toThrow(other);
  });

  it('uses the current time when SOURCE_DATE_EPOCH is empty', async () => {
    const labels = await ociLabels(await project({}), { SOURCE_DATE_EPOCH: '' }, now);
    expect(labels['org.opencontainers.image.created']).toBe(now.toISOString());
  });

  it.each(['yesterday', '-5', '1.5', '99999999999999'])('refuses SOURCE_DATE_EPOCH %j as bad input naming it', async (epoch) => {
    await expect(ociLabels(await project({}), { SOURCE_DATE_EPOCH: epoch }, now)).rejects.toThrow(/SOURCE_DATE_EPOCH ".*" is not a time/);
  });

  /** A project that is a git repository of its own with one commit, and `origin` as its remote when given. */
  async function gitProject(pkg: Record<string, unknown>, origin?: string): Promise<{ dir: string; head: string }> {
    const dir = await project(pkg);
    // An identity of its own: the machine running the tests may have none configured.
    const git = (...args: string[]) =>
      run({ command: 'git', args: ['-C', dir, '-c', 'user.name=g3 test', '-c', 'user.email=g3@127.0.0.1', '-c', 'commit.gpgsign=false', ...args] });
    await git('init', '--quiet');
    await git('add', 'package.json');
    await git('commit', '--quiet', '-m', 'a commit');
    if (origin) await git('remote', 'add', 'origin', origin);
    return { dir, head: (await git('rev-parse', 'HEAD')).stdout.trim() };
  }

  it("reads the revision from the project's git repository and the source from its origin remote", async () => {
    const { dir, head } = await gitProject({ version: '4.5.6', repository: 'git+file:///srv/git/other.git' }, 'file:///srv/git/g3.git');
    expect(head).toMatch(/^[0-9a-f]{40}$/);
    expect(await ociLabels(dir, {}, now)).toEqual({
      'org.opencontainers.image.created': '2025-06-01T12:00:00.000Z',
      'org.opencontainers.image.revision': head,
      'org.opencontainers.image.version': '4.5.6',
      'org.opencontainers.image.source': 'file:///srv/git/g3.git',
    });
  });

  it('takes the source from package.json, then a file URL, in a git repository without an origin remote', async () => {
    const withField = await gitProject({ repository: 'git+file:///srv/git/g3.git' });
    const labels = await ociLabels(withField.dir, {}, now);
    expect(labels['org.opencontainers.image.revision']).toBe(withField.head);
    expect(labels['org.opencontainers.image.source']).toBe('git+file:///srv/git/g3.git');
    const bare = await gitProject({});
    expect((await ociLabels(bare.dir, {}, now))['org.opencontainers.image.source']).toBe(`file://${bare.dir}`);
  });

  it('records the origin remote without the credentials in it', async () => {
    const { dir } = await gitProject({}, 'https://ci:ghp_S3cr3t@127.0.0.1/team/repo.git');
    expect((await ociLabels(dir, {}, now))['org.opencontainers.image.source']).toBe('https://127.0.0.1/team/repo.git');
  });

  it("prefers SOURCE_COMMIT to the project's git revision", async () => {
    const { dir, head } = await gitProject({});
    expect(head).toMatch(/^[0-9a-f]{40}$/);
    const labels = await ociLabels(dir, { SOURCE_COMMIT: 'from-ci' }, now);
    expect(labels['org.opencontainers.image.revision']).toBe('from-ci');
  });
});

describe('buildComposerImage', () => {
  it('refuses a build context without a Dockerfile, naming the directory, before asking Docker anything', async () => {
    const context = await tempDir();
    const docker = new Proxy({}, { get: () => () => Promise.reject(new Error('docker was called')) }) as unknown as Docker;
    const err = await buildComposerImage({
      docker,
      context,
      projectRoot: context,
      target: 't',
      providerId: 'p',
      baseImage: 'b',
      tools: [],
      aptSources: [],
      env: {},
      emit: () => undefined,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toBe(`no Dockerfile in the build context ${context} (the target catalogue's directory)`);
  });
});

describe('the composer image from the same inputs', () => {
  const ROOT_DIR = path.resolve(import.meta.dirname, '../..');
  const build = { baseImageId: 'sha256:base1', buildArgs: { TOOLS: 'mmdebstrap', BASE_IMAGE: 'b' }, labels: { 'org.opencontainers.image.revision': 'abc' } };

  /** A context like docker/: its Dockerfile and .dockerignore, and two composer tool files. */
  async function context(): Promise<string> {
    const dir = await tempDir();
    await copyFile(path.join(ROOT_DIR, 'docker/Dockerfile'), path.join(dir, 'Dockerfile'));
    await copyFile(path.join(ROOT_DIR, 'docker/.dockerignore'), path.join(dir, '.dockerignore'));
    await mkdir(path.join(dir, '.g3-cache/composer-p'), { recursive: true });
    await writeFile(path.join(dir, '.g3-cache/composer-p/a.deb'), 'a');
    await writeFile(path.join(dir, '.g3-cache/composer-p/b.deb'), 'b');
    // Not in the build context (.dockerignore): no input.
    await mkdir(path.join(dir, '.g3-cache/other'), { recursive: true });
    await writeFile(path.join(dir, '.g3-cache/other/x.deb'), 'x');
    return dir;
  }

  it('is one digest for the same context, and another for any change of what reaches the build', async () => {
    const dir = await context();
    const first = await composerInputs({ context: dir }, build);
    expect(first).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await composerInputs({ context: dir }, build)).toBe(first);
    await writeFile(path.join(dir, '.g3-cache/other/x.deb'), 'changed outside the context');
    expect(await composerInputs({ context: dir }, build)).toBe(first);
    const changes: [string, () => Promise<unknown>, Partial<typeof build>?][] = [
      ['a tool file', () => writeFile(path.join(dir, '.g3-cache/composer-p/a.deb'), 'A')],
      ['a new tool file', () => writeFile(path.join(dir, '.g3-cache/composer-p/c.deb'), 'c')],
      ['a link', () => symlink('a.deb', path.join(dir, '.g3-cache/composer-p/l.deb'))],
      ['the Dockerfile', () => writeFile(path.join(dir, 'Dockerfile'), 'FROM scratch\n')],
    ];
    const seen = new Set([first]);
    for (const [what, change] of changes) {
      await change();
      const now = await composerInputs({ context: dir }, build);
      expect(seen.has(now), what).toBe(false);
      seen.add(now);
    }
    for (const other of [
      { ...build, baseImageId: 'sha256:base2' },
      { ...build, buildArgs: { ...build.buildArgs, TOOLS: 'x' } },
      { ...build, labels: {} },
    ])
      expect(seen.has(await composerInputs({ context: dir }, other))).toBe(false);
    expect(seen.has(await composerInputs({ context: dir, platform: 'linux/arm64' }, build))).toBe(false);
  });

  it('is undefined when the context may hold more: another .dockerignore, or a Dockerfile of DOCKERFILE_PATH', async () => {
    const dir = await context();
    expect(await composerInputs({ context: dir, dockerfile: 'Dockerfile.small' }, build)).toBeUndefined();
    await writeFile(path.join(dir, '.dockerignore'), '*\n!Dockerfile\n!.g3-cache/composer-*\n!extra\n');
    expect(await composerInputs({ context: dir }, build)).toBeUndefined();
    await writeFile(path.join(dir, '.dockerignore'), '# only comments and the three lines\n\n*\n!Dockerfile\n  !.g3-cache/composer-*\n');
    expect(await composerInputs({ context: dir }, build)).toMatch(/^sha256:/);
  });

  /** A Docker that holds `images` (ref -> id and labels) and records builds, tags and removals. */
  function fakeDocker(images: Map<string, { id: string; labels: Record<string, string> }>, inUse = new Set<string>()) {
    const calls: string[] = [];
    const byId = (id: string) => [...images.values()].find((i) => i.id === id);
    const docker = {
      imageInspect: async (ref: string) => {
        const found = images.get(ref);
        if (!found) return undefined;
        const tags = [...images].filter(([, i]) => i.id === found.id).map(([name]) => name);
        return { ...found, created: '', layers: [], tags };
      },
      tag: async (src: string, ref: string) => {
        calls.push(`tag ${src} ${ref}`);
        images.set(ref, byId(src) ?? images.get(src) ?? { id: src, labels: {} });
      },
      build: async (o: { tags: string[]; labels: Record<string, string> }) => {
        calls.push(`build ${o.tags.join(' ')}`);
        for (const t of o.tags) images.set(t, { id: 'sha256:built', labels: o.labels });
        return { imageId: 'sha256:built' };
      },
      removeImageIfUnused: async (ref: string) => {
        calls.push(`rm ${ref}`);
        if (inUse.has(images.get(ref)?.id ?? '')) return false;
        images.delete(ref);
        return true;
      },
    } as unknown as Docker;
    return { docker, calls };
  }

  const options = (dir: string, docker: Docker, target: string) => ({
    docker,
    context: dir,
    projectRoot: ROOT_DIR,
    target,
    providerId: 'p',
    baseImage: 'b',
    baseImageId: 'sha256:base1',
    tools: ['mmdebstrap'],
    aptSources: [],
    created: new Date(0),
    env: { SOURCE_COMMIT: 'abc' },
    emit: () => undefined,
  });

  it("is built once, under the target's name and its inputs' name, then taken by another target without docker build", async () => {
    const dir = await context();
    const images = new Map<string, { id: string; labels: Record<string, string> }>();
    const { docker, calls } = fakeDocker(images);
    const made = await buildComposerImage(options(dir, docker, 'one'));
    const inputs = made.labels[COMPOSER_INPUTS_LABEL] as string;
    expect(inputs).toMatch(/^sha256:/);
    expect(calls).toEqual([`build g3-composer/composer:one ${composerInputsRef(inputs)}`]);
    const other = await buildComposerImage(options(dir, docker, 'two'));
    expect(other.imageId).toBe('sha256:built');
    expect(calls.slice(1)).toEqual(['tag sha256:built g3-composer/composer:two']);
  });

  /** The inputs name of an image made from other inputs. */
  const OLD_INPUTS = 'g3-composer/composer:inputs-0123456789abcdef';
  /** A daemon's images where that image (sha256:old) has its inputs name and the names of `targets`. */
  function oldImageNamed(...targets: string[]) {
    const old = { id: 'sha256:old', labels: { [COMPOSER_INPUTS_LABEL]: 'sha256:other' } };
    return new Map<string, { id: string; labels: Record<string, string> }>([
      ...targets.map((t) => [`g3-composer/composer:${t}`, old] as const),
      [OLD_INPUTS, old],
    ]);
  }

  it('is built again when the image under its name was made from other inputs, and the old one loses its inputs name', async () => {
    const dir = await context();
    const images = oldImageNamed('one');
    const { docker, calls } = fakeDocker(images);
    const made = await buildComposerImage(options(dir, docker, 'one'));
    expect(calls).toEqual([`build g3-composer/composer:one ${composerInputsRef(made.labels[COMPOSER_INPUTS_LABEL] as string)}`, `rm ${OLD_INPUTS}`]);
    expect([...images.keys()].sort()).toEqual([composerInputsRef(made.labels[COMPOSER_INPUTS_LABEL] as string), 'g3-composer/composer:one']);
  });

  it('keeps the old image when another target still names it; a name taken by the new image stays', async () => {
    const dir = await context();
    const images = oldImageNamed('one', 'two');
    const { docker, calls } = fakeDocker(images);
    await buildComposerImage(options(dir, docker, 'one'));
    expect(calls.filter((c) => c.startsWith('rm '))).toEqual([]);
    expect(images.get(OLD_INPUTS)?.id).toBe('sha256:old');

    // The same inputs built again (another id): the inputs name is the new image's now, and is kept.
    const same = oldImageNamed('one');
    same.delete(OLD_INPUTS);
    const again = fakeDocker(same);
    const made = await buildComposerImage(options(dir, again.docker, 'one'));
    const shared = composerInputsRef(made.labels[COMPOSER_INPUTS_LABEL] as string);
    same.set('g3-composer/composer:one', { id: 'sha256:old', labels: {} });
    same.set(shared, { id: 'sha256:old', labels: {} });
    await buildComposerImage(options(dir, again.docker, 'one'));
    expect(again.calls.filter((c) => c.startsWith('rm '))).toEqual([]);
    expect(same.get(shared)?.id).toBe('sha256:built');
  });

  it('keeps the old image while a container uses it', async () => {
    const dir = await context();
    const images = oldImageNamed('one');
    const { docker, calls } = fakeDocker(images, new Set(['sha256:old']));
    await buildComposerImage(options(dir, docker, 'one'));
    expect(calls).toContain(`rm ${OLD_INPUTS}`);
    expect(images.get(OLD_INPUTS)?.id).toBe('sha256:old');
  });
});
