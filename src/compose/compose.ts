// The compose stages, run in the build container: chroot snapshot (reused),
// a private root filesystem from it, the image's packages from the local
// repository, configuration, and the raw disk image.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { acquireLock } from '../fs/lock.js';
import { messageOf, UserError } from '../errors.js';
import { imagePackagesOf } from '../lock/file.js';
import type { OutputKind } from './kinds/types.js';
import { ensureRealDir } from '../fs/safe.js';
import type { LockedPackage, LockFile } from '../lock/types.js';
import type { Emit } from '../log/events.js';
import type { ImageTemplate } from '../template/types.js';
import { writeFileAtomic } from '../fs/atomic.js';
import type { BootResult } from './boot/boot.js';
import type { DracutResult } from './boot/dracut.js';
import { dracutInitramfs } from './boot/dracut.js';
import { type InitramfsResult, regenerateInitramfs } from './boot/initramfs.js';
import { installOverlayPackages, prepareBaseline, unpackBaseline } from './overlay/baseline.js';
import { overlayKind } from './overlay/kind.js';
import { overlayDiskPlan } from './overlay/plan.js';
import { overlayOf } from '../template/overlay/spec.js';
import { writeInImage } from './configure/io.js';
import type { FinalArtifact, ReadyArtifact } from './outputs/finalize.js';
import { outputKind } from './kinds/select.js';
import type { LiveSystem, Timed } from './kinds/types.js';

export { rawImageName } from './kinds/raw.js';
import { imageStem } from './outputs/plan.js';
import { manifestOutput, writeManifest } from './outputs/manifest.js';
import { collectSbom, renderSbom, sbomSummary } from './outputs/sbom.js';
import { configureSystem } from './configure/configure.js';
import { checkInstalled, installPackages, lockEpoch } from './rootfs/install.js';
import { type InstalledOutcome, installedContents, installedKey, saveInstalled, unpackInstalled } from './rootfs/installed.js';
import { startFromClosest } from './rootfs/delta-start.js';
import { makeLocalRepo } from './rootfs/local-repo.js';
import type { Runner } from '../docker/runner.js';
import {
  basePackages,
  gzipProgram,
  lockSuite,
  type SnapshotRemote,
  type SnapshotResult,
  snapshotKey,
  withSnapshot,
  workspaceLinkNote,
} from './rootfs/snapshot.js';
import { imageBuildDir as layoutBuildDir, imageBuildLock, snapshotPaths } from '../layout/paths.js';

export interface ComposeOptions {
  runner: Runner;
  lock: LockFile;
  template: ImageTemplate;
  templateFile: string;
  providerId: string;
  /** `<cache_dir>/pkgCache/<provider-id>`: verified package files. */
  pkgDir: string;
  workDir: string;
  /**
   * Where the root filesystem and partition staging are assembled, as the
   * runner sees it: a tmpfs in the build container, or (default) the image
   * build directory itself. Only the runner touches it.
   */
  scratchDir?: string;
  /** Timestamps in the image and its SBOM (see source-date.ts). */
  sourceDateEpoch: number;
  toolkitVersion: string;
  lockStaleMs: number;
  emit: Emit;
  /** imageType iso with systemConfig.initramfs: the initrd image the medium boots, already built. */
  live?: LiveSystem;
  /** The cache registry, sharing the chroot and installed-package snapshots between hosts. */
  snapshots?: SnapshotRemote;
  /** Told of the disk artifacts once all are under their final names, before they are hashed (FinalizeOptions.onReady). */
  onReady?: (artifacts: ReadyArtifact[]) => void;
}

export interface ComposeResult {
  /** The template's target.imageType: raw, img or iso. */
  imageType: string;
  /** The main output (the first artifact). */
  image: string;
  imageBytes: number;
  buildDir: string;
  /** The chroot snapshot: 'not needed' when the installed-package snapshot was reused (or the build is an overlay). */
  snapshot: SnapshotResult['outcome'] | 'not needed';
  /** The installed-package snapshot; an overlay starts from its baseline instead. */
  installed: InstalledOutcome | 'not used (overlay)';
  /** An overlay: the baseline's package count and what the overlay installed on it, and how the initramfs was made again. */
  overlay?: { baselinePackages: number; installed: number; removed?: string[]; initramfs?: InitramfsResult['tool'] };
  packages: number;
  /** Kernel, bootloader and command line, when the template names a bootloader. */
  boot?: BootResult;
  /** The image has dracut: the initramfs dracut made after configuration, and its modules. */
  dracut?: DracutResult;
  /** The template's disk.artifacts, made from the raw image, hashed. */
  artifacts: FinalArtifact[];
  /** The SPDX 2.3 SBOM beside the image (also at /usr/share/sbom/ inside it), and its counts. */
  sbom: { path: string; packages: number; licensed: number; noAssertion: number };
  /** `<stem>.manifest.json`: inputs' digests, outputs' sizes and SHA256, timings. */
  manifest: string;
  sourceDateEpoch: number;
  timings: Record<string, number>;
}

