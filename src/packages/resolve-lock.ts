// Resolve a plan against verified repository metadata and turn the result
// into a lock file.
import type { PackageRecord } from '../deb/types.js';
import { requestDigest } from '../lock/file.js';
import { LOCK_VERSION, type LockedPackage, type LockedRepository, type LockedSet, type LockFile } from '../lock/types.js';
import { loadRepository } from '../repo/deb/repository.js';
import type { MetadataOptions, RepoMetadata } from '../repo/deb/types.js';
import { RecordCatalog, resolve } from '../resolve/resolve.js';
import type { Resolution } from '../resolve/types.js';
import type { PackagePlan } from './plan.js';
import { checkFileNames, checkRequested, explainRefused, refusedByName } from './refused.js';
import { type BaselineFetchContext, baselineRepo, explainOverlayFailure, explicitConflicts, overlayPackages, readLockBaseline } from './baseline-lock.js';

/** A resolved plan: the lock, and the resolutions (for Graphviz files). */
export interface ResolvedPlan {
  lock: LockFile;
  image: Resolution;
  tools: Resolution;
  metadata: RepoMetadata[];
}

/** Load every repository (verified), resolve image and tools, build the lock. */
export async function resolvePlan(target: string, plan: PackagePlan, meta: MetadataOptions, baselineFetch?: BaselineFetchContext): Promise<ResolvedPlan> {
  const metadata = await Promise.all(plan.repos.map((r) => loadRepository(r, meta)));
  const repos = plan.repos.map((r, i) => ({
    id: r.id,
    priority: r.priority,
    allowPackages: r.allowPackages,
    packages: (metadata[i] as RepoMetadata).packages,
  }));
  // Indexed once for the image, the tools and the composer base: an index of Debian main is ~20 MB.
  const catalog = new RecordCatalog(repos, plan.arch);
  const refused = refusedByName(metadata);
  checkRequested([...plan.request.packages, ...plan.request.tools], metadata, refused);
  const resolveOrExplain = (req: Parameters<typeof resolve>[0], shared?: RecordCatalog): Resolution => {
    try {
      return resolve(req, shared);
    } catch (err) {
      throw explainRefused(err, refused);
    }
  };
  // An overlay resolves the template's packages together with everything the baseline has installed.
  const overlay = plan.request.baseline;
  const baseline = overlay ? await readLockBaseline(overlay, meta.emit, baselineFetch) : undefined;
  // conflictPolicy allow-explicit: a baseline package that conflicts with one the template names yields to it.
  const removed = baseline && overlay?.conflictPolicy === 'allow-explicit' ? explicitConflicts(plan.request.packages, repos, baseline.records, plan.arch) : [];
  for (const r of removed)
    meta.emit({
      type: 'info',
      message: `overlay: the baseline's ${r.name} conflicts with ${r.by}, which the template names: it is removed (conflictPolicy allow-explicit)`,
    });
  const kept = baseline?.records.filter((r) => !removed.some((x) => x.name === r.name)) ?? [];
  const imageRepos = baseline && overlay ? [baselineRepo(kept, overlay.packageOperation, repos), ...repos] : repos;
  const imageRequest = baseline ? [...new Set([...plan.request.packages, ...kept.map((p) => p.name)])] : plan.request.packages;
  let image: Resolution;
  try {
    // An overlay has no chroot to bootstrap: the baseline is its base, and every package of it is in the request.
    image = resolveOrExplain(
      { repos: imageRepos, arch: plan.arch, packages: imageRequest, base: baseline ? 'none' : 'required' },
      imageRepos === repos ? catalog : undefined,
    );
  } catch (err) {
    throw overlay ? explainOverlayFailure(err, overlay.packageOperation) : err;
  }
  const tools = resolveOrExplain({ repos, arch: plan.arch, packages: plan.request.tools, base: 'essential' }, catalog);
  const toolPackages = tools.packages.filter((p) => !tools.base.some((b) => b.name === p.name));
  // The composer's base image is made from the Essential set and apt; an overlay's image set lacks them.
  const composerBase = baseline ? resolveOrExplain({ repos, arch: plan.arch, packages: ['apt'], base: 'essential' }, catalog) : undefined;
  if (composerBase) checkFileNames(composerBase.packages, 'composer base');
  // An overlay installs only what the baseline lacks (or has older, with additive-and-upgrade).
  const imagePackages = baseline ? overlayPackages(image.packages, baseline.locked.packages) : image.packages;
  checkFileNames(imagePackages, 'image');
  checkFileNames(toolPackages, 'tools');
  for (const w of [...image.warnings, ...tools.warnings]) meta.emit({ type: 'warning', message: w });
  const lock: LockFile = {
    lockVersion: LOCK_VERSION,
    target,
    providerId: plan.providerId,
    arch: plan.arch,
    requestDigest: requestDigest(plan.request),
    request: plan.request,
    repositories: plan.repos.map((r, i): LockedRepository => {
      const m = metadata[i] as RepoMetadata;
      return {
        id: r.id,
        url: r.url,
        codename: r.codename,
        components: r.components,
        priority: r.priority,
        allowPackages: r.allowPackages,
        trusted: r.trusted,
        release:
          m.release.signedBy === undefined
            ? { sha256: m.release.sha256, size: m.release.size, date: m.release.date, validUntil: m.release.validUntil }
            : { sha256: m.release.sha256, size: m.release.size, date: m.release.date, validUntil: m.release.validUntil, signedBy: m.release.signedBy },
        indexes: m.indexes.map((x) => ({ component: x.component, arch: x.arch, path: x.path, sha256: x.sha256, size: x.size })),
      };
    }),
    image: lockedSet(plan.request.packages, baseline ? 'none' : 'required', image, imagePackages),
    // The tools are installed on top of an essential base image: only what it lacks is cached.
    tools: lockedSet(plan.request.tools, 'essential', tools, toolPackages),
    ...(baseline ? { baseline: { ...baseline.locked, ...(removed.length > 0 ? { removed } : {}) } } : {}),
    ...(composerBase ? { composerBase: lockedSet(['apt'], 'essential', composerBase, composerBase.packages) } : {}),
  };
  return { lock, image, tools, metadata };
}

function lockedSet(requested: string[], base: LockedSet['base'], res: Resolution, chosen: PackageRecord[]): LockedSet {
  const names = new Set(chosen.map((p) => p.name));
  return {
    requested,
    base,
    baseSet: res.base.map((p) => p.name).sort(),
    packages: chosen.map((p) => lockedPackage(p, res)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    installOrder: res.installOrder.filter((n) => names.has(n)),
  };
}

function lockedPackage(p: PackageRecord, res: Resolution): LockedPackage {
  const depends = [...new Set(res.edges.filter((e) => e.from === p.name).map((e) => e.to))].sort();
  return {
    name: p.name,
    version: p.version,
    architecture: p.architecture,
    filename: p.filename,
    size: p.size,
    sha256: p.sha256,
    repository: p.repository,
    depends,
  };
}
