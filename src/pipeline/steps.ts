// The pipeline's steps as Docker Hub hooks call them: pre_build decides,
// build makes the disk image and the image that carries it, push sends it,
// post_push reports. Each later step skips when pre_build found no change.
import { type BuildResult, build } from '../commands/build.js';
import { cache } from '../commands/cache.js';
import { imageStem } from '../compose/outputs/plan.js';
import { ociLabels } from '../compose/images/composer-image.js';
import { toolkitVersion } from '../compose/outputs/manifest.js';
import type { Docker } from '../docker/docker.js';
import { StepError } from '../errors.js';
import { remoteImage } from '../registry/client.js';
import { credentialsFromEnv } from '../registry/credentials.js';
import { parseRef } from '../registry/ref.js';
import { buildCarrier, type Carrier, type EarlyCarrier, startCarrier } from './carrier.js';
import { docker, envFlag, inputsBeforeBuild, inputsOf, loadTarget, named, open, type Opened, type StepContext } from './context.js';
import { type OutputStamp, outputsChanged, stampOutputs } from './output-cache.js';
import type { ImageName } from './image-name.js';
import { INPUTS_LABEL, type Inputs } from './inputs.js';
import { type BuildRecord, type Decision, readState, writeState } from './state.js';

export type { StepContext } from './context.js';

/** The last image with this name: the local daemon's, else the registry's. */
async function lastImage(ctx: StepContext, d: Docker, name: ImageName, architecture: string): Promise<Decision['last']> {
  const ref = name.refs[0] as string;
  const local = await d.imageInspect(ref);
  if (local) return { where: 'local', ref, inputsDigest: local.labels[INPUTS_LABEL] };
  if (name.registry === undefined) return undefined;
  try {
    const remote = await remoteImage(parseRef(ref), {
      credentials: credentialsFromEnv(ctx.env),
      timeoutMs: ctx.settings.httpTimeoutMs,
      // From an index, the entry of the disk image's architecture (the carrier records it).
      platform: { os: 'linux', architecture },
    });
    if (remote) return { where: 'registry', ref, inputsDigest: remote.labels[INPUTS_LABEL], digest: remote.digest };
  } catch (err) {
    ctx.emit({ type: 'warning', message: `cannot read ${ref} from its registry (${(err as Error).message}); deciding without it` });
  }
  return undefined;
}

/** pre_build: refresh the caches (locking first when needed), then compare the inputs digest with the last image's label. */
export async function preBuild(ctx: StepContext): Promise<Decision> {
  const loaded = await loadTarget(ctx);
  const refreshed = await cache({
    settings: ctx.settings,
    target: ctx.target,
    check: false,
    verify: false,
    emit: ctx.emit,
    catalogue: loaded.cat,
    opened: loaded.t,
  });
  if (refreshed.mode === 'refresh' && !refreshed.report.ok) throw new StepError(`the caches of ${ctx.target} are incomplete; verified files were kept`);
  // Named after the refresh, as before: an artifact-only target gets its caches, then this error.
  const opened = named(ctx, loaded);
  const { t, name } = opened;
  const inputs = await inputsOf(ctx, opened);
  const at = new Date().toISOString();
  const base = { target: ctx.target, inputsDigest: inputs.digest, parts: inputs.parts, at };
  let decision: Decision;
  if (envFlag(ctx.env.PROHIBIT_BUILDING)) decision = { ...base, outcome: 'prohibited', build: false, reason: 'PROHIBIT_BUILDING is set: never building' };
  else {
    const last = await lastImage(ctx, await docker(ctx), name, t.plan.arch);
    const same = last?.inputsDigest === inputs.digest;
    if (envFlag(ctx.env.FORCE_BUILDING))
      decision = {
        ...base,
        outcome: 'forced',
        build: true,
        reason: `FORCE_BUILDING is set: building${same ? ` although ${last?.ref} (${last?.where}) has the same inputs` : ''}`,
        last,
      };
    else if (same)
      decision = {
        ...base,
        outcome: 'unchanged',
        build: false,
        reason: `unchanged: the ${last?.where === 'local' ? 'local image' : 'image in the registry'} ${last?.ref} was built from the same inputs (${inputs.digest.slice(0, 19)}…)`,
        last,
      };
    else if (last)
      decision = {
        ...base,
        outcome: 'changed',
        build: true,
        reason: `changed: ${last.ref} (${last.where}) ${last.inputsDigest ? `was built from other inputs (${last.inputsDigest.slice(0, 19)}…)` : 'has no inputs label'}${await changedParts(ctx, inputs)}`,
        last,
      };
    else
      decision = {
        ...base,
        outcome: 'changed',
        build: true,
        reason: `no image ${name.refs[0]} yet (neither in the local daemon${name.registry ? ' nor in its registry' : ''})`,
      };
  }
  await writeState(ctx.settings.workDir, ctx.target, 'pre_build', decision);
  return decision;
}

