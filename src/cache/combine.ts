// Adding up the reports of several cache roots (g3-cache and package cache).
import type { CheckReport, RefreshReport } from './refresh.js';

/** One refresh report for several roots; `primary` names the local root when there is none. */
export function combineReports(reports: RefreshReport[], primary: string): RefreshReport {
  const first = reports[0];
  if (reports.length === 1 && first) return first;
  const sum = (f: (r: RefreshReport) => number) => reports.reduce((n, r) => n + f(r), 0);
  return {
    items: sum((r) => r.items),
    localRoot: first?.localRoot ?? primary,
    sharedRoot: first?.sharedRoot ?? null,
    roots: reports.map((r) => r.localRoot),
    hits: {
      local: sum((r) => r.hits.local),
      shared: sum((r) => r.hits.shared),
      registry: sum((r) => r.hits.registry),
      origin: sum((r) => r.hits.origin),
    },
    downloads: sum((r) => r.downloads),
    bytesDownloaded: sum((r) => r.bytesDownloaded),
    bytesFromShared: sum((r) => r.bytesFromShared),
    bytesFromRegistry: sum((r) => r.bytesFromRegistry),
    linkedFromShared: sum((r) => r.linkedFromShared),
    copiedFromShared: sum((r) => r.copiedFromShared),
    writtenBack: sum((r) => r.writtenBack),
    corrupt: reports.flatMap((r) => r.corrupt),
    failures: reports.flatMap((r) => r.failures),
    missing: reports.flatMap((r) => r.missing),
    seconds: Math.round(sum((r) => r.seconds) * 1000) / 1000,
    ok: reports.every((r) => r.ok),
  };
}

/** One check report for several roots. */
export function combineChecks(reports: CheckReport[]): CheckReport {
  return {
    items: reports.reduce((n, r) => n + r.items, 0),
    ok: reports.every((r) => r.ok),
    needsRefresh: reports.flatMap((r) => r.needsRefresh),
  };
}
