// The composer image: docker/Dockerfile on the base image, its tools installed
// from .g3-cache through a bind mount of the build context. Tagged from the
// target (and from its inputs, so targets with the same tools share it), with
// OCI labels.
import { createHash } from 'node:crypto';
import { readdir, readFile, readlink, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Docker, ImageInfo } from '../../docker/docker.js';
import { UserError } from '../../errors.js';
import { run } from '../../exec.js';
import type { Emit } from '../../log/events.js';
import { hashFile } from '../../fs/hash.js';
import { mapPool } from '../../pool.js';
import { withoutCredentials } from '../../text/untrusted.js';
import { byCodeUnit } from '../../text/order.js';

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
  /** The base image's id: with it, an image made from the same inputs is reused without docker build (composerInputs). */
  baseImageId?: string;
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

/** The label holding the digest of everything a composer image was made from (composerInputs). */
export const COMPOSER_INPUTS_LABEL = 'org.g3-composer.composer-inputs';

/** The `.dockerignore` of docker/ (comments and blank lines aside): the context is the Dockerfile and the composer tools. */
const CLOSED_CONTEXT = ['*', '!Dockerfile', '!.g3-cache/composer-*'];

/**
 * The digest of everything the composer image is made from, when the build
 * context can hold nothing else: its `.dockerignore` is docker/'s (only the
 * Dockerfile and `.g3-cache/composer-*` reach the build) and the Dockerfile is
 * the context's own. It covers the Dockerfile, the `.dockerignore`, every file
 * of `.g3-cache/composer-*` (by content; links by target), the base image's id,
 * the build arguments, the labels, the platform and the network. Undefined for
 * any other context: Docker (BuildKit's cache) decides then.
 */
export async function composerInputs(
  o: Pick<ComposerImageOptions, 'context' | 'dockerfile' | 'platform' | 'network'>,
  build: { baseImageId: string; buildArgs: Record<string, string>; labels: Record<string, string> },
): Promise<string | undefined> {
  const dockerfile = contextDockerfile(o.context, o.dockerfile);
  if (dockerfile !== path.join(o.context, 'Dockerfile')) return undefined;
  const ignore = await readFile(path.join(o.context, '.dockerignore'), 'utf8').catch(() => undefined);
  const lines = ignore
    ?.split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  if (!lines || lines.join('\n') !== CLOSED_CONTEXT.join('\n')) return undefined;
  // Each entry in walk order, with what stands for its content (a regular file's SHA256 comes after the walk).
  const found: [string, string | { file: string }][] = [];
  const cache = path.join(o.context, '.g3-cache');
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    for (const e of entries.sort((a, b) => byCodeUnit(a.name, b.name))) {
      const p = path.join(dir, e.name);
      const rel = path.relative(o.context, p);
      if (e.isDirectory()) await walk(p);
      else if (e.isSymbolicLink()) found.push([rel, `link ${await readlink(p)}`]);
      else if (e.isFile()) found.push([rel, { file: p }]);
      else found.push([rel, 'other']);
    }
  };
  const sections = (await readdir(cache, { withFileTypes: true }).catch(() => [])).filter((e) => e.name.startsWith('composer-') && e.isDirectory());
  for (const e of sections.sort((a, b) => byCodeUnit(a.name, b.name))) await walk(path.join(cache, e.name));
  // Eight at a time: one by one, the 60 tool packages of the default target took 80-200 ms.
  const files = await mapPool(
    found,
    8,
    async ([rel, what]): Promise<[string, string]> => [rel, typeof what === 'string' ? what : (await hashFile(what.file, { noFollow: true })).sha256],
  );
  const sorted = (r: Record<string, string>) => Object.entries(r).sort(([a], [b]) => byCodeUnit(a, b));
  const digest = createHash('sha256').update(
    JSON.stringify({
      recipe: 1,
      dockerfile: createHash('sha256')
        .update(await readFile(dockerfile))
        .digest('hex'),
      dockerignore: createHash('sha256')
        .update(ignore ?? '')
        .digest('hex'),
      files,
      base: build.baseImageId,
      buildArgs: sorted(build.buildArgs),
      labels: sorted(build.labels),
      platform: o.platform ?? null,
      network: o.network ?? null,
    }),
  );
  return `sha256:${digest.digest('hex')}`;
}