/** `<work_dir>/<provider-id>/imagebuild/<systemConfig.name>/`. */
export function imageBuildDir(workDir: string, providerId: string, template: ImageTemplate): string {
  return layoutBuildDir(workDir, providerId, template.systemConfig?.name);
}

/** Run every compose stage for one template; the build directory is cleaned first. */
export async function compose(o: ComposeOptions): Promise<ComposeResult> {
  const timings: Record<string, number> = {};
  const timed: Timed = async (stage, fn) => {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      timings[stage] = Math.round(1000 * (timings[stage] ?? 0) + performance.now() - t0) / 1000;
    }
  };
  const buildDir = imageBuildDir(o.workDir, o.providerId, o.template);
  // imagebuild/ must be a real folder: `rm -rf` of the build directory below a link would delete outside the workspace.
  await ensureRealDir(o.workDir, path.dirname(buildDir), workspaceLinkNote(o.emit));
  const buildLock = await acquireLock(imageBuildLock(buildDir), {
    root: o.workDir,
    staleMs: o.lockStaleMs,
    onWait: () => o.emit({ type: 'info', message: `waiting for another build of ${buildDir}` }),
  });
  try {
    await o.runner.run(['rm', '-rf', buildDir]);
    await ensureRealDir(o.workDir, buildDir);
    const scratch = o.scratchDir ?? buildDir;
    const rootfs = path.join(scratch, 'rootfs');
    const staging = path.join(scratch, 'staging');
    // Left by an interrupted build when the scratch directory is not the (just cleaned) build directory.
    if (scratch !== buildDir) await o.runner.run(['rm', '-rf', rootfs, staging]);
    const spec = o.lock.baseline ? overlayOf(o.template) : undefined;
    let snapshot: ComposeResult['snapshot'] = 'not needed';
    let installed: ComposeResult['installed'] = 'not used (overlay)';
    let kind: OutputKind;
    const seed = diskSeed(o.lock, o.template);
    if (o.lock.baseline && spec) {
      // Overlay: the baseline's tree (never the baseline file itself), the lock's additions, the baseline's layout.
      const base = await timed('baseline', () => prepareBaseline(o.lock, o.lock.target, { buildDir, pkgDir: o.pkgDir }, o.emit));
      const provider = o.template.systemConfig?.bootloader?.provider;
      if (provider !== base.layout.loader)
        throw new UserError(
          `the baseline boots with ${base.layout.loader}, but the template's bootloader is ${provider ?? '(none)'}`,
          `Set systemConfig.bootloader.provider: ${base.layout.loader} (an overlay keeps the baseline's bootloader).`,
        );
      kind = overlayKind(overlayDiskPlan(base.layout, { size: o.template.disk?.size, allowDiskResize: spec.allowDiskResize, espFatBits: base.espFatBits }));
      await timed('packages', async () => {
        await unpackBaseline(o.runner, base, rootfs, path.join(scratch, 'baseline-root'), o.emit);
        await installOverlayPackages(o.runner, { lock: o.lock, rootfs, buildDir, pkgDir: o.pkgDir, emit: o.emit });
      });
    } else {
      if (o.lock.baseline || spec) throw new UserError('the lock and the template disagree on overlay mode', `Run: <builder> ${o.lock.target} lock --update`);
      ({ snapshot, installed } = await populateRootfs(o, { rootfs, buildDir, timed }));
      kind = outputKind(o.template, seed);
    }
    await timed('configure', () =>
      configureSystem(o.runner, {
        rootfs,
        config: o.template.systemConfig ?? {},
        templateDir: path.dirname(o.templateFile),
        fstab: kind.fstab,
        seed,
        overlay: spec !== undefined,
        emit: o.emit,
      }),
    );
    // After configuration: the template's dracut modules and settings are in place now. An overlay makes the
    // initramfs again with whichever tool the image has; a build from scratch only when dracut is that tool.
    let initramfs: InitramfsResult | undefined;
    if (kind.bootsInitramfs) {
      const input = { rootfs, sourceDateEpoch: lockEpoch(o.lock), emit: o.emit };
      initramfs = await timed('initramfs', async () => {
        if (spec) return regenerateInitramfs(o.runner, input);
        const made = await dracutInitramfs(o.runner, input);
        return made ? { tool: 'dracut' as const, dracut: made } : undefined;
      });
    }
    const dracut: DracutResult | undefined = initramfs?.dracut;
    const stem = imageStem(o.template);
    const imageId = { name: o.template.image?.name ?? 'image', version: o.template.image?.version ?? '0' };
    const sbom = await timed('sbom', async () => {
      const doc = await collectSbom(o.runner, {
        rootfs,
        lock: o.lock,
        image: imageId,
        created: new Date(o.sourceDateEpoch * 1000),
        toolVersion: o.toolkitVersion,
      });
      const text = renderSbom(doc);
      await writeInImage(o.runner, rootfs, `/usr/share/sbom/${stem}.spdx.json`, text, '0644');
      return { text, summary: sbomSummary(doc) };
    });
    const { artifacts, imageBytes, boot } = await kind.make({
      runner: o.runner,
      lock: o.lock,
      template: o.template,
      templateFile: o.templateFile,
      rootfs,
      staging,
      buildDir,
      sourceDateEpoch: o.sourceDateEpoch,
      seed,
      emit: o.emit,
      timed,
      live: o.live,
      onReady: o.onReady,
    });
    // Only the outputs stay; the root filesystem and repository were scaffolding.
    await o.runner.run(['rm', '-rf', rootfs, staging, path.join(buildDir, 'repo'), path.join(buildDir, 'baseline.raw')]);
    const sbomPath = path.join(buildDir, `${stem}.spdx.json`);
    await writeFileAtomic(sbomPath, sbom.text, true, o.workDir);
    const outputs = [
      ...artifacts.map((a) => ({
        file: a.file,
        kind: 'image' as const,
        type: a.type,
        ...(a.compression ? { compression: a.compression } : {}),
        size: a.size,
        sha256: a.sha256,
      })),
      await manifestOutput(sbomPath, 'sbom'),
    ];
    const manifest = await writeManifest({
      buildDir,
      stem,
      image: imageId,
      providerId: o.providerId,
      toolkitVersion: o.toolkitVersion,
      sourceDateEpoch: o.sourceDateEpoch,
      templateFile: o.templateFile,
      lock: o.lock,
      outputs,
      timings,
    });
    return {
      imageType: o.template.target?.imageType ?? 'raw',
      image: artifacts[0]?.path ?? buildDir,
      imageBytes,
      buildDir,
      snapshot,
      installed,
      packages: imagePackagesOf(o.lock).length,
      ...(boot ? { boot } : {}),
      ...(dracut ? { dracut } : {}),
      ...(o.lock.baseline
        ? {
            overlay: {
              baselinePackages: o.lock.baseline.packages.length,
              installed: o.lock.image.packages.length,
              ...(o.lock.baseline.removed?.length ? { removed: o.lock.baseline.removed.map((r) => r.name) } : {}),
              ...(initramfs ? { initramfs: initramfs.tool } : {}),
            },
          }
        : {}),
      artifacts,
      sbom: { path: sbomPath, ...sbom.summary },
      manifest: manifest.path,
      sourceDateEpoch: o.sourceDateEpoch,
      timings,
    };
  } finally {
    await buildLock.release();
  }
}

