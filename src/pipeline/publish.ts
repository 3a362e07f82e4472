// push and post_push: send the image build made to its registry, then write
// the build report. Both skip when pre_build found no change.
import path from 'node:path';
import { writeFileAtomic } from '../fs/atomic.js';
import { UserError } from '../errors.js';
import { credentialsFromEnv } from '../registry/credentials.js';
import type { Docker } from '../docker/docker.js';
import { pushImage } from '../registry/push.js';
import { parseRef } from '../registry/ref.js';
import { INPUTS_LABEL, type InputPart } from './inputs.js';
import { type BuildRecord, type PushRecord, readState, writeState } from './state.js';
import { docker, inputsOf, open, type StepContext } from './context.js';
import { type Skipped, skipReason } from './steps.js';

/** The build record of the target, or a clear error when nothing was built here. */
async function builtRecord(ctx: StepContext, step: string): Promise<BuildRecord> {
  const record = await readState(ctx.settings.workDir, ctx.target, 'build', (m) => ctx.emit({ type: 'warning', message: m }));
  if (!record)
    throw new UserError(`${step}: nothing was built for ${ctx.target} in ${ctx.settings.workDir}`, `Run "<builder> ${ctx.target} build" first (or "all").`);
  return record;
}

/** push: tag and push the built image to every reference of the target, logged in with the environment's credentials. */
export async function pushStep(ctx: StepContext): Promise<Skipped | { record: PushRecord }> {
  const opened = await open(ctx);
  const { name } = opened;
  const inputs = await inputsOf(ctx, opened);
  const skip = await skipReason(ctx, 'push', inputs);
  if (skip) return { skipped: skip };
  const built = await builtRecord(ctx, 'push');
  if (built.inputsDigest !== inputs.digest) {
    ctx.emit({
      type: 'warning',
      message: `the image was built from other inputs (${built.inputsDigest.slice(0, 19)}…) than the current ones (${inputs.digest.slice(0, 19)}…); pushing what was built, with its own label`,
    });
  }
  if (name.registry === undefined) {
    throw new UserError(
      `push: no registry for ${name.refs[0]}`,
      `Name one: "registry: host:port" in the target, G3_REGISTRY, --repo host:port/repository or DOCKER_REPO.`,
    );
  }
  const d = await docker(ctx);
  const localRef = await builtImage(ctx, d, built);
  const result = await pushImage({
    client: d.client,
    localRef,
    targets: name.refs.map((r) => parseRef(r)),
    credentials: credentialsFromEnv(ctx.env),
    emit: (e) => ctx.emit(e),
    timeoutMs: ctx.settings.httpTimeoutMs,
    tempRoot: ctx.settings.tempDir,
  });
  const record: PushRecord = { target: ctx.target, inputsDigest: built.inputsDigest, imageId: localRef, pushed: result.pushed, at: new Date().toISOString() };
  await writeState(ctx.settings.workDir, ctx.target, 'push', record);
  return { record };
}

/**
 * The local image to push: the one build made, or, when a later build elsewhere (another work
 * directory) has replaced it under the same name, that one if its label says it was built from
 * the same inputs.
 */
async function builtImage(ctx: StepContext, d: Docker, built: BuildRecord): Promise<string> {
  if (await d.imageInspect(built.image.id)) return built.image.id;
  for (const ref of built.image.refs) {
    const now = await d.imageInspect(ref);
    if (now && now.labels[INPUTS_LABEL] === built.inputsDigest) {
      ctx.emit({
        type: 'info',
        message: `the image build made (${built.image.id.slice(0, 19)}) was replaced under ${ref} by ${now.id.slice(0, 19)}, built from the same inputs: pushing that`,
      });
      return now.id;
    }
  }
  throw new UserError(
    `push: the image ${built.image.id.slice(0, 19)} that build made for ${ctx.target} is gone from the Docker daemon, and no image under its name has the same inputs`,
    `Run "<builder> ${ctx.target} build" again.`,
  );
}

/** The build report post_push writes. */
export interface BuildReport {
  target: string;
  providerId: string;
  image: { id: string; digest?: string; refs: string[]; tags: string[]; labels: Record<string, string> };
  inputsDigest: string;
  inputs: InputPart[];
  stages: Record<string, number>;
  cache: { items: number; hits: number; hitRate: number; local: number; shared: number; downloads: number; bytesDownloaded: number };
  snapshots: BuildRecord['snapshots'];
  source: BuildRecord['source'];
  builtAt: string;
  pushedAt?: string;
  pushed: { ref: string; digest: string }[];
}

/** Hit rate as a fraction with 4 decimals (0 when there was nothing to look up). */
function rate(hits: number, items: number): number {
  return items === 0 ? 0 : Math.round((hits / items) * 10_000) / 10_000;
}

/** post_push: write `<stem>.report.json` beside the disk image, from build's and push's records. */
export async function postPushStep(ctx: StepContext): Promise<Skipped | { report: BuildReport; file: string }> {
  const opened = await open(ctx);
  const inputs = await inputsOf(ctx, opened);
  const skip = await skipReason(ctx, 'post_push', inputs);
  if (skip) return { skipped: skip };
  const built = await builtRecord(ctx, 'post_push');
  const push = await readState(ctx.settings.workDir, ctx.target, 'push');
  // The push of this build (or of an image from the same inputs that replaced it), not of an earlier one.
  const pushed = push && push.inputsDigest === built.inputsDigest && push.at >= built.at ? push : undefined;
  if (!pushed) ctx.emit({ type: 'warning', message: `post_push: ${ctx.target}'s image was not pushed; the report has no registry digest` });
  const hits = built.cache.local + built.cache.shared;
  const report: BuildReport = {
    target: ctx.target,
    providerId: built.providerId,
    image: {
      id: pushed?.imageId ?? built.image.id,
      digest: pushed?.pushed[0]?.digest,
      refs: pushed ? pushed.pushed.map((p) => p.ref) : built.image.refs,
      tags: (pushed ? pushed.pushed.map((p) => p.ref) : built.image.refs).map((r) => parseRef(r).tag ?? 'latest'),
      labels: built.image.labels,
    },
    inputsDigest: built.inputsDigest,
    inputs: built.parts,
    stages: built.timings,
    cache: { ...built.cache, hits, hitRate: rate(hits, built.cache.items) },
    snapshots: built.snapshots,
    source: built.source,
    builtAt: built.at,
    pushedAt: pushed?.at,
    pushed: pushed?.pushed ?? [],
  };
  const file = path.join(built.buildDir, `${built.stem}.report.json`);
  await writeFileAtomic(file, `${JSON.stringify(report, null, 2)}\n`);
  return { report, file };
}
