// `build` and `base`: refresh the caches, make the base image when it is
// missing, build the composer image, and run the compose stages in a build
// container, producing the raw disk image.
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { freemem } from 'node:os';
import path from 'node:path';
import { acquireLock, type Lock } from '../fs/lock.js';
import type { RefreshReport } from '../cache/refresh.js';
import type { Catalogue, Target } from '../catalogue/types.js';
import { type BaseImageResult, ensureBaseImage } from '../compose/images/base-image.js';
import { buildComposerImage, type ComposerImage } from '../compose/images/composer-image.js';
import { type ComposeResult, compose } from '../compose/compose.js';
import { BuildContainer } from '../compose/images/container.js';
import { fallbackSources } from '../compose/images/fallback.js';
import type { ReadyArtifact } from '../compose/outputs/finalize.js';
import { toolkitVersion } from '../compose/outputs/manifest.js';
import { buildSourceDate } from '../compose/source-date.js';
import { registryTierFor } from '../packages/registry-sets.js';
import type { Settings } from '../config/load.js';
import { connectDocker, type Docker } from '../docker/docker.js';
import type { Env } from '../env.js';
import { StepError, UserError } from '../errors.js';
import type { LockFile } from '../lock/types.js';
import type { Emit } from '../log/events.js';
import { isTemplateTarget, type OpenTarget, openTemplateTarget } from '../packages/target.js';
import { openCatalogue } from '../catalogue/open.js';
import { refreshTargetCaches } from '../packages/target-caches.js';
import { providerHoldPath } from '../layout/paths.js';
import { findTarget } from '../catalogue/load.js';
import { checkForeignArch } from '../docker/binfmt.js';
import { dockerPlatform, hostDebianArch } from '../template/provider.js';
import type { LiveSystem } from '../compose/kinds/types.js';
import { openInitramfsTarget } from '../packages/initramfs-target.js';

export interface BuildOptions {
  settings: Settings;
  target: string;
  env: Env;
  emit: Emit;
  /** The catalogue, when the caller has already loaded it. */
  catalogue?: Catalogue;
  /** The target's opened template, when the caller has already opened it (from the same catalogue). */
  opened?: OpenTarget;
  /** Connects to Docker, when the caller has its own connection (found and checked once per run); default: a new one. */
  docker?: () => Promise<Docker>;
  /**
   * Given the removal of the build container instead of waiting for it, so
   * the caller can go on (make the image) while docker removes it; the caller
   * then waits for it and meets its failure. Default: the build waits.
   */
  removal?: (removed: Promise<void>) => void;
  /**
   * Told of the disk artifacts (in template order, with the build's
   * SOURCE_DATE_EPOCH) once all are under their final names, while the build
   * hashes them and finishes: the caller may read them meanwhile (the image
   * that carries them). Not told of the initramfs build an ISO's
   * systemConfig.initramfs asks for.
   */
  onReady?: (artifacts: ReadyArtifact[], epoch: number) => void;
}

export interface BaseResult {
  target: string;
  providerId: string;
  base: BaseImageResult;
  client: { bin: string; mode: string };
}

export interface BuildResult extends BaseResult {
  cache: Pick<RefreshReport, 'items' | 'downloads' | 'bytesDownloaded' | 'hits'>;
  composer: ComposerImage;
  compose: ComposeResult;
  /** Where the root filesystem was assembled. */
  scratch: 'tmpfs' | 'disk';
  seconds: number;
  /** An ISO's initramfs target (systemConfig.initramfs), built first. */
  initramfs?: BuildResult;
  /** Set when nothing was built: the last build here had the same inputs and its outputs hold (the output cache). */
  reused?: { builtAt: string; inputsDigest: string; image: 'kept' | 'made again' };
}

/** Memory the host must have available for `auto` to assemble the root filesystem in tmpfs. */
export const TMPFS_MIN_AVAILABLE = 4 * 1024 ** 3;
/** The build container's scratch directory when it is a tmpfs. */
export const CONTAINER_SCRATCH = '/g3-scratch';

/** tmpfs or disk, from the setting and (for auto) the memory available now. */
export function scratchChoice(setting: Settings['scratch'], available = freemem()): 'tmpfs' | 'disk' {
  if (setting !== 'auto') return setting;
  return available >= TMPFS_MIN_AVAILABLE ? 'tmpfs' : 'disk';
}

interface Prepared {
  t: OpenTarget;
  lock: LockFile;
  docker: Docker;
  report: RefreshReport;
  /** Held until the command ends (see holdProvider). */
  hold: Lock;
}

/**
 * A lock only this build takes (its name is unique), held from before the cache
 * refresh to the end: `cache prune` and `cache clean` see a live lock under the
 * provider's imagebuild/ and leave the provider's packages and snapshots alone,
 * so nothing the refresh verified disappears before the compose stages use it.
 * Concurrent builds of one provider each hold their own and do not wait.
 */
