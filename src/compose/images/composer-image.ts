// The composer image: docker/Dockerfile on the base image, its tools installed
// from .g3-cache through a bind mount of the build context. Tagged from the
// target, with OCI labels.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Docker } from '../../docker/docker.js';
import { UserError } from '../../errors.js';
import { run } from '../../exec.js';
import type { Emit } from '../../log/events.js';
import { withoutCredentials } from '../../text/untrusted.js';

export interface ComposerImageOptions {
  docker: Docker;
  /** The build context (the directory of the target catalogue). */
  context: string;
  projectRoot: string;
  target: string;
  providerId: string;
  baseImage: string;
  /** The tools the target asks for (installed from .g3-cache, downloaded only when missing there). */
  tools: string[];
  /** apt sources lines for that fallback download, from configuration (see fallback.ts). */
  aptSources: string[];
  /** Network for the build's RUN steps: 'host' when a repository is on this machine's loopback. */
  network?: 'host';
  /** The image's platform (`linux/arm64`) when it is not this host's: its RUN steps run through qemu-user. */
  platform?: string;
  /** The build's SOURCE_DATE_EPOCH (see source-date.ts), for the created label; default now. */
  created?: Date;
  /** The Dockerfile relative to the context (Docker Hub's DOCKERFILE_PATH); default `Dockerfile`. */
  dockerfile?: string;
  env: Record<string, string | undefined>;
  emit: Emit;
}

export interface ComposerImage {
  imageId: string;
  refs: string[];
  labels: Record<string, string>;
}

/**
 * The composer image's reference: a tool image of this machine, never pushed.
 * The target's `image:`/`tags:` name the image that carries the disk image (src/pipeline/).
 */
export function composerRefs(target: string): string[] {
  return [`g3-composer/composer:${target.toLowerCase().replace(/[^a-z0-9_.-]/g, '-')}`];
}

/** For a git call that may fail: git not being installed (run's UserError) means "no git information"; any other failure is thrown. */
export function gitMissing(err: unknown): undefined {
  if (err instanceof UserError) return undefined;
  throw err;
}

/** OCI labels: created, revision (SOURCE_COMMIT or git), version (toolkit), source. */
export async function ociLabels(projectRoot: string, env: Record<string, string | undefined>, now: Date = new Date()): Promise<Record<string, string>> {
  const pkg = JSON.parse(await readFile(path.join(projectRoot, 'package.json'), 'utf8')) as { version?: string; repository?: string | { url?: string } };
  const git = async (args: string[]) => {
    const r = await run({ command: 'git', args: ['-C', projectRoot, ...args] }, { reject: false }).catch(gitMissing);
    return r && r.exitCode === 0 ? r.stdout.trim() : undefined;
  };
  const repoField = typeof pkg.repository === 'string' ? pkg.repository : pkg.repository?.url;
  const epoch = sourceDate(env.SOURCE_DATE_EPOCH) ?? now;
  return {
    'org.opencontainers.image.created': epoch.toISOString(),
    'org.opencontainers.image.revision': env.SOURCE_COMMIT || (await git(['rev-parse', 'HEAD'])) || 'unknown',
    'org.opencontainers.image.version': pkg.version ?? '0.0.0',
    // A remote URL can carry a token (https://ci:TOKEN@host/repo.git); the label is pushed with the image.
    'org.opencontainers.image.source': withoutCredentials((await git(['config', '--get', 'remote.origin.url'])) || repoField || `file://${projectRoot}`),
  };
}

/** SOURCE_DATE_EPOCH as a date; a value that is not a whole number of seconds in range is bad input. */
export function sourceDate(value: string | undefined): Date | undefined {
  if (value === undefined || value === '') return undefined;
  const d = /^\d{1,12}$/.test(value) ? new Date(Number(value) * 1000) : undefined;
  if (!d || Number.isNaN(d.getTime())) throw new UserError(`SOURCE_DATE_EPOCH "${value}" is not a time: expected whole seconds since 1970`);
  return d;
}

/** The Dockerfile in the build context: `name` (relative, inside the context) or `Dockerfile`. */
export function contextDockerfile(context: string, name?: string): string {
  if (!name) return path.join(context, 'Dockerfile');
  const file = path.resolve(context, name);
  const rel = path.relative(context, file);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel) || name.includes('\0')) {
    throw new UserError(
      `the Dockerfile ${JSON.stringify(name)} (DOCKERFILE_PATH) is outside the build context ${context}`,
      'Give a path relative to the build context, e.g. Dockerfile or variants/Dockerfile.small.',
    );
  }
  return file;
}

/** Build the composer image with BuildKit; Docker's own cache makes an unchanged rebuild quick. */
export async function buildComposerImage(o: ComposerImageOptions): Promise<ComposerImage> {
  const dockerfile = contextDockerfile(o.context, o.dockerfile);
  if (
    !(await stat(dockerfile).then(
      (st) => st.isFile(),
      () => false,
    ))
  ) {
    if (o.dockerfile)
      throw new UserError(
        `the Dockerfile ${o.dockerfile} (DOCKERFILE_PATH) is not a file in the build context ${o.context}`,
        "DOCKERFILE_PATH is relative to the build context, the target catalogue's directory.",
      );
    throw new UserError(
      `no Dockerfile in the build context ${o.context} (the target catalogue's directory)`,
      `Copy docker/Dockerfile and docker/.dockerignore from g3-composer into ${o.context}, or keep the catalogue in docker/.`,
    );
  }
  const refs = composerRefs(o.target);
  const labels = { ...(await ociLabels(o.projectRoot, o.env, o.created)), 'org.g3-composer.provider-id': o.providerId, 'org.g3-composer.target': o.target };
  o.emit({ type: 'info', message: `building the composer image ${refs[0]} (tools from .g3-cache)` });
  const { imageId } = await o.docker.build({
    context: o.context,
    ...(o.dockerfile ? { dockerfile } : {}),
    tags: refs,
    buildArgs: { BASE_IMAGE: o.baseImage, PROVIDER: o.providerId, TOOLS: o.tools.join(' '), APT_SOURCES: o.aptSources.join('\n') },
    labels,
    network: o.network,
    platform: o.platform,
    onLine: (line) => o.emit({ type: 'debug', message: `docker build: ${line}` }),
  });
  return { imageId, refs, labels };
}