/**
 * Fill `rootfs` with exactly the locked packages: from the installed-package
 * snapshot when one verifies (no chroot, no apt), else from the chroot snapshot
 * plus apt, saving a new installed-package snapshot. The dpkg database is
 * checked against the lock either way.
 */
async function populateRootfs(
  o: ComposeOptions,
  at: { rootfs: string; buildDir: string; timed: Timed },
): Promise<Pick<ComposeResult, 'snapshot' | 'installed'>> {
  const { rootfs, buildDir, timed } = at;
  const base = basePackages(o.lock);
  const chrootKey = snapshotKey(base, o.lock.tools.packages);
  // The install's epoch: recorded in the snapshot's stamp and given to apt.
  const epoch = lockEpoch(o.lock);
  const installed = {
    runner: o.runner,
    workDir: o.workDir,
    providerId: o.providerId,
    key: installedKey(chrootKey, o.lock.image.packages),
    lockStaleMs: o.lockStaleMs,
    emit: o.emit,
    remote: o.snapshots,
    packages: o.lock.image.packages.length,
    contents: installedContents(chrootKey, epoch, o.lock.image.packages),
  };
  const found = await timed('packages', () => unpackInstalled(installed, rootfs));
  if (found === 'reused' || found === 'fetched') {
    // A fetched snapshot is checked like a reused one: its dpkg database must be the lock's.
    await checkInstalled(o.runner, rootfs, o.lock.image.packages);
    o.emit({ type: 'info', message: `installed-package snapshot: ${found === 'fetched' ? 'fetched from the cache registry' : 'reused'}` });
    return { snapshot: 'not needed', installed: found };
  }
  // The local repository holds what apt is to install: every package, or on the delta route only those the start
  // lacks (apt takes the start's packages, at their locked versions, as installed).
  const install = async (add: LockedPackage[] = o.lock.image.packages) => {
    const repo = await makeLocalRepo(o.runner, { dir: path.join(buildDir, 'repo'), pkgDir: o.pkgDir, packages: add });
    await timed('packages', () =>
      installPackages(o.runner, { rootfs, repo, packages: o.lock.image.packages, sourceDateEpoch: epoch, emit: o.emit, initramfsOnce: true }),
    );
    // Only a checked package set is saved for later builds.
    await checkInstalled(o.runner, rootfs, o.lock.image.packages);
    await timed('save', () => saveInstalled(installed, rootfs, buildDir, o.lock.image.packages.length));
  };
  if (found === 'missing') {
    const start = await timed('packages', () => startFromClosest({ ...installed, want: o.lock.image.packages, pkgDir: o.pkgDir }, rootfs));
    if (start) {
      const outcome: InstalledOutcome = `delta from ${start.key.slice(0, 16)} (+${start.add.length} packages)`;
      o.emit({ type: 'info', message: `installed-package snapshot: ${outcome}: ${start.add.map((p) => p.name).join(', ')}` });
      try {
        await install(start.add);
        return { snapshot: 'not needed', installed: outcome };
      } catch (err) {
        // The full install below starts again from the chroot; a lock that cannot be installed fails there too.
        o.emit({ type: 'warning', message: `the delta install failed (${messageOf(err)}): installing every package from the chroot` });
        await o.runner.run(['rm', '-rf', rootfs]);
      }
    }
  }
  const snapshot = await timed('chroot', () =>
    withSnapshot(
      {
        runner: o.runner,
        workDir: o.workDir,
        providerId: o.providerId,
        codename: lockSuite(o.lock),
        base,
        tools: o.lock.tools.packages,
        repo: () => makeLocalRepo(o.runner, { dir: snapshotPaths(o.workDir, o.providerId).repoDir, pkgDir: o.pkgDir, packages: base }),
        lockStaleMs: o.lockStaleMs,
        emit: o.emit,
        remote: o.snapshots,
      },
      async (paths) => {
        await o.runner.run(['mkdir', '-p', rootfs]);
        await o.runner.run([
          'tar',
          '--numeric-owner',
          '--xattrs',
          '--xattrs-include=*',
          `--use-compress-program=${gzipProgram(o.lock.tools.packages)}`,
          '-C',
          rootfs,
          '-xf',
          paths.tarball,
        ]);
      },
    ),
  );
  o.emit({ type: 'info', message: `chroot snapshot: ${snapshot.outcome}` });
  await install();
  const outcome: InstalledOutcome = found === 'damaged' ? 'rebuilt: snapshot damaged' : 'created';
  o.emit({ type: 'info', message: `installed-package snapshot: ${outcome}` });
  return { snapshot: snapshot.outcome, installed: outcome };
}

/** Identifiers in the image (disk, partition and filesystem UUIDs) derive from what it is made of. */
export function diskSeed(lock: LockFile, template: ImageTemplate): string {
  return createHash('sha256')
    .update(
      JSON.stringify({
        request: lock.requestDigest,
        packages: lock.image.packages.map((p) => p.sha256),
        disk: template.disk,
        name: template.systemConfig?.name,
      }),
    )
    .digest('hex');
}
