// What every pipeline step starts from: its context, the target opened once
// (catalogue, template, image name), the inputs digest of what a build reads,
// and a Docker client.
import path from 'node:path';
import { findTarget } from '../catalogue/load.js';
import { openCatalogue } from '../catalogue/open.js';
import type { Catalogue, Target } from '../catalogue/types.js';
import { toolkitVersion } from '../compose/outputs/manifest.js';
import type { Settings } from '../config/load.js';
import { connectDocker, type Docker } from '../docker/docker.js';
import type { Env } from '../env.js';
import { UserError } from '../errors.js';
import { lstatIfExists } from '../fs/safe.js';
import type { Emit } from '../log/events.js';
import { isTemplateTarget, type OpenTarget, openTemplateTarget } from '../packages/target.js';
import { initramfsTemplateOf, openInitramfsTarget } from '../packages/initramfs-target.js';
import { type ImageName, imageName } from './image-name.js';
import { explicitBuildArgs, type Inputs, inputsDigest } from './inputs.js';

export interface StepContext {
  settings: Settings;
  target: string;
  env: Env;
  /** `--repo`: wins over DOCKER_REPO. */
  repo?: string;
  /** `--rebuild`: build even when the last build's outputs would do (the output cache). */
  rebuild?: boolean;
  emit: Emit;
}

/** The environment's yes: 1, true, yes, on. */
export function envFlag(value: string | undefined): boolean {
  return /^(1|true|yes|on)$/i.test(value?.trim() ?? '');
}

/** What a step opens once and hands to the commands it calls. */
export interface Loaded {
  cat: Catalogue;
  target: Target;
  /** The template, opened when the target has one. */
  t: OpenTarget | undefined;
}

export interface Opened {
  cat: Catalogue;
  t: OpenTarget;
  name: ImageName;
}

/** The catalogue, the step's target in it and, when it has one, its template: each opened once per step. */
export async function loadTarget(ctx: StepContext): Promise<Loaded> {
  const cat = await openCatalogue(ctx.settings, ctx.emit);
  const target = findTarget(cat, ctx.target);
  const t = isTemplateTarget(target) ? await openTemplateTarget(ctx.settings, ctx.target, ctx.emit, cat) : undefined;
  return { cat, target, t };
}

/** The loaded target with its image name; a target without a template has no image. */
export function named(ctx: StepContext, { cat, target, t }: Loaded): Opened {
  if (!t)
    throw new UserError(
      `target ${ctx.target} has no template: there is no image to build, push or report`,
      'Give the target a `template:` in the catalogue, or use `cache` for artifact-only targets.',
    );
  return { cat, t, name: imageName({ target, template: t.template, repo: ctx.repo, env: ctx.env, registry: ctx.settings.registry }) };
}

/** The target's template and image name. */
export async function open(ctx: StepContext): Promise<Opened> {
  return named(ctx, await loadTarget(ctx));
}

/** The inputs digest of what a build would read now. */
export async function inputsOf(ctx: StepContext, { cat, t }: Pick<Opened, 'cat' | 't'>): Promise<Inputs> {
  // An ISO that boots another template's initrd (systemConfig.initramfs) is made from that template's inputs too.
  const derived = initramfsTemplateOf(t) === undefined ? undefined : await openInitramfsTarget(ctx.settings, cat, t, ctx.emit);
  return inputsDigest({
    ...(derived ? { initramfs: { lockFile: derived.lockFile, template: derived.template, templateFile: derived.templateFile } } : {}),
    lockFile: t.lockFile,
    template: t.template,
    templateFile: t.templateFile,
    context: path.dirname(t.catalogueFile),
    dockerfile: ctx.env.DOCKERFILE_PATH || undefined,
    buildArgs: explicitBuildArgs(ctx.env),
    toolkitVersion: await toolkitVersion(ctx.settings.projectRoot),
  });
}

/**
 * The inputs as they stand before a build, for the skip check: undefined when
 * there is no lock yet (the build makes one); a lock that cannot be read fails
 * here, before the build, not after it.
 */
export async function inputsBeforeBuild(ctx: StepContext, o: Pick<Opened, 'cat' | 't'>): Promise<Inputs | undefined> {
  if ((await lstatIfExists(o.t.lockFile)) === undefined) return undefined;
  return inputsOf(ctx, o);
}

const connected = new WeakMap<StepContext, Promise<Docker>>();

/** A Docker client that answers: found and checked once per step context (each check runs docker four times). */
export function docker(ctx: StepContext): Promise<Docker> {
  let d = connected.get(ctx);
  if (!d) {
    const made = connectDocker({ configured: ctx.settings.dockerClient, path: ctx.env.PATH });
    connected.set(ctx, made);
    // A failure is not kept: the next call tries again.
    made.catch(() => connected.delete(ctx));
    d = made;
  }
  return d;
}