/** Which inputs differ from the last build's, when its record is here. */
async function changedParts(ctx: StepContext, now: Inputs): Promise<string> {
  const before = await readState(ctx.settings.workDir, ctx.target, 'build');
  if (!before) return '';
  const old = new Map(before.parts.map((p) => [p.name, p.sha256]));
  const names = now.parts.filter((p) => old.get(p.name) !== p.sha256).map((p) => p.name);
  for (const p of before.parts) if (!now.parts.some((n) => n.name === p.name)) names.push(p.name);
  return names.length ? `; changed since the last build here: ${names.join(', ')}` : '';
}

/**
 * What pre_build's decision (read once) says of a later step on these inputs:
 * skip it, and why; or run it and, for build, build although nothing changed
 * (FORCE_BUILDING=1 now or when pre_build decided), so not from the output cache.
 */
async function afterPreBuild(ctx: StepContext, step: 'build' | 'push' | 'post_push', inputs: Inputs): Promise<{ skip?: string; forced: boolean }> {
  if (envFlag(ctx.env.PROHIBIT_BUILDING)) return { skip: `PROHIBIT_BUILDING is set: no ${step}`, forced: false };
  if (envFlag(ctx.env.FORCE_BUILDING)) return { forced: true };
  const d = await readState(ctx.settings.workDir, ctx.target, 'pre_build', (m) => ctx.emit({ type: 'warning', message: m }));
  if (d?.inputsDigest !== inputs.digest) return { forced: false };
  if (d.outcome === 'unchanged')
    return {
      skip: `pre_build found ${d.last?.ref} up to date at ${d.at}: ${d.reason}; FORCE_BUILDING=1 ${step === 'build' ? 'builds' : 'runs it'} anyway`,
      forced: false,
    };
  return { forced: d.outcome === 'forced' };
}

/** Why a step after pre_build should not run, or undefined when it should. */
export async function skipReason(ctx: StepContext, step: 'build' | 'push' | 'post_push', inputs: Inputs): Promise<string | undefined> {
  return (await afterPreBuild(ctx, step, inputs)).skip;
}

export type Skipped = { skipped: string };

export interface Built {
  build: BuildResult;
  carrier: Carrier;
  record: BuildRecord;
}

/** build: skip when pre_build found no change; reuse the last build's outputs when its inputs are these; else build the disk image and the image that carries it. */
export async function buildStep(ctx: StepContext): Promise<Skipped | Built> {
  const started = performance.now();
  const first = await open(ctx);
  const before = await inputsBeforeBuild(ctx, first);
  if (before) {
    const said = await afterPreBuild(ctx, 'build', before);
    if (said.skip) return { skipped: said.skip };
    const reused = ctx.rebuild || said.forced ? undefined : await reuseLastBuild(ctx, first, before, started);
    if (reused) return reused;
  }
  // Docker is found and checked (four client runs) while the lock is resolved and the caches refreshed, which
  // keep one core busy; a failure here is not kept, the build's own call meets it again (context.ts).
  void docker(ctx).catch(() => undefined);
  // The build containers are removed while the image is made; a removal's failure is thrown once the image is
  // made, after a failure of the build itself. (Each removal is marked handled at once, so none goes unhandled.)
  const removals: Promise<void>[] = [];
  const removalsDone = () => Promise.allSettled(removals);
  // The image's layer goes to docker once finalize has made every artifact, while the build hashes them (carrier.ts).
  let early: EarlyCarrier | undefined;
  let built: Built;
  try {
    const result = await build({
      settings: ctx.settings,
      target: ctx.target,
      env: ctx.env,
      emit: ctx.emit,
      catalogue: first.cat,
      opened: first.t,
      docker: () => docker(ctx),
      removal: (removal) => {
        removal.catch(() => undefined);
        removals.push(removal);
      },
      onReady: (artifacts, epoch) => {
        if (artifacts.length > 0) early = startCarrier({ docker: docker(ctx), epoch, artifacts, refs: first.name.refs, emit: ctx.emit });
      },
    });
    // The lock may have been written by this build: take the inputs as built (inputsOf reads the lock file again;
    // the catalogue and the template are the ones opened above, which the build used too).
    const inputs = await inputsOf(ctx, first);
    built = await withImage(ctx, first, inputs, result, { outputs: await stampOutputs(result), at: new Date().toISOString() }, early);
  } catch (err) {
    await Promise.all([removalsDone(), early?.abort()]);
    throw err;
  }
  for (const r of await removalsDone()) if (r.status === 'rejected') throw r.reason;
  return built;
}

