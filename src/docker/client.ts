// Finds a Docker client that can build with BuildKit and checks that a daemon
// answers it. Clients differ: some have the buildx plugin, Debian's 20.10 client
// builds with DOCKER_BUILDKIT=1, and newer clients without buildx refuse both.
import { constants } from 'node:fs';
import { access, realpath } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../errors.js';
import { run } from '../exec.js';

export interface DockerClient {
  /** The client binary, as found (absolute when found on PATH). */
  bin: string;
  /** How it builds with BuildKit: `docker buildx build`, or `docker build` with DOCKER_BUILDKIT=1. */
  mode: 'buildx' | 'buildkit';
  /** The client's own version (not the daemon's). */
  version: string;
}

export interface DetectOptions {
  /** A client named by the user (setting docker_client): the only one tried. */
  configured?: string;
  /** The PATH to search; default: this process's PATH. */
  path?: string;
  /** Clients tried after PATH; default /usr/bin/docker, /usr/local/bin/docker (tests replace them). */
  fallbacks?: string[];
}

// Debian's client first: with the packaged daemon it builds with BuildKit even
// when a newer client without buildx comes first on PATH.
const FALLBACKS = ['/usr/bin/docker', '/usr/local/bin/docker'];

const INSTALL_HINT =
  "Install the docker buildx plugin, or Debian's docker.io (scripts/docker-daemon.sh start installs it), or name a client that builds with BuildKit in G3_DOCKER_CLIENT (--docker-client).";

async function isExecutable(file: string): Promise<boolean> {
  return access(file, constants.X_OK).then(
    () => true,
    () => false,
  );
}

/** The first executable `name` on a PATH string, or undefined. */
async function which(name: string, searchPath: string): Promise<string | undefined> {
  if (name.includes('/')) return (await isExecutable(name)) ? path.resolve(name) : undefined;
  for (const dir of searchPath.split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, name);
    if (await isExecutable(file)) return file;
  }
  return undefined;
}

function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l) ?? ''
  );
}

/** How `bin` builds with BuildKit, or why it cannot. */
async function probe(bin: string): Promise<{ mode: DockerClient['mode'] } | { refused: string }> {
  // Both asked at once: neither changes anything, and each costs a client start (about 0.1 s).
  const [buildx, classic] = await Promise.all([
    run({ command: bin, args: ['buildx', 'version'] }, { reject: false }),
    run({ command: bin, args: ['build', '--help'] }, { reject: false, env: { DOCKER_BUILDKIT: '1' } }),
  ]);
  if (buildx.exitCode === 0) return { mode: 'buildx' };
  if (classic.exitCode === 0) return { mode: 'buildkit' };
  const why = firstLine(classic.stderr) || firstLine(buildx.stderr) || `exit code ${classic.exitCode}`;
  return { refused: `no buildx plugin, and DOCKER_BUILDKIT=1 docker build fails: ${why}` };
}

/** The client's version. `docker version` exits non-zero when no daemon answers but still prints the client part. */
async function clientVersion(bin: string): Promise<string> {
  const r = await run({ command: bin, args: ['version', '--format', '{{json .Client}}'] }, { reject: false });
  try {
    const v = (JSON.parse(firstLine(r.stdout)) as { Version?: unknown }).Version;
    return typeof v === 'string' ? v : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Pick the Docker client that builds with BuildKit: the configured one, else the first usable on PATH or in the usual places. */
export async function detectClient(opts: DetectOptions = {}): Promise<DockerClient> {
  const searchPath = opts.path ?? process.env['PATH'] ?? '';
  if (opts.configured) {
    const bin = await which(opts.configured, searchPath);
    if (!bin) throw new UserError(`the configured Docker client ${opts.configured} (G3_DOCKER_CLIENT) was not found or is not executable`, INSTALL_HINT);
    const [verdict, version] = await Promise.all([probe(bin), clientVersion(bin)]);
    if ('refused' in verdict)
      throw new UserError(`the configured Docker client ${opts.configured} (G3_DOCKER_CLIENT) cannot build with BuildKit: ${verdict.refused}`, INSTALL_HINT);
    return { bin, mode: verdict.mode, version };
  }
  const fallbacks = opts.fallbacks ?? FALLBACKS;
  const found = [await which('docker', searchPath), ...fallbacks];
  const seen = new Set<string>();
  const refusals: string[] = [];
  for (const bin of found) {
    if (!bin || !(await isExecutable(bin))) continue;
    const real = await realpath(bin);
    if (seen.has(real)) continue;
    seen.add(real);
    const [verdict, version] = await Promise.all([probe(bin), clientVersion(bin)]);
    if ('mode' in verdict) return { bin, mode: verdict.mode, version };
    refusals.push(`${bin}: ${verdict.refused}`);
  }
  const tried = refusals.length ? `; tried ${refusals.join('; ')}` : `: no docker on PATH, nor ${fallbacks.join(' or ') || 'any other place'}`;
  throw new UserError(`no Docker client that builds with BuildKit${tried}`, INSTALL_HINT);
}

/** Check that a daemon answers `client`; returns the daemon's version. */
export async function ensureDaemon(client: DockerClient): Promise<{ serverVersion: string }> {
  const r = await run({ command: client.bin, args: ['version', '--format', '{{json .Server}}'] }, { reject: false });
  let version: unknown;
  try {
    version = (JSON.parse(firstLine(r.stdout)) as { Version?: unknown } | null)?.Version;
  } catch {
    version = undefined;
  }
  if (r.exitCode === 0 && typeof version === 'string') return { serverVersion: version };
  const why = firstLine(r.stderr) || `${client.bin} version exited with code ${r.exitCode}`;
  throw new UserError(
    `no Docker daemon answers ${client.bin} (${why})`,
    'Start one: scripts/docker-daemon.sh start (installs docker.io and runs dockerd), or set DOCKER_HOST.',
  );
}
