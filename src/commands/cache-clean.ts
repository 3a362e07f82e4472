// `cache clean`: remove whole caches of this machine: the package caches
// (pkgCache and the local g3-cache sections), the workspace (chroot and
// installed snapshots, image builds, leftovers), or both; optionally only one
// provider's. Each entry goes under its build locks, and an entry a running
// build holds is left and reported. The shared cache is never cleaned here.
import type { Settings } from '../config/load.js';
import { sweepOrphanUses } from '../layout/last-use.js';
import type { Entry, TierId } from '../inventory/entries.js';
import { linkNote, type Skipped } from '../inventory/walk.js';
import { type EntryReport, entryReport, removeEntry } from '../inventory/remove.js';
import { checkProviderId, scanCaches } from '../inventory/scan.js';

export type CleanScope = 'packages' | 'workspace' | 'all';

const SCOPE_TIERS: Record<CleanScope, readonly TierId[]> = {
  packages: ['local', 'packages'],
  workspace: ['workspace'],
  all: ['local', 'packages', 'workspace'],
};

export interface CleanOptions {
  scope: CleanScope;
  providerId?: string;
  dryRun: boolean;
}

export interface CleanReport {
  scope: CleanScope;
  providerId: string | null;
  dryRun: boolean;
  /** Removed (or, in a dry run, to be removed). */
  removed: EntryReport[];
  held: Array<EntryReport & { reason: string }>;
  failed: Array<EntryReport & { reason: string }>;
  freedBytes: number;
  /** Links found (removed as links, never followed) and folders that could not be read (`problem`). */
  skipped: Skipped[];
}

/** Remove the caches in `scope` (of one provider with `providerId`); a dry run changes nothing. */
export async function cacheClean(s: Settings, o: CleanOptions): Promise<CleanReport> {
  const scan = await scanCaches(s, { tiers: SCOPE_TIERS.all, probe: !o.dryRun, removeLinks: !o.dryRun });
  const id = o.providerId === undefined ? undefined : checkProviderId(o.providerId, scan.entries);
  const tiers = new Set(SCOPE_TIERS[o.scope]);
  const chosen = scan.entries.filter((e) => tiers.has(e.tier) && (id === undefined || e.provider === id));
  const report: CleanReport = {
    scope: o.scope,
    providerId: id ?? null,
    dryRun: o.dryRun,
    removed: [],
    held: [],
    failed: [],
    freedBytes: 0,
    skipped: scan.skipped,
  };
  for (const e of chosen) {
    const r = await removeEntry(e, { staleMs: s.lockStaleMs, dryRun: o.dryRun });
    if (r.state === 'removed') {
      report.removed.push(entryReport(e));
      report.freedBytes += e.bytes;
    } else report[r.state].push({ ...entryReport(e), reason: r.reason });
  }
  if (!o.dryRun) for (const root of recordRoots(chosen)) await sweepOrphanUses(root, linkNote(report.skipped));
  return report;
}

function recordRoots(entries: readonly Entry[]): Set<string> {
  return new Set(entries.flatMap((e) => (e.use ? [e.use.root] : [])));
}
