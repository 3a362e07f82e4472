// Pure builders for the docker command lines the toolkit runs. Nothing here
// starts a process, so every flag can be checked by a unit test.
import { UserError } from '../errors.js';
import type { Command } from '../exec.js';
import type { DockerClient } from './client.js';

/** A command line plus the environment it needs (BuildKit mode sets DOCKER_BUILDKIT). */
export interface DockerCommand extends Command {
  env?: Record<string, string>;
}

export interface BuildOptions {
  /** The build context directory. */
  context: string;
  /** The Dockerfile, when it is not `<context>/Dockerfile`. */
  dockerfile?: string;
  tags: string[];
  buildArgs: Record<string, string>;
  labels: Record<string, string>;
  /** Where docker writes the built image's id (we ask for the id, not scrape it). */
  iidfile: string;
  target?: string;
  /** Network for RUN steps, e.g. `none` for builds that must not reach out. */
  network?: string;
  /** Target platform (`linux/arm64`) when it is not the daemon's own. */
  platform?: string;
}

export interface Mount {
  source: string;
  target: string;
  readonly?: boolean;
}

export interface ContainerSpec {
  image: string;
  name: string;
  mounts: Mount[];
  network: 'none' | 'bridge';
  /** Opt-in for hosts that allow it; otherwise the named capabilities below. */
  privileged: boolean;
  capAdd: string[];
  securityOpt: string[];
  devices: string[];
  /** tmpfs mounts, `PATH[:OPTIONS]` as `--tmpfs` takes them. */
  tmpfs?: string[];
  env?: Record<string, string>;
  labels?: Record<string, string>;
  /** The image's platform (`linux/arm64`) when it is not the daemon's own. */
  platform?: string;
  command: string[];
}

function pairs(flag: string, values: Record<string, string> = {}): string[] {
  return Object.entries(values).flatMap(([k, v]) => [flag, `${k}=${v}`]);
}

function repeated(flag: string, values: string[]): string[] {
  return values.flatMap((v) => [flag, v]);
}

/** `docker build` through buildx when present, else the classic builder with BuildKit switched on. */
export function buildCommand(client: DockerClient, opts: BuildOptions): DockerCommand {
  const flags = [
    '--iidfile',
    opts.iidfile,
    ...(opts.dockerfile ? ['-f', opts.dockerfile] : []),
    ...(opts.target ? ['--target', opts.target] : []),
    ...(opts.network ? ['--network', opts.network] : []),
    ...(opts.platform ? ['--platform', opts.platform] : []),
    ...pairs('--build-arg', opts.buildArgs),
    ...pairs('--label', opts.labels),
    ...repeated('-t', opts.tags),
    opts.context,
  ];
  if (client.mode === 'buildx') {
    // --load: buildx may use a builder whose results stay outside the image store.
    return { command: client.bin, args: ['buildx', 'build', '--load', ...flags] };
  }
  return { command: client.bin, args: ['build', ...flags], env: { DOCKER_BUILDKIT: '1' } };
}

/**
 * The --mount value for a bind mount. Its syntax is comma-separated CSV, so a
 * path with a comma, quote or newline would be split or misread: refuse it.
 */
export function bindMount(m: Mount): string {
  for (const p of [m.source, m.target]) {
    if (/[,"\n\r]/.test(p)) {
      throw new UserError(
        `cannot bind-mount ${JSON.stringify(p)} into the build container: the path contains a comma, a double quote or a newline`,
        'Move the directory (cache, workspace or output) to a path without those characters, or point the setting at one.',
      );
    }
  }
  return `type=bind,source=${m.source},target=${m.target}${m.readonly ? ',readonly' : ''}`;
}

/** Start a long-lived container; we remove it ourselves so its logs survive a failure. */
export function runDetachedCommand(client: DockerClient, spec: ContainerSpec): DockerCommand {
  const privileges = spec.privileged
    ? ['--privileged']
    : // Only the named capabilities: docker's default set is dropped first.
      ['--cap-drop', 'ALL', ...repeated('--cap-add', spec.capAdd), ...repeated('--security-opt', spec.securityOpt)];
  return {
    command: client.bin,
    args: [
      'run',
      '-d',
      '--name',
      spec.name,
      ...pairs('--label', spec.labels),
      '--network',
      spec.network,
      ...(spec.platform ? ['--platform', spec.platform] : []),
      ...privileges,
      ...repeated('--device', spec.devices),
      ...pairs('-e', spec.env),
      ...spec.mounts.flatMap((m) => ['--mount', bindMount(m)]),
      ...repeated('--tmpfs', spec.tmpfs ?? []),
      spec.image,
      ...spec.command,
    ],
  };
}

/** Run argv inside a running container; -i only when we feed stdin. */
export function execCommand(
  client: DockerClient,
  container: string,
  argv: string[],
  opts: { interactive?: boolean; env?: Record<string, string> } = {},
): DockerCommand {
  return { command: client.bin, args: ['exec', ...(opts.interactive ? ['-i'] : []), ...pairs('-e', opts.env), container, ...argv] };
}

/** Remove a container and its anonymous volumes, running or not. */
export function removeCommand(client: DockerClient, container: string): DockerCommand {
  return { command: client.bin, args: ['rm', '-f', '-v', container] };
}

/** `docker image rm` without --force: docker refuses while the image is tagged elsewhere or used by a container. */
export function removeImageCommand(client: DockerClient, image: string): DockerCommand {
  return { command: client.bin, args: ['image', 'rm', image] };
}

/** Load images from a `docker save` archive (reads the file, prints "Loaded image: ..."). */
/** `docker load` of `archive`, or of its stdin without one. */
export function loadCommand(client: DockerClient, archive?: string): DockerCommand {
  return { command: client.bin, args: archive === undefined ? ['load'] : ['load', '--input', archive] };
}

/**
 * Turn a root filesystem tarball (`-`: stdin) into an image, named `ref` when
 * given (the id is printed either way); `changes` are Dockerfile lines (ENV, CMD, LABEL...).
 */
export function importCommand(client: DockerClient, tar: string, ref?: string, changes: string[] = []): DockerCommand {
  return { command: client.bin, args: ['import', ...repeated('--change', changes), tar, ...(ref === undefined ? [] : [ref])] };
}

/**
 * A Dockerfile that turns a root filesystem tarball in the build context into
 * an image, with `changes` as its further lines. `docker import --platform`
 * needs an experimental daemon (Docker 20.10 records the host's architecture
 * otherwise), while a build from scratch records the platform it is given.
 */
export function importDockerfile(tarName: string, changes: string[] = []): string {
  if (!/^[A-Za-z0-9._-]+$/.test(tarName)) throw new UserError(`cannot import ${JSON.stringify(tarName)}: expected a plain file name`);
  for (const c of changes) if (/[\n\r]/.test(c)) throw new UserError(`an image change must be one line: ${JSON.stringify(c)}`);
  return ['FROM scratch', `ADD ${tarName} /`, ...changes, ''].join('\n');
}

/** Image metadata as one JSON document. */
export function inspectImageCommand(client: DockerClient, ref: string): DockerCommand {
  return { command: client.bin, args: ['image', 'inspect', '--format', '{{json .}}', ref] };
}

/** Give an image another name. */
export function tagCommand(client: DockerClient, source: string, target: string): DockerCommand {
  return { command: client.bin, args: ['tag', source, target] };
}
