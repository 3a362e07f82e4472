// An overlay's lock: the baseline image is read (its SHA256, size and dpkg
// database) and its installed packages join the resolution as a repository of
// their own, so the template's packages are resolved on top of what the
// baseline has. With additive-only the baseline's versions always win (a
// package that needs a newer one fails the lock); with additive-and-upgrade a
// newer version in the repositories replaces the baseline's. Conflicts with the
// baseline's packages fail the lock (conflictPolicy fail).
import { fetchBaseline } from '../baseline/fetch.js';
import { readBaselineLayout, readBaselineStatus, withRawBaseline } from '../baseline/layout.js';
import type { FetchSettings } from '../net/fetch.js';
import { baselineDigest, checkBaselineFile } from '../baseline/source.js';
import type { PackageRecord, Relation } from '../deb/types.js';
import { installedRecords } from '../deb/status.js';
import { compareVersions, satisfies } from '../deb/version.js';
import { PackageIndex } from '../resolve/index.js';
import { UserError } from '../errors.js';
import { tempRoot } from '../fs/temp.js';
import type { BaselinePackage, LockedBaseline, LockRequest } from '../lock/types.js';
import type { Emit } from '../log/events.js';
import type { RepoInput } from '../resolve/types.js';
import type { BaselineFormat } from '../template/overlay/spec.js';
import { escapeInline, redactUrl } from '../text/untrusted.js';

/** The repository id the baseline's installed packages carry in the resolution. */
export const BASELINE_REPO = 'baseline';
/** Above any pin a template can give: with additive-only the baseline's version is always the candidate. */
const PINNED = 1_000_000;

export interface ReadBaseline {
  locked: LockedBaseline;
  records: PackageRecord[];
}

/** Where a baseline named by URL is fetched to (the provider's package cache folder), and how. */
export interface BaselineFetchContext {
  dir: string;
  fetch: FetchSettings;
  offline: boolean;
}

/** Read the baseline a request names (fetching it first when it is a URL): checked, hashed, its installed packages as records. */
export async function readLockBaseline(req: NonNullable<LockRequest['baseline']>, emit: Emit, fetchCtx?: BaselineFetchContext): Promise<ReadBaseline> {
  const format = req.format as BaselineFormat;
  let file: string;
  let digest: { sha256: string; size: number } | undefined;
  if ('url' in req.source) {
    if (!fetchCtx) throw new UserError('a baseline named by URL needs the package cache to fetch it into');
    emit({ type: 'info', message: `fetching the baseline ${escapeInline(redactUrl(req.source.url))}` });
    const got = await fetchBaseline(req.source.url, format, fetchCtx.dir, fetchCtx);
    ({ file } = got);
    digest = { sha256: got.sha256, size: got.size };
  } else file = req.source.path;
  emit({ type: 'info', message: `reading the baseline ${escapeInline(file)} (${format})` });
  await checkBaselineFile(file, format);
  digest ??= await baselineDigest(file);
  const status = await withRawBaseline(file, format, tempRoot(), async (raw) => {
    const layout = await readBaselineLayout(raw, digest.size, file);
    return readBaselineStatus(raw, layout.root, file);
  });
  const records = installedRecords(status, BASELINE_REPO);
  if (records.length === 0) throw new UserError(`the dpkg database of the baseline ${escapeInline(file)} lists no installed package`);
  const packages: BaselinePackage[] = records
    .map((r) => ({ name: r.name, version: r.version, architecture: r.architecture }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.architecture < b.architecture ? -1 : 1));
  emit({ type: 'info', message: `baseline: ${packages.length} installed packages, sha256 ${digest.sha256.slice(0, 12)}` });
  return { locked: { source: req.source, format, sha256: digest.sha256, size: digest.size, packages }, records };
}

/** The baseline as the first repository of a resolution, pinned above the rest or level with the highest. */
export function baselineRepo(records: PackageRecord[], packageOperation: string, repos: readonly RepoInput[]): RepoInput {
  const top = Math.max(500, ...repos.map((r) => r.priority));
  return { id: BASELINE_REPO, priority: packageOperation === 'additive-and-upgrade' ? top : PINNED, packages: records };
}

/**
 * Split a resolution's packages into what the overlay installs and what the
 * baseline already has; a package that would go down in version is refused.
 */
export function overlayPackages(chosen: PackageRecord[], baseline: readonly BaselinePackage[]): PackageRecord[] {
  const had = new Map(baseline.map((p) => [`${p.name}:${p.architecture}`, p.version]));
  const install: PackageRecord[] = [];
  for (const p of chosen) {
    if (p.repository === BASELINE_REPO) continue;
    const was = had.get(`${p.name}:${p.architecture}`);
    if (was !== undefined && compareVersions(p.version, was) < 0)
      throw new UserError(
        `the overlay would downgrade ${escapeInline(p.name)} from the baseline's ${escapeInline(was)} to ${escapeInline(p.version)}`,
        'An overlay only adds and upgrades packages: lower the priority of the repository that offers the older version.',
      );
    install.push(p);
  }
  return install;
}

/** A resolution failure of an overlay, with what the package operation means. */
export function explainOverlayFailure(err: unknown, packageOperation: string): unknown {
  if (!(err instanceof UserError) || packageOperation !== 'additive-only') return err;
  return new UserError(
    `${err.message} (overlayPolicy.packageOperation is additive-only: the baseline's packages keep their versions)`,
    `${err.hint ? `${err.hint}\n` : ''}Set overlayPolicy.packageOperation: additive-and-upgrade to let newer versions replace the baseline's.`,
  );
}

/** A baseline package the overlay removes: it conflicts with (or breaks, or is broken by) a package the template names. */
export interface BaselineRemoval {
  name: string;
  /** The package the template names that it conflicts with. */
  by: string;
}

// Whether `rel` (a Conflicts or Breaks entry) hits `rec`, by its name or by a name it provides.
function relHits(rel: Relation, rec: PackageRecord): boolean {
  const versionHit = (v: string | undefined) => !rel.op || rel.version === undefined || (v !== undefined && satisfies(v, rel.op, rel.version));
  if (rel.name === rec.name && versionHit(rec.version)) return true;
  return rec.provides.some((p) => p.name === rel.name && versionHit(p.version));
}

/**
 * conflictPolicy allow-explicit: the baseline packages that conflict with a
 * package the template names explicitly (either side's Conflicts or Breaks,
 * directly or through Provides), each with the package it yields to. A
 * conflict with a package pulled in only as a dependency is not among them:
 * the resolution still refuses it.
 */
export function explicitConflicts(
  requested: readonly string[],
  repos: readonly RepoInput[],
  baseline: readonly PackageRecord[],
  arch: string,
): BaselineRemoval[] {
  const index = new PackageIndex(repos, arch);
  const out: BaselineRemoval[] = [];
  for (const name of [...new Set(requested.map((r) => r.split('=')[0] as string))].sort()) {
    const wanted = index.candidate(name);
    if (!wanted) continue;
    for (const b of baseline) {
      if (b.name === wanted.name) continue;
      const hit = [...wanted.conflicts, ...wanted.breaks].some((rel) => relHits(rel, b)) || [...b.conflicts, ...b.breaks].some((rel) => relHits(rel, wanted));
      if (hit && !out.some((o) => o.name === b.name)) out.push({ name: b.name, by: wanted.name });
    }
  }
  return out;
}