/**
 * The output cache (output-cache.ts): the last build of this target here had
 * these inputs and its outputs are the files it wrote, so its result stands.
 * Its image is kept when every name still points at it; otherwise it is made
 * again from those outputs.
 */
async function reuseLastBuild(ctx: StepContext, o: Opened, inputs: Inputs, started: number): Promise<Built | undefined> {
  const last = await readState(ctx.settings.workDir, ctx.target, 'build', (m) => ctx.emit({ type: 'warning', message: m }));
  if (!last?.reuse || last.inputsDigest !== inputs.digest) return undefined;
  const changed = await outputsChanged(last.reuse.outputs);
  if (changed) {
    ctx.emit({ type: 'info', message: `the inputs are those of the last build (${last.at}), but ${changed}: building again` });
    return undefined;
  }
  const d = await docker(ctx);
  const held = await Promise.all(o.name.refs.map(async (ref) => (await d.imageInspect(ref))?.id === last.image.id));
  const seconds = () => Math.round(performance.now() - started) / 1000;
  const reused = (image: 'kept' | 'made again'): NonNullable<BuildResult['reused']> => ({ builtAt: last.at, inputsDigest: last.inputsDigest, image });
  if (held.every(Boolean) && last.image.refs.length === o.name.refs.length) {
    ctx.emit({
      type: 'info',
      message: `unchanged since the build of ${last.at}: its ${last.reuse.outputs.length} outputs hold their stamps and ${last.image.refs.join(', ')} is in the daemon`,
    });
    return { build: { ...last.reuse.result, seconds: seconds(), reused: reused('kept') }, carrier: last.reuse.carrier, record: last };
  }
  ctx.emit({ type: 'info', message: `unchanged since the build of ${last.at}, whose outputs hold their stamps: making its image again from them` });
  const built = await withImage(ctx, o, inputs, last.reuse.result, { outputs: last.reuse.outputs, at: last.at });
  return { ...built, build: { ...built.build, seconds: seconds(), reused: reused('made again') } };
}

/** Make the image that carries a build's outputs, and record the build (with what a later build needs to reuse it). */
async function withImage(
  ctx: StepContext,
  o: Opened,
  inputs: Inputs,
  result: BuildResult,
  made: { outputs: OutputStamp[]; at: string },
  early?: EarlyCarrier,
): Promise<Built> {
  const { t, name } = o;
  const c = result.compose;
  const version = await toolkitVersion(ctx.settings.projectRoot);
  const oci = await ociLabels(ctx.settings.projectRoot, ctx.env, new Date(c.sourceDateEpoch * 1000));
  const labels: Record<string, string> = {
    ...oci,
    'org.opencontainers.image.title': t.template.image?.name ?? ctx.target,
    'org.opencontainers.image.version': String(t.template.image?.version ?? '0'),
    [INPUTS_LABEL]: inputs.digest,
    'org.g3-composer.target': ctx.target,
    'org.g3-composer.provider-id': result.providerId,
    'org.g3-composer.toolkit-version': version,
    ...(ctx.env.SOURCE_BRANCH ? { 'org.g3-composer.source-branch': ctx.env.SOURCE_BRANCH } : {}),
  };
  const imageStarted = performance.now();
  const input = { docker: await docker(ctx), compose: c, refs: name.refs, labels, epoch: c.sourceDateEpoch, architecture: t.plan.arch, emit: ctx.emit };
  const carrier = early ? await early.finish(input) : await buildCarrier(input);
  const imageSeconds = Math.round(performance.now() - imageStarted) / 1000;
  const r = result.cache;
  const { reused: _reused, ...plain } = result;
  const record: BuildRecord = {
    target: ctx.target,
    providerId: result.providerId,
    inputsDigest: inputs.digest,
    parts: inputs.parts,
    image: { id: carrier.imageId, refs: carrier.refs, labels },
    buildDir: c.buildDir,
    stem: imageStem(t.template),
    manifest: c.manifest,
    timings: { ...c.timings, image: imageSeconds, total: Math.round((result.seconds + imageSeconds) * 1000) / 1000 },
    cache: { items: r.items, local: r.hits.local, shared: r.hits.shared, downloads: r.downloads, bytesDownloaded: r.bytesDownloaded },
    snapshots: { chroot: c.snapshot, installed: c.installed },
    source: {
      branch: ctx.env.SOURCE_BRANCH || undefined,
      commit: ctx.env.SOURCE_COMMIT || undefined,
      message: ctx.env.COMMIT_MSG?.split('\n')[0] || undefined,
    },
    seconds: Math.round((result.seconds + imageSeconds) * 1000) / 1000,
    at: made.at,
    reuse: { outputs: made.outputs, result: plain, carrier },
  };
  await writeState(ctx.settings.workDir, ctx.target, 'build', record);
  return { build: result, carrier, record };
}
