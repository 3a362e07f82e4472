// The `cache` command: refresh (or only check) a target's caches: its
// artifacts and composer tools in the g3-cache, and, for a template target, its
// locked packages in `<cache_dir>/pkgCache/<provider-id>/`.
import type { CheckReport, RefreshReport } from '../cache/refresh.js';
import { findTarget } from '../catalogue/load.js';
import { openCatalogue } from '../catalogue/open.js';
import type { Catalogue } from '../catalogue/types.js';
import type { Settings } from '../config/load.js';
import type { Emit } from '../log/events.js';
import { UserError } from '../errors.js';
import { registryTierFor } from '../packages/registry-sets.js';
import { basePackages, snapshotKey, snapshotProblem } from '../compose/rootfs/snapshot.js';
import { installedKey } from '../compose/rootfs/installed.js';
import { installedPaths, snapshotPaths } from '../layout/paths.js';
import { checkTargetCaches, type LockedTarget, refreshTargetCaches } from '../packages/target-caches.js';
import { isTemplateTarget, type OpenTarget, openTemplateTarget } from '../packages/target.js';
import { openInitramfsTarget } from '../packages/initramfs-target.js';

export interface CacheOptions {
  settings: Settings;
  target: string;
  /** Only report whether a refresh is needed; change nothing. */
  check: boolean;
  /** Ignore stamps and rehash every file. */
  verify: boolean;
  /** Fill the cache registry with what the target needs; failing to is an error (exit 1). */
  push?: boolean;
  emit: Emit;
  /** The catalogue, when the caller has already loaded it. */
  catalogue?: Catalogue;
  /** The target's opened template, when the caller has already opened it (from the same catalogue). */
  opened?: OpenTarget;
}

/** A template target's opened template and lock, for callers that go on to build it (not rendered). */
export type Opened = LockedTarget;

export type CacheResult =
  | { mode: 'refresh'; target: string; report: RefreshReport; opened?: Opened; push?: { ok: boolean } }
  | { mode: 'check'; target: string; report: CheckReport };

/** Refresh or check the caches of one target. */
export async function cache(opts: CacheOptions): Promise<CacheResult> {
  const s = opts.settings;
  if (opts.push && opts.check) throw new UserError('cache --push and --check do not go together', '--check changes nothing; --push fills the cache registry.');
  if (opts.push && !s.cacheRegistry)
    throw new UserError(
      'cache --push needs a cache registry',
      'Set cache_registry in the config, G3_CACHE_REGISTRY, or --cache-registry host[:port]/repository.',
    );
  if (opts.push && s.offline) throw new UserError('cache --push and --offline do not go together', '--offline means no network, the registry included.');
  const cat = opts.catalogue ?? (await openCatalogue(s, opts.emit));
  const target = findTarget(cat, opts.target);
  const opened = isTemplateTarget(target) ? (opts.opened ?? (await openTemplateTarget(s, opts.target, opts.emit, cat))) : undefined;
  // An ISO's initramfs target (systemConfig.initramfs) first: the build needs both.
  const derived = opened ? await openInitramfsTarget(s, cat, opened, opts.emit) : undefined;
  if (derived) {
    const sub = { settings: s, target: derived.target, opened: derived, verify: opts.verify, emit: opts.emit };
    if (opts.check) {
      const report = await checkTargetCaches(sub);
      if (!report.ok) return { mode: 'check', target: derived.target.name, report };
    } else {
      const { report, pushed } = await refreshTargetCaches(sub);
      if (!report.ok || (opts.push && !pushed)) return { mode: 'refresh', target: derived.target.name, report, ...(opts.push && { push: { ok: pushed } }) };
    }
  }
  const input = { settings: s, target, opened, verify: opts.verify, emit: opts.emit };
  if (opts.check) return { mode: 'check', target: target.name, report: await checkTargetCaches(input) };
  const { report, locked, pushed } = await refreshTargetCaches(input);
  const snapshots = opts.push && pushed && locked ? await pushSnapshots(s, locked, opts.emit) : true;
  return { mode: 'refresh', target: target.name, report, opened: locked, ...(opts.push && { push: { ok: pushed && snapshots } }) };
}

/** `--push`: the target's chroot and installed-package snapshots too, when this host has them and they verify. */
async function pushSnapshots(s: Settings, { t, lock }: Opened, emit: Emit): Promise<boolean> {
  const tier = registryTierFor(s, emit);
  if (!tier || lock.baseline) return true;
  try {
    const chrootKey = snapshotKey(basePackages(lock), lock.tools.packages);
    const key = installedKey(chrootKey, lock.image.packages);
    const wanted = [
      { kind: 'chroot', key: chrootKey, paths: snapshotPaths(s.workDir, t.plan.providerId) },
      { kind: 'installed', key, paths: installedPaths(s.workDir, t.plan.providerId, key) },
    ];
    for (const w of wanted) {
      const found = await snapshotProblem(w.paths, w.key);
      if (found.problem || !found.stamp) {
        emit({ type: 'info', message: `no verified ${w.kind} snapshot here for ${t.plan.providerId} (build the target first to share it)` });
        continue;
      }
      await tier.pushSnapshot(w.kind, w.key, w.paths.tarball, found.stamp);
    }
    return tier.usable && tier.stats.pushFailed === null;
  } finally {
    await tier.close();
  }
}
