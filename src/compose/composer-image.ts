// The composer image: docker/Dockerfile on the base image, its tools installed
// from .g3-cache through a bind mount of the build context. Tagged from the
// target, with OCI labels.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Docker } from '../docker/docker.js';
import { UserError } from '../errors.js';
import { run } from '../exec.js';
import type { Emit } from '../log/events.js';

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
  /** The build's SOURCE_DATE_EPOCH (see source-date.ts), for the created label; default now. */
  created?: Date;
  /** Repository and tags from the target (`image:` and `tags:` keys), else g3-composer/<target>:latest. */
  repository?: string;
  tags?: string[];
  env: Record<string, string | undefined>;
  emit: Emit;
}

export interface ComposerImage {
  imageId: string;
  refs: string[];
  labels: Record<string, string>;
}

/** The image references for a target. */
export function composerRefs(target: string, repository?: string, tags?: string[]): string[] {
  const repo = repository ?? `g3-composer/${target}`;
  return (tags && tags.length > 0 ? tags : ['latest']).map((t) => `${repo}:${t}`);
}

/** OCI labels: created, revision (SOURCE_COMMIT or git), version (toolkit), source. */
export async function ociLabels(projectRoot: string, env: Record<string, string | undefined>, now: Date = new Date()): Promise<Record<string, string>> {
  const pkg = JSON.parse(await readFile(path.join(projectRoot, 'package.json'), 'utf8')) as { version?: string; repository?: string | { url?: string } };
  const git = async (args: string[]) => {
    const r = await run({ command: 'git', args: ['-C', projectRoot, ...args] }, { reject: false }).catch(() => undefined);
    return r && r.exitCode === 0 ? r.stdout.trim() : undefined;
  };
  const repoField = typeof pkg.repository === 'string' ? pkg.repository : pkg.repository?.url;
  const epoch = sourceDate(env.SOURCE_DATE_EPOCH) ?? now;
  return {
    'org.opencontainers.image.created': epoch.toISOString(),
    'org.opencontainers.image.revision': env.SOURCE_COMMIT || (await git(['rev-parse', 'HEAD'])) || 'unknown',
    'org.opencontainers.image.version': pkg.version ?? '0.0.0',
    'org.opencontainers.image.source': (await git(['config', '--get', 'remote.origin.url'])) || repoField || `file://${projectRoot}`,
  };
}

/** SOURCE_DATE_EPOCH as a date; a value that is not a whole number of seconds in range is bad input. */
export function sourceDate(value: string | undefined): Date | undefined {
  if (value === undefined || value === '') return undefined;
  const d = /^\d{1,12}$/.test(value) ? new Date(Number(value) * 1000) : undefined;
  if (!d || Number.isNaN(d.getTime())) throw new UserError(`SOURCE_DATE_EPOCH "${value}" is not a time: expected whole seconds since 1970`);
  return d;
}

/** Build the composer image with BuildKit; Docker's own cache makes an unchanged rebuild quick. */
export async function buildComposerImage(o: ComposerImageOptions): Promise<ComposerImage> {
  const dockerfile = path.join(o.context, 'Dockerfile');
  if (!(await stat(dockerfile).then((st) => st.isFile(), () => false))) {
    throw new UserError(`no Dockerfile in the build context ${o.context} (the target catalogue's directory)`, `Copy docker/Dockerfile and docker/.dockerignore from g3-composer into ${o.context}, or keep the catalogue in docker/.`);
  }
  const refs = composerRefs(o.target, o.repository, o.tags);
  const labels = { ...(await ociLabels(o.projectRoot, o.env, o.created)), 'org.g3-composer.provider-id': o.providerId, 'org.g3-composer.target': o.target };
  o.emit({ type: 'info', message: `building the composer image ${refs[0]} (tools from .g3-cache)` });
  const { imageId } = await o.docker.build({
    context: o.context,
    tags: refs,
    buildArgs: { BASE_IMAGE: o.baseImage, PROVIDER: o.providerId, TOOLS: o.tools.join(' '), APT_SOURCES: o.aptSources.join('\n') },
    labels,
    network: o.network,
    onLine: (line) => o.emit({ type: 'debug', message: `docker build: ${line}` }),
  });
  return { imageId, refs, labels };
}