/** The name every composer image made from the same inputs also gets, so a target with the same tools finds it. */
export function composerInputsRef(inputs: string): string {
  return `${INPUTS_TAG_PREFIX}${inputs.replace(/^sha256:/, '').slice(0, 16)}`;
}

const INPUTS_TAG_PREFIX = 'g3-composer/composer:inputs-';

/**
 * Build the composer image with BuildKit; Docker's own cache makes an
 * unchanged rebuild quick. When the context is docker/'s (composerInputs),
 * an image already made from the same inputs, under the target's name or by
 * another target, is taken without running docker build at all (about 1.5 s).
 */
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
  const labels: Record<string, string> = { ...(await ociLabels(o.projectRoot, o.env, o.created)), 'org.g3-composer.provider-id': o.providerId };
  const buildArgs = { BASE_IMAGE: o.baseImage, PROVIDER: o.providerId, TOOLS: o.tools.join(' '), APT_SOURCES: o.aptSources.join('\n') };
  const inputs = o.baseImageId ? await composerInputs(o, { baseImageId: o.baseImageId, buildArgs, labels }) : undefined;
  const previous = await o.docker.imageInspect(refs[0] as string);
  if (inputs) {
    const shared = composerInputsRef(inputs);
    for (const ref of [refs[0] as string, shared]) {
      const found = ref === refs[0] ? previous : await o.docker.imageInspect(ref);
      if (found?.labels[COMPOSER_INPUTS_LABEL] !== inputs) continue;
      for (const name of [...refs, shared]) if (name !== ref) await o.docker.tag(found.id, name);
      o.emit({ type: 'info', message: `composer image ${refs[0]}: ${found.id.slice(0, 19)} reused, made from the same Dockerfile, base image and tools` });
      await retire(o, previous, found.id, refs);
      return { imageId: found.id, refs, labels: { ...labels, [COMPOSER_INPUTS_LABEL]: inputs } };
    }
    labels[COMPOSER_INPUTS_LABEL] = inputs;
  }
  o.emit({ type: 'info', message: `building the composer image ${refs[0]} (tools from .g3-cache)` });
  const { imageId } = await o.docker.build({
    context: o.context,
    ...(o.dockerfile ? { dockerfile } : {}),
    tags: inputs ? [...refs, composerInputsRef(inputs)] : refs,
    buildArgs,
    labels,
    network: o.network,
    platform: o.platform,
    onLine: (line) => o.emit({ type: 'debug', message: `docker build: ${line}` }),
  });
  await retire(o, previous, imageId, refs);
  return { imageId, refs, labels };
}

/**
 * The composer image the target's name left (`previous`, now `current`) keeps
 * its inputs name, which would keep it on disk for good (a few hundred MB for
 * every change of tools or base image): that name is removed when no other
 * target names the image, and with it the image unless a container uses it.
 */
async function retire(
  o: Pick<ComposerImageOptions, 'docker' | 'emit'>,
  previous: ImageInfo | undefined,
  current: string,
  refs: readonly string[],
): Promise<void> {
  if (!previous || previous.id === current) return;
  const kept = previous.tags.filter((t) => !refs.includes(t));
  const inputsNames = kept.filter((t) => t.startsWith(INPUTS_TAG_PREFIX));
  if (inputsNames.length === 0 || inputsNames.length < kept.length) return;
  for (const name of inputsNames) {
    // A name that has moved on (to the image just made from the same inputs) stays.
    if ((await o.docker.imageInspect(name))?.id !== previous.id) continue;
    if (await o.docker.removeImageIfUnused(name)) o.emit({ type: 'debug', message: `removed ${name}: the composer image ${refs[0]} was before` });
  }
}