async function holdProvider(s: Settings, providerId: string): Promise<Lock> {
  const dir = providerHoldPath(s.workDir, providerId, process.pid, randomBytes(4).toString('hex'));
  await mkdir(path.dirname(dir), { recursive: true });
  return acquireLock(dir, { staleMs: s.lockStaleMs });
}

/** Refresh the target's caches (locking first if needed) and find a Docker that builds with BuildKit. */
async function prepare(o: BuildOptions): Promise<Prepared> {
  const cat = o.catalogue ?? (await openCatalogue(o.settings, o.emit));
  const target = findTarget(cat, o.target);
  if (!isTemplateTarget(target))
    throw new UserError(
      `target ${o.target} has no template: there is no image to build`,
      'Give the target a `template:` in the catalogue, or use `cache` for artifact-only targets.',
    );
  const opened = o.opened ?? (await openTemplateTarget(o.settings, o.target, o.emit, cat));
  // Before anything is fetched or built: a foreign architecture needs qemu-user in binfmt_misc.
  const foreign = foreignArch(opened.plan.arch);
  if (foreign) {
    const entry = await checkForeignArch(foreign);
    o.emit({
      type: 'info',
      message: `${foreign} on a ${hostDebianArch() ?? process.arch} host: its programs run through ${entry.interpreter ?? 'qemu-user'} (binfmt_misc)`,
    });
  }
  const hold = await holdProvider(o.settings, opened.plan.providerId);
  try {
    return { ...(await refreshAndConnect(o, target, opened)), hold };
  } catch (err) {
    await hold.release();
    throw err;
  }
}

async function refreshAndConnect(o: BuildOptions, target: Target, opened: OpenTarget): Promise<Omit<Prepared, 'hold'>> {
  const result = await refreshTargetCaches({ settings: o.settings, target, opened, verify: false, emit: o.emit });
  if (!result.locked) throw new StepError(`the cache refresh of ${o.target} gave no lock`);
  if (!result.report.ok)
    throw new StepError(
      `the caches of ${o.target} are incomplete (${result.report.failures.length} failed, ${result.report.missing.length} missing); verified files were kept`,
      { cause: result.report.failures },
    );
  const { t, lock } = result.locked;
  const docker = o.docker ? await o.docker() : await connectDocker({ configured: o.settings.dockerClient, path: o.env.PATH });
  const client = docker.client;
  o.emit({ type: 'debug', message: `docker client: ${client.bin} (${client.mode}, ${client.version})` });
  return { t, lock, docker, report: result.report };
}

/** The target's Debian architecture when this host is of another one (its binaries then run through qemu-user). */
export function foreignArch(debArch: string, host: string | undefined = hostDebianArch()): string | undefined {
  return debArch === host ? undefined : debArch;
}

function baseOptions(p: Prepared, o: Pick<BuildOptions, 'settings' | 'env' | 'emit'>, force: boolean) {
  const foreign = foreignArch(p.t.plan.arch);
  return {
    docker: p.docker,
    lock: p.lock,
    providerId: p.t.plan.providerId,
    pkgDir: p.t.pkgDir,
    workDir: o.settings.workDir,
    force,
    env: o.env,
    emit: o.emit,
    foreignArch: foreign,
  };
}

/** `base`: (re)make the base image from the package cache. */
export async function base(o: BuildOptions): Promise<BaseResult> {
  const p = await prepare(o);
  try {
    const result = await ensureBaseImage(baseOptions(p, o, true));
    return { target: o.target, providerId: p.t.plan.providerId, base: result, client: { bin: p.docker.client.bin, mode: p.docker.client.mode } };
  } finally {
    await p.hold.release();
  }
}

/** `build`: caches, base image when needed, composer image, compose stages. */
export async function build(o: BuildOptions): Promise<BuildResult> {
  const started = performance.now();
  const cat = o.catalogue ?? (await openCatalogue(o.settings, o.emit));
  const target = findTarget(cat, o.target);
  const opened = isTemplateTarget(target) ? (o.opened ?? (await openTemplateTarget(o.settings, o.target, o.emit, cat))) : undefined;
  const first = opened ? await buildInitramfs({ ...o, catalogue: cat }, opened) : undefined;
  const p = await prepare({ ...o, catalogue: cat, opened });
  try {
    const result = await composeHeld(o, p, started, first?.live);
    return first ? { ...result, initramfs: first.result } : result;
  } finally {
    await p.hold.release();
  }
}

