// Everything a target's build reads from the caches, refreshed or only
// checked: its artifacts and composer tools in the g3-cache and, for a
// template target, its locked packages in `<cache_dir>/pkgCache/<provider-id>/`.
import { cachedImagePackages } from '../lock/file.js';
import path from 'node:path';
import { combineChecks, combineReports } from '../cache/combine.js';
import { holdSections, releaseHolds } from '../cache/hold.js';
import { type CheckReport, checkLocal, type RefreshReport, refresh } from '../cache/refresh.js';
import { resolveLocalRoot } from '../cache/tiers.js';
import type { Artifact, Target } from '../catalogue/types.js';
import type { Settings } from '../config/load.js';
import { InternalError } from '../errors.js';
import type { Lock } from '../fs/lock.js';
import { removedLinkMessage } from '../fs/safe.js';
import type { LockFile } from '../lock/types.js';
import type { Emit } from '../log/events.js';
import { baselineCacheName, PACKAGES_DIR, packagesRoot, toolsSection } from '../layout/paths.js';
import { escapeInline, redactUrl } from '../text/untrusted.js';
import { lockArtifacts } from './artifacts.js';
import { ensureLock, matchingLock } from './ensure-lock.js';
import { writeGraphs } from './graphs.js';
import { fetchSettings, isTemplateTarget, type OpenTarget } from './target.js';
import { pushSets, registrySets, registryTierFor, verifiedKey } from './registry-sets.js';

export interface TargetCachesInput {
  settings: Settings;
  target: Target;
  /** The target's opened template: given for a template target, undefined for an artifact-only one. */
  opened: OpenTarget | undefined;
  /** Ignore stamps and rehash every file. */
  verify: boolean;
  emit: Emit;
}

/** A template target's opened template and the lock its packages come from. */
export interface LockedTarget {
  t: OpenTarget;
  lock: LockFile;
}

/** One cache root and what goes into it. */
interface Job {
  root: string;
  shared?: string;
  /** The shared tier is this sub-folder of the shared cache, made on first use. */
  sharedSub?: string;
  artifacts: Artifact[];
}

function openedOf(i: TargetCachesInput): OpenTarget | undefined {
  if (isTemplateTarget(i.target) !== (i.opened !== undefined))
    throw new InternalError(`target ${i.target.name}: the opened template must be given exactly when the target has one`);
  return i.opened;
}

/** The roots to fill and their artifacts (empty ones left out); the lock adds the tools and the packages. */
function jobsFor(s: Settings, target: Target, lockSet: LockSet | undefined, emit: Emit, missingLock: boolean): Job[] {
  const jobs: Job[] = [{ root: s.g3Cache, shared: s.sharedCache, artifacts: [...target.artifacts] }];
  if (lockSet) {
    const { artifacts, providerId } = lockSet;
    const tools = toolsSection(providerId);
    jobs[0]?.artifacts.push(...artifacts.filter((a) => a.section === tools));
    jobs.push({ root: packagesRoot(s.cacheDir), shared: s.sharedCache, sharedSub: PACKAGES_DIR, artifacts: artifacts.filter((a) => a.section !== tools) });
  }
  const work = jobs.filter((j) => j.artifacts.length > 0);
  if (work.length === 0 && !missingLock) emit({ type: 'info', message: `target ${target.name} has no artifacts: nothing to cache` });
  return work;
}

/** Whether the target's caches need a refresh; changes nothing (no lock is resolved: a missing one is reported). */
export async function checkTargetCaches(i: TargetCachesInput): Promise<CheckReport> {
  const s = i.settings;
  const t = openedOf(i);
  const lock = t && (await matchingLock(t));
  const missingLock = t && !lock ? t.lockFile : undefined;
  const work = jobsFor(s, i.target, t && lock ? lockSetOf({ t, lock }) : undefined, i.emit, missingLock !== undefined);
  const reports = await Promise.all(work.map((j) => checkLocal(j.artifacts, j.root, { verify: i.verify, workers: s.workers })));
  const report = combineChecks(reports);
  if (missingLock) report.needsRefresh.unshift({ item: path.basename(missingLock), reason: 'no lock file: packages not resolved yet' });
  report.ok = report.needsRefresh.length === 0;
  return report;
}

