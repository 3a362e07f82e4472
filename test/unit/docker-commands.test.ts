import { describe, expect, it } from 'vitest';
import type { DockerClient } from '../../src/docker/client.js';
import {
  bindMount,
  buildCommand,
  type ContainerSpec,
  execCommand,
  importCommand,
  importDockerfile,
  inspectImageCommand,
  removeCommand,
  runDetachedCommand,
  tagCommand,
} from '../../src/docker/commands.js';
import { UserError } from '../../src/errors.js';

const buildx: DockerClient = { bin: '/opt/docker', mode: 'buildx', version: '27.0.0' };
const buildkit: DockerClient = { bin: '/usr/bin/docker', mode: 'buildkit', version: '20.10.24' };

const spec = (over: Partial<ContainerSpec> = {}): ContainerSpec => ({
  image: 'g3-base:trixie',
  name: 'g3c-1',
  mounts: [],
  network: 'none',
  privileged: false,
  capAdd: [],
  securityOpt: [],
  devices: [],
  command: ['sleep', 'infinity'],
  ...over,
});

describe('buildCommand', () => {
  const opts = {
    context: '/ctx',
    dockerfile: '/ctx/Dockerfile.g3',
    tags: ['a:1', 'a:latest'],
    buildArgs: { SUITE: 'trixie' },
    labels: { 'org.g3.lock': 'abc' },
    iidfile: '/tmp/iid',
  };
  const flags = [
    '--iidfile',
    '/tmp/iid',
    '-f',
    '/ctx/Dockerfile.g3',
    '--build-arg',
    'SUITE=trixie',
    '--label',
    'org.g3.lock=abc',
    '-t',
    'a:1',
    '-t',
    'a:latest',
    '/ctx',
  ];

  it.each([
    { client: buildx, args: ['buildx', 'build', '--load', ...flags], env: undefined },
    { client: buildkit, args: ['build', ...flags], env: { DOCKER_BUILDKIT: '1' } },
  ])('builds with $client.mode: loads the image with buildx, sets DOCKER_BUILDKIT=1 otherwise', ({ client, args, env }) => {
    const cmd = buildCommand(client, opts);
    expect(cmd.command).toBe(client.bin);
    expect(cmd.args).toEqual(args);
    expect(cmd.env).toEqual(env);
  });

  it('adds --target and --network only when asked, and leaves -f out without a dockerfile', () => {
    const bare = buildCommand(buildkit, { context: '.', tags: [], buildArgs: {}, labels: {}, iidfile: 'i' });
    expect(bare.args).toEqual(['build', '--iidfile', 'i', '.']);
    const full = buildCommand(buildkit, { context: '.', tags: [], buildArgs: {}, labels: {}, iidfile: 'i', target: 'base', network: 'none' });
    expect(full.args).toEqual(['build', '--iidfile', 'i', '--target', 'base', '--network', 'none', '.']);
  });

  it('asks for a platform only when given one (a foreign architecture), before the build arguments', () => {
    const cmd = buildCommand(buildkit, { context: '.', tags: [], buildArgs: { A: '1' }, labels: {}, iidfile: 'i', platform: 'linux/arm64' });
    expect(cmd.args).toEqual(['build', '--iidfile', 'i', '--platform', 'linux/arm64', '--build-arg', 'A=1', '.']);
    expect(buildCommand(buildkit, { context: '.', tags: [], buildArgs: {}, labels: {}, iidfile: 'i' }).args).not.toContain('--platform');
  });

  it('passes values with spaces and equals signs as single arguments', () => {
    const cmd = buildCommand(buildx, { context: '.', tags: [], buildArgs: { A: 'x = y z' }, labels: {}, iidfile: 'i' });
    expect(cmd.args).toContain('A=x = y z');
  });
});