/** An ISO with systemConfig.initramfs: build that target first, and say where its kernel and initrd image are. */
async function buildInitramfs(o: BuildOptions & { catalogue: Catalogue }, iso: OpenTarget): Promise<{ result: BuildResult; live: LiveSystem } | undefined> {
  const derived = await openInitramfsTarget(o.settings, o.catalogue, iso, o.emit);
  if (!derived) return undefined;
  o.emit({ type: 'info', message: `${o.target} boots the initramfs of target ${derived.target.name} (systemConfig.initramfs): building it first` });
  const result = await build({ ...o, target: derived.target.name, opened: derived, onReady: undefined });
  const pick = (type: string) => {
    const a = result.compose.artifacts.find((x) => x.type === type);
    if (!a) throw new StepError(`the build of ${derived.target.name} made no ${type} output`);
    return { path: a.path, sha256: a.sha256 };
  };
  const kernelVersion = result.compose.boot?.kernelVersion;
  if (!kernelVersion) throw new StepError(`the build of ${derived.target.name} reported no kernel version`);
  return { result, live: { target: derived.target.name, image: pick('initrd'), kernel: pick('kernel'), kernelVersion } };
}

async function composeHeld(o: BuildOptions, p: Prepared, started: number, live?: LiveSystem): Promise<BuildResult> {
  const s = o.settings;
  const providerId = p.t.plan.providerId;
  const foreign = foreignArch(p.t.plan.arch);
  const platform = foreign ? dockerPlatform(foreign) : undefined;
  const baseImage = await ensureBaseImage(baseOptions(p, o, false));
  const fallback = await fallbackSources(p.t.plan.repos, s.g3Cache, providerId);
  // One time for the whole build: the composer image's created label, file times in the image, the SBOM.
  const sourceDate = await buildSourceDate(s.projectRoot, o.env);
  o.emit({ type: 'info', message: `SOURCE_DATE_EPOCH ${sourceDate.epoch} (${sourceDate.from})` });
  const composer = await buildComposerImage({
    docker: p.docker,
    context: path.dirname(p.t.catalogueFile),
    projectRoot: s.projectRoot,
    target: o.target,
    providerId,
    baseImage: baseImage.ref,
    baseImageId: baseImage.id,
    tools: p.lock.request.tools,
    aptSources: fallback.lines,
    network: fallback.network,
    platform,
    created: new Date(sourceDate.epoch * 1000),
    dockerfile: o.env.DOCKERFILE_PATH || undefined,
    env: o.env,
    emit: o.emit,
  });
  await mkdir(path.join(s.workDir, providerId), { recursive: true });
  const scratch = scratchChoice(s.scratch);
  const container = await BuildContainer.start(p.docker, {
    image: composer.imageId,
    mounts: [{ path: p.t.pkgDir, readonly: true }, { path: path.join(s.workDir, providerId) }],
    privileged: s.privileged,
    scratch: scratch === 'tmpfs' ? CONTAINER_SCRATCH : undefined,
    labels: { 'org.g3-composer.target': o.target },
    platform,
    // An overlay reads its baseline's root filesystem with fuse2fs (read-only, in the container's own mount namespace).
    ...(p.lock.baseline ? { devices: ['/dev/fuse'] } : {}),
    emit: o.emit,
  });
  o.emit({
    type: 'info',
    message: `compose stages in ${container.where} (${s.privileged ? 'privileged' : 'named capabilities, no network'}; root filesystem ${scratch === 'tmpfs' ? 'in tmpfs' : 'on disk'})`,
  });
  let result: ComposeResult;
  // The cache registry shares the chroot and installed-package snapshots between hosts.
  const registry = registryTierFor(s, o.emit);
  try {
    result = await compose({
      runner: container,
      lock: p.lock,
      template: p.t.template,
      templateFile: p.t.templateFile,
      providerId,
      pkgDir: p.t.pkgDir,
      workDir: s.workDir,
      scratchDir: scratch === 'tmpfs' ? CONTAINER_SCRATCH : undefined,
      sourceDateEpoch: sourceDate.epoch,
      toolkitVersion: await toolkitVersion(s.projectRoot),
      lockStaleMs: s.lockStaleMs,
      emit: o.emit,
      live,
      snapshots: registry?.snapshots(),
      onReady: o.onReady && ((artifacts) => o.onReady?.(artifacts, sourceDate.epoch)),
    });
  } finally {
    // Removing the container (and the tmpfs with the root filesystem) takes up to a second: a caller that has more
    // to do (the image) is given it to wait for later.
    const removed = container.stop();
    if (o.removal) o.removal(removed);
    else await removed;
    await registry?.close();
  }
  const r = p.report;
  return {
    target: o.target,
    providerId,
    base: baseImage,
    client: { bin: p.docker.client.bin, mode: p.docker.client.mode },
    cache: { items: r.items, downloads: r.downloads, bytesDownloaded: r.bytesDownloaded, hits: r.hits, ...(registry && { registry: registry.stats }) },
    composer,
    compose: result,
    scratch,
    seconds: Math.round(performance.now() - started) / 1000,
  };
}
