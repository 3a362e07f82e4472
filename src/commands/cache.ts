// The `cache` command: refresh (or only check) a target's caches: its
// artifacts and composer tools in the g3-cache, and, for a template target, its
// locked packages in `<cache_dir>/pkgCache/<provider-id>/`.
import path from 'node:path';
import { findTarget } from '../catalogue/load.js';
import type { Artifact, Catalogue } from '../catalogue/types.js';
import { type CheckReport, checkLocal, type RefreshReport, refresh } from '../cache/refresh.js';
import type { Settings } from '../config/load.js';
import type { LockFile } from '../lock/types.js';
import type { Emit } from '../log/events.js';
import { lockArtifacts } from '../packages/artifacts.js';
import { writeGraphs } from '../packages/graphs.js';
import { fetchSettings, isTemplateTarget, type OpenTarget, openTemplateTarget } from '../packages/target.js';
import { combineChecks, combineReports } from '../cache/combine.js';
import { holdSections, releaseHolds } from '../cache/hold.js';
import type { Lock } from '../fs/lock.js';
import { resolveLocalRoot } from '../cache/tiers.js';
import { PACKAGES_DIR, packagesRoot, toolsSection } from '../workspace/layout.js';
import { openCatalogue } from '../catalogue/open.js';
import { removedLinkMessage } from '../fs/safe.js';
import { matchingLock, resolveAndWrite } from './lock.js';

export interface CacheOptions {
  settings: Settings;
  target: string;
  /** Only report whether a refresh is needed; change nothing. */
  check: boolean;
  /** Ignore stamps and rehash every file. */
  verify: boolean;
  emit: Emit;
  /** The catalogue, when the caller has already loaded it. */
  catalogue?: Catalogue;
  /** The target's opened template, when the caller has already opened it (from the same catalogue). */
  opened?: OpenTarget;
}

/** A template target's opened template and lock, for callers that go on to build it (not rendered). */
export interface Opened {
  t: OpenTarget;
  lock: LockFile;
}

export type CacheResult = { mode: 'refresh'; target: string; report: RefreshReport; opened?: Opened } | { mode: 'check'; target: string; report: CheckReport };

/** One cache root and what goes into it. */
interface Job {
  root: string;
  shared?: string;
  /** The shared tier is this sub-folder of the shared cache, made on first use. */
  sharedSub?: string;
  artifacts: Artifact[];
}

/** Refresh or check the caches of one target. */
export async function cache(opts: CacheOptions): Promise<CacheResult> {
  const s = opts.settings;
  const cat = opts.catalogue ?? (await openCatalogue(s, opts.emit));
  const target = findTarget(cat, opts.target);
  const jobs: Job[] = [{ root: s.g3Cache, shared: s.sharedCache, artifacts: [...target.artifacts] }];
  let missingLock: string | undefined;
  let opened: Opened | undefined;
  if (isTemplateTarget(target)) {
    const t = opts.opened ?? (await openTemplateTarget(s, opts.target, opts.emit, cat));
    const lock = await usableLock(t, s, opts);
    if (lock) {
      opened = { t, lock };
      const urls = new Map(t.plan.repos.map((r) => [r.id, r.url]));
      jobs[0]?.artifacts.push(...lockArtifacts(lock, lock.tools, toolsSection(t.plan.providerId), t.lockFile, urls));
      jobs.push({
        root: packagesRoot(s.cacheDir),
        shared: s.sharedCache,
        sharedSub: PACKAGES_DIR,
        artifacts: lockArtifacts(lock, lock.image, t.plan.providerId, t.lockFile, urls),
      });
    } else missingLock = t.lockFile;
  }
  const work = jobs.filter((j) => j.artifacts.length > 0);
  if (work.length === 0 && !missingLock) opts.emit({ type: 'info', message: `target ${target.name} has no artifacts: nothing to cache` });
  if (opts.check) {
    const reports = await Promise.all(work.map((j) => checkLocal(j.artifacts, j.root, { verify: opts.verify, workers: s.workers })));
    const report = combineChecks(reports);
    if (missingLock) report.needsRefresh.unshift({ item: path.basename(missingLock), reason: 'no lock file: packages not resolved yet' });
    report.ok = report.needsRefresh.length === 0;
    return { mode: 'check', target: target.name, report };
  }
  const reports: RefreshReport[] = [];
  const holds = await holdWork(work, s.lockStaleMs, opts.emit);
  try {
    for (const j of work) {
      reports.push(
        await refresh(j.artifacts, {
          localRoot: j.root,
          sharedPath: j.shared,
          sharedSub: j.sharedSub,
          workers: s.workers,
          offline: s.offline,
          verify: opts.verify,
          lockStaleMs: s.lockStaleMs,
          fetch: fetchSettings(s),
          emit: opts.emit,
        }),
      );
    }
    // After the refresh: it has checked that the provider's folder is a real one.
    if (opened) await writeGraphs(opened.t, { lock: opened.lock });
  } finally {
    await releaseHolds(holds);
  }
  return { mode: 'refresh', target: target.name, report: combineReports(reports, s.g3Cache), opened };
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

/**
 * The lock to fetch from: the existing one when it matches the template (a
 * mismatch is an error, never used silently); else resolve and write one.
 * In --check mode nothing is resolved: undefined means "no lock yet".
 */
async function usableLock(t: OpenTarget, s: Settings, opts: CacheOptions): Promise<LockFile | undefined> {
  const existing = await matchingLock(t);
  if (existing || opts.check) return existing;
  opts.emit({ type: 'info', message: `no lock for ${t.target.name}: resolving and writing ${t.lockFile}` });
  return (await resolveAndWrite(t, s, opts.emit)).lock;
}
