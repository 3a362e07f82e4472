// The name of the image `build` makes and `push` sends: repository, registry
// and tags, from the command line, a Docker Hub autobuild's environment, the
// target, then configuration. No registry is ever assumed.
import type { Target } from '../catalogue/types.js';
import type { Env } from '../env.js';
import { UserError } from '../errors.js';
import { formatRef, type ImageRef, parseRef } from '../registry/ref.js';
import type { ImageTemplate } from '../template/types.js';

export interface ImageName {
  /** `host[:port]` the image is pushed to; undefined when nothing names one. */
  registry: string | undefined;
  repository: string;
  tags: string[];
  /** Full references, one per tag: the local image carries all of them. */
  refs: string[];
  /** Where the repository came from, for messages. */
  from: string;
}

export interface NameInput {
  target: Target;
  template: ImageTemplate;
  /** `--repo`. */
  repo?: string;
  env: Env;
  /** The `registry` setting (G3_REGISTRY / config file). */
  registry?: string;
}

/** Work out the image's registry, repository and tags. */
export function imageName(input: NameInput): ImageName {
  const { target, env } = input;
  const image = target.image?.value;
  const targetRegistry = target.registry?.value;
  let chosen: { text: string; from: string } | undefined;
  let imageNameTag: string | undefined;
  if (input.repo) chosen = { text: input.repo, from: '--repo' };
  else if (env.DOCKER_REPO) chosen = { text: env.DOCKER_REPO, from: 'DOCKER_REPO' };
  else if (env.IMAGE_NAME) {
    const ref = parseRef(env.IMAGE_NAME, 'IMAGE_NAME');
    chosen = { text: formatRef({ ...ref, tag: undefined, digest: undefined }), from: 'IMAGE_NAME' };
    imageNameTag = ref.tag;
  } else if (image !== undefined) chosen = { text: image, from: `targets.${target.name}.image` };
  const name = input.template.image?.name ?? target.name;
  const ref: ImageRef = chosen ? parseRef(chosen.text, chosen.from) : parseRef(`g3-composer/${name.toLowerCase()}`, `image.name of ${target.name}`);
  if (ref.tag !== undefined || ref.digest !== undefined) {
    throw new UserError(
      `${chosen?.from}: ${JSON.stringify(chosen?.text)} names a tag or digest; give the repository only`,
      `Tags come from targets.${target.name}.tags (default: the target name).`,
    );
  }
  let registry = ref.registry;
  if (registry === undefined && targetRegistry !== undefined) registry = parseRef(`${targetRegistry}/x`, `targets.${target.name}.registry`).registry;
  if (registry === undefined && input.registry) registry = parseRef(`${input.registry}/x`, 'the registry setting').registry;
  if (registry === undefined && (targetRegistry !== undefined || input.registry)) {
    throw new UserError(`the registry ${JSON.stringify(targetRegistry ?? input.registry)} is not a host[:port]`, 'For example: registry: 127.0.0.1:5000');
  }
  const listed = target.tags?.value ?? [target.name];
  const tags = [...new Set([...(imageNameTag ? [imageNameTag] : []), ...listed])];
  const refs = tags.map((tag) => formatRef(parseRef(formatRef({ registry, repository: ref.repository, tag }), `tag ${JSON.stringify(tag)} of ${target.name}`)));
  return { registry, repository: ref.repository, tags, refs, from: chosen?.from ?? 'default' };
}