/** Refresh the target's caches, resolving and writing its lock first when it has none; `locked` is set for a template target. */
export async function refreshTargetCaches(i: TargetCachesInput): Promise<{ report: RefreshReport; locked?: LockedTarget; pushed: boolean }> {
  const s = i.settings;
  const t = openedOf(i);
  const locked = t ? { t, lock: await ensureLock(t, s, i.emit) } : undefined;
  // The lock's files, listed once: the refresh fills them in, the registry gets them as one set.
  const lockSet = locked && lockSetOf(locked);
  const work = jobsFor(s, i.target, lockSet, i.emit, false);
  const reports: RefreshReport[] = [];
  const registry = registryTierFor(s, i.emit);
  const verified = new Map<string, string>();
  const holds = await holdWork(work, s.lockStaleMs, i.emit);
  let pushed = true;
  try {
    for (const j of work) {
      reports.push(
        await refresh(j.artifacts, {
          localRoot: j.root,
          sharedPath: j.shared,
          sharedSub: j.sharedSub,
          workers: s.workers,
          offline: s.offline,
          verify: i.verify,
          lockStaleMs: s.lockStaleMs,
          fetch: fetchSettings(s),
          emit: i.emit,
          registry,
          onVerified: (a, file) => verified.set(verifiedKey(a), file),
        }),
      );
    }
    // What this run verified goes back to the registry (the blobs it lacks, then the manifests), still under the holds.
    if (registry) pushed = await pushSets(registry, await registrySets(i.target, lockSet), verified);
    // After the refresh: it has checked that the provider's folder is a real one.
    if (locked) await writeGraphs(locked.t, { lock: locked.lock });
    const hint = baselineFailureHint(
      locked?.lock,
      i.target.name,
      reports.flatMap((r) => r.failures),
    );
    if (hint) i.emit({ type: 'warning', message: hint });
  } finally {
    await releaseHolds(holds);
    await registry?.close();
  }
  const report = combineReports(reports, s.g3Cache);
  report.registry = registry?.stats ?? null;
  return { report, locked, pushed };
}

export interface LockSet {
  file: string;
  providerId: string;
  artifacts: Artifact[];
}

/** The lock's own files (tools, packages, a URL baseline), as the registry keeps them together. */
export function lockSetOf({ t, lock }: LockedTarget): LockSet {
  const urls = new Map(t.plan.repos.map((r) => [r.id, r.url]));
  return {
    file: t.lockFile,
    providerId: t.plan.providerId,
    artifacts: [
      ...lockArtifacts(lock, lock.tools, toolsSection(t.plan.providerId), t.lockFile, urls),
      ...lockArtifacts(lock, { ...lock.image, packages: cachedImagePackages(lock) }, t.plan.providerId, t.lockFile, urls),
      ...baselineArtifacts(lock, t.plan.providerId, t.lockFile),
    ],
  };
}

/**
 * Hold every section the run works on until it ends, as a build holds its
 * provider: `cache prune`, `clean` and `verify` leave held sections alone, so
 * nothing this run verifies is removed before it finishes.
 */
async function holdWork(work: readonly Job[], staleMs: number, emit: Emit): Promise<Lock[]> {
  const onLink = (link: string, target: string) => emit({ type: 'warning', message: removedLinkMessage(link, target) });
  const holds: Lock[] = [];
  try {
    for (const j of work) {
      const root = await resolveLocalRoot(j.root);
      holds.push(
        ...(await holdSections(
          root,
          j.artifacts.map((a) => a.section),
          staleMs,
          onLink,
        )),
      );
    }
  } catch (err) {
    await releaseHolds(holds);
    throw err;
  }
  return holds;
}

/** An overlay's baseline named by URL, pinned by the lock: cached beside the packages like any verified file. */
export function baselineArtifacts(lock: LockFile, section: string, lockFile: string): Artifact[] {
  const b = lock.baseline;
  if (!b || !('url' in b.source)) return [];
  return [{ section, file: baselineCacheName(b.sha256, b.format), urls: [b.source.url], sha256: b.sha256, size: b.size, origin: { file: lockFile, line: 0 } }];
}

/** When the baseline failed to refresh, say what it most likely means: the file at its URL is no longer the one the lock pins. */
export function baselineFailureHint(lock: LockFile | undefined, target: string, failures: ReadonlyArray<{ item: string }>): string | undefined {
  const b = lock?.baseline;
  if (!b || !('url' in b.source)) return undefined;
  const name = baselineCacheName(b.sha256, b.format);
  if (!failures.some((f) => f.item.endsWith(name))) return undefined;
  return `the baseline ${escapeInline(redactUrl(b.source.url))} is not the file the lock pins (SHA256 ${b.sha256.slice(0, 16)}…, ${b.size} bytes): if it changed upstream, run: <builder> ${target} lock --update`;
}