describe('runDetachedCommand', () => {
  it.each([
    {
      what: 'named capabilities and security options by default',
      spec: spec({ capAdd: ['SYS_ADMIN', 'MKNOD'], securityOpt: ['apparmor=unconfined'] }),
      present: ['--cap-drop', 'ALL', '--cap-add', 'SYS_ADMIN', '--cap-add', 'MKNOD', '--security-opt', 'apparmor=unconfined'],
      absent: '--privileged',
    },
    {
      what: '--privileged alone when privileged, dropping the named capabilities',
      spec: spec({ privileged: true, capAdd: ['SYS_ADMIN'], securityOpt: ['apparmor=unconfined'] }),
      present: ['--privileged'],
      absent: '--cap-add',
    },
  ])('uses $what', ({ spec: s, present, absent }) => {
    const args = runDetachedCommand(buildkit, s).args;
    expect(args.join(' ')).toContain(present.join(' '));
    expect(args).not.toContain(absent);
    if (s.privileged) expect(args).not.toContain('--security-opt');
  });

  it('lays out name, labels, network, devices, env, mounts, then image and command', () => {
    const cmd = runDetachedCommand(
      buildkit,
      spec({
        network: 'bridge',
        devices: ['/dev/loop-control'],
        env: { LANG: 'C.UTF-8' },
        labels: { 'org.g3.owner': '42' },
        mounts: [
          { source: '/cache/pool', target: '/g3/pool', readonly: true },
          { source: '/work/out', target: '/g3/out' },
        ],
      }),
    );
    expect(cmd).toEqual({
      command: '/usr/bin/docker',
      args: [
        'run',
        '-d',
        '--name',
        'g3c-1',
        '--label',
        'org.g3.owner=42',
        '--network',
        'bridge',
        '--cap-drop',
        'ALL',
        '--device',
        '/dev/loop-control',
        '-e',
        'LANG=C.UTF-8',
        '--mount',
        'type=bind,source=/cache/pool,target=/g3/pool,readonly',
        '--mount',
        'type=bind,source=/work/out,target=/g3/out',
        'g3-base:trixie',
        'sleep',
        'infinity',
      ],
    });
    expect(cmd.args).not.toContain('--rm');
  });

  it('adds each tmpfs after the bind mounts, with its options', () => {
    const args = runDetachedCommand(buildkit, spec({ mounts: [{ source: '/w', target: '/w' }], tmpfs: ['/g3-scratch:rw,exec,nosuid,nodev,mode=0755'] })).args;
    expect(args.slice(-6)).toEqual([
      'type=bind,source=/w,target=/w',
      '--tmpfs',
      '/g3-scratch:rw,exec,nosuid,nodev,mode=0755',
      'g3-base:trixie',
      'sleep',
      'infinity',
    ]);
    expect(runDetachedCommand(buildkit, spec()).args).not.toContain('--tmpfs');
  });

  it.each([
    { source: '/cache/a,b', target: '/g3/x' },
    { source: '/cache/a"b', target: '/g3/x' },
    { source: '/cache/a\nb', target: '/g3/x' },
    { source: '/cache/ok', target: '/g3/x,readonly=false' },
  ])('refuses the mount path $source -> $target, naming it', (m) => {
    const bad = /[,"\n]/.test(m.source) ? m.source : m.target;
    expect(() => runDetachedCommand(buildkit, spec({ mounts: [m] }))).toThrow(UserError);
    expect(() => bindMount(m)).toThrow(JSON.stringify(bad));
  });
});

describe('platforms', () => {
  it('runs the build container with --platform before the image only when given one', () => {
    const args = runDetachedCommand(buildkit, spec({ platform: 'linux/arm64' })).args;
    expect(args.slice(args.indexOf('--platform'), args.indexOf('--platform') + 2)).toEqual(['--platform', 'linux/arm64']);
    expect(args.indexOf('--platform')).toBeLessThan(args.indexOf('g3-base:trixie'));
    expect(runDetachedCommand(buildkit, spec()).args).not.toContain('--platform');
  });

  it('imports a tarball through a Dockerfile from scratch, with the changes as its lines', () => {
    expect(importDockerfile('base.tar', ['CMD ["/bin/bash"]', 'LABEL a=b'])).toBe('FROM scratch\nADD base.tar /\nCMD ["/bin/bash"]\nLABEL a=b\n');
  });

  it.each([['../base.tar'], ['a b.tar'], ['x\nRUN id']])('refuses %j as the tarball name of an import Dockerfile', (name) => {
    expect(() => importDockerfile(name)).toThrow(UserError);
  });

  it('refuses a change that would add a line to the import Dockerfile', () => {
    expect(() => importDockerfile('base.tar', ['LABEL a=b\nRUN id'])).toThrow(UserError);
  });
});

describe('the small builders', () => {
  it.each([
    { what: 'exec without stdin', cmd: execCommand(buildkit, 'c1', ['apt-get', 'install', '-y', 'x']), args: ['exec', 'c1', 'apt-get', 'install', '-y', 'x'] },
    {
      what: 'exec with stdin and env',
      cmd: execCommand(buildkit, 'c1', ['sh', '-s'], { interactive: true, env: { A: '1', B: 'two words' } }),
      args: ['exec', '-i', '-e', 'A=1', '-e', 'B=two words', 'c1', 'sh', '-s'],
    },
    { what: 'remove', cmd: removeCommand(buildkit, 'c1'), args: ['rm', '-f', '-v', 'c1'] },
    {
      what: 'import with changes',
      cmd: importCommand(buildkit, '/t/root.tar', 'base:1', ['ENV LANG=C.UTF-8', 'CMD ["/bin/sh"]']),
      args: ['import', '--change', 'ENV LANG=C.UTF-8', '--change', 'CMD ["/bin/sh"]', '/t/root.tar', 'base:1'],
    },
    { what: 'import without changes', cmd: importCommand(buildkit, 'r.tar', 'base:1'), args: ['import', 'r.tar', 'base:1'] },
    { what: 'import from stdin, unnamed', cmd: importCommand(buildkit, '-'), args: ['import', '-'] },
    { what: 'inspect', cmd: inspectImageCommand(buildkit, 'base:1'), args: ['image', 'inspect', '--format', '{{json .}}', 'base:1'] },
    { what: 'tag', cmd: tagCommand(buildkit, 'sha256:ab', 'base:2'), args: ['tag', 'sha256:ab', 'base:2'] },
  ])('builds $what', ({ cmd, args }) => {
    expect(cmd.command).toBe('/usr/bin/docker');
    expect(cmd.args).toEqual(args);
    expect(cmd.env).toBeUndefined();
  });
});
