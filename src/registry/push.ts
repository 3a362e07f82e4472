// Tag and push a local image to its targets with the docker CLI. Logins go to
// a private DOCKER_CONFIG made for this push and removed afterwards, so no
// credential outlives it (nor lands in ~/.docker); the password reaches
// docker only on stdin, and all output shown is redacted.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { DockerClient } from '../docker/client.js';
import { Docker } from '../docker/docker.js';
import { StepError, UserError } from '../errors.js';
import { type Command, run } from '../exec.js';
import { remoteImage } from './client.js';
import { type Credentials, redact } from './credentials.js';
import { loginCommand, logoutCommand, pushCommand, repoDigestsCommand } from './push-commands.js';
import { formatRef, type ImageRef, refName } from './ref.js';

export type PushEvent = { type: 'info' | 'debug' | 'warning'; message: string };

export interface PushOptions {
  client: DockerClient;
  /** The image in the local daemon: an id or a name. */
  localRef: string;
  targets: ImageRef[];
  credentials?: Credentials;
  emit: (e: PushEvent) => void;
  /** Limit for each request when the digest has to be read from the registry. */
  timeoutMs?: number;
  /** Where the private DOCKER_CONFIG directory is made; default the system temp directory. */
  tempRoot?: string;
}

export interface PushResult {
  pushed: { ref: string; digest: string }[];
}

/** The targets as docker names, refusing ones docker cannot push to. */
function pushNames(targets: ImageRef[]): { ref: ImageRef; name: string; registry: string }[] {
  if (targets.length === 0) throw new UserError('nothing to push: no target image references', 'Name at least one registry/repository:tag to push to.');
  return targets.map((t) => {
    if (t.registry === undefined) {
      throw new UserError(
        `refusing to push ${formatRef(t)}: it names no registry`,
        'Write the registry host in front of the repository, e.g. 127.0.0.1:5000/team/image:tag.',
      );
    }
    if (t.digest !== undefined)
      throw new UserError(`cannot push to ${formatRef(t)}: a digest names existing content`, 'Push to a tag instead (drop the @sha256:... part).');
    // Without a tag `docker push` would send every local tag of the repository.
    const ref = { ...t, tag: t.tag ?? 'latest' };
    return { ref, name: formatRef(ref), registry: t.registry };
  });
}

function lastLines(text: string, n = 3): string {
  return text.trim().split('\n').slice(-n).join(' | ');
}

/** The environment variables the credentials came from, for advice. */
function variables(creds: Credentials): string {
  const prefix = creds.from === 'REGISTRY_*' ? 'REGISTRY' : 'DOCKERHUB';
  return `${prefix}_USERNAME and ${prefix}_PASSWORD`;
}

/** Why a push was refused, and what to do about it, when the registry wanted credentials. */
function authAdvice(stderr: string, creds: Credentials | undefined): string {
  if (!/unauthori[sz]ed|no basic auth credentials|authentication required|denied/i.test(stderr)) return '';
  return creds
    ? `; the registry refused the credentials from ${creds.from} (user ${creds.username}): check that user may push to this repository`
    : '; the registry wants credentials: set REGISTRY_USERNAME and REGISTRY_PASSWORD';
}

/** Tag and push `localRef` to every target, logged in with `credentials` when given; returns each pushed digest. */
export async function pushImage(opts: PushOptions): Promise<PushResult> {
  const { client, credentials, emit } = opts;
  const targets = pushNames(opts.targets);
  const dir = await mkdtemp(path.join(opts.tempRoot ?? os.tmpdir(), 'g3-docker-config-'));
  await chmod(dir, 0o700);
  const env = { DOCKER_CONFIG: dir };
  const clean = (text: string) => redact(text, credentials);
  const docker = async (cmd: Command, input?: string) => {
    const r = await run(cmd, { env, input, reject: false, onLine: (line) => emit({ type: 'debug', message: clean(line) }) });
    return { ...r, stdout: clean(r.stdout), stderr: clean(r.stderr) };
  };
  const attempted: string[] = [];
  try {
    if (credentials) {
      for (const registry of new Set(targets.map((t) => t.registry))) {
        attempted.push(registry);
        const cmd = loginCommand(client, registry, credentials.username);
        const r = await docker(cmd, credentials.password);
        if (r.exitCode !== 0) {
          throw new StepError(
            `logging in to registry ${registry} as ${credentials.username} (from ${credentials.from}) failed (exit code ${r.exitCode}): ${lastLines(r.stderr)}; check ${variables(credentials)}`,
            {
              command: [cmd.command, ...cmd.args],
              exitCode: r.exitCode,
              stderr: r.stderr,
            },
          );
        }
        emit({ type: 'info', message: `logged in to ${registry} as ${credentials.username}` });
      }
    }
    const pushed: PushResult['pushed'] = [];
    for (const t of targets) {
      await new Docker(client).tag(opts.localRef, t.name);
      const cmd = pushCommand(client, t.name);
      const r = await docker(cmd);
      if (r.exitCode !== 0) {
        throw new StepError(
          `pushing ${t.name} to registry ${t.registry} failed (exit code ${r.exitCode}): ${lastLines(r.stderr)}${authAdvice(r.stderr, credentials)}`,
          {
            command: [cmd.command, ...cmd.args],
            exitCode: r.exitCode,
            stderr: r.stderr,
          },
        );
      }
      const digest = await pushedDigest(opts, t.ref, t.name, docker);
      emit({ type: 'info', message: `pushed ${t.name} (${digest})` });
      pushed.push({ ref: t.name, digest });
    }
    return { pushed };
  } finally {
    // Log out even where the login failed: docker may have stored something before the registry said no.
    // A logout that fails is reported, not fatal: the private config holding the login is removed below either way.
    for (const registry of attempted) {
      const r = await docker(logoutCommand(client, registry)).catch((err: unknown) => ({ exitCode: -1, stderr: clean((err as Error).message) }));
      if (r.exitCode !== 0)
        emit({
          type: 'warning',
          message: `logging out of ${registry} failed (${lastLines(r.stderr) || `exit code ${r.exitCode}`}); removing the private docker config that holds the login`,
        });
    }
    await rm(dir, { recursive: true, force: true });
  }
}

type Runner = (cmd: Command) => Promise<{ exitCode: number; stdout: string; stderr: string }>;

/** The manifest digest just pushed: from the image's RepoDigests when unambiguous, else from the registry itself. */
async function pushedDigest(opts: PushOptions, ref: ImageRef, name: string, docker: Runner): Promise<string> {
  const r = await docker(repoDigestsCommand(opts.client, name));
  let entries: unknown = [];
  if (r.exitCode === 0) {
    try {
      entries = JSON.parse(r.stdout);
    } catch {
      entries = [];
    }
  }
  const prefix = `${refName(ref)}@`;
  const candidates = (Array.isArray(entries) ? entries : []).filter((e): e is string => typeof e === 'string' && e.startsWith(prefix));
  // One image can have several digests in a repository (pushed before with other layer compression): ask the registry then.
  if (candidates.length === 1) return (candidates[0] as string).slice(prefix.length);
  const remote = await remoteImage(ref, { credentials: opts.credentials, timeoutMs: opts.timeoutMs ?? 30_000 });
  if (!remote) throw new StepError(`pushed ${name}, but registry ${ref.registry} does not list it afterwards`);
  return remote.digest;
}
