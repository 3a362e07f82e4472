// `cache prune`: remove least recently used entries of the local caches (the
// local g3-cache, the package cache and the workspace snapshots), first those
// unused for longer than --older-than, then more until they fit in
// --max-size. Last use is the recorded one (last-use.ts), else the mtime.
// The shared cache is never pruned from here: other builders own it too.
import type { Settings } from '../config/load.js';
import { UserError } from '../errors.js';
import { sweepOrphanUses } from '../layout/last-use.js';
import { type Entry, type EntryKind, usedAt } from '../inventory/entries.js';
import { linkNote, type Skipped } from '../inventory/walk.js';
import { type EntryReport, entryReport, type Outcome, removeEntry } from '../inventory/remove.js';
import { scanCaches } from '../inventory/scan.js';
import { formatAge } from '../units/age.js';

const PRUNABLE: ReadonlySet<EntryKind> = new Set(['file', 'chroot', 'installed', 'scratch']);

export interface PruneOptions {
  olderThanMs?: number;
  maxBytes?: number;
  dryRun: boolean;
  /** The time ages are measured from (tests); default now. */
  now?: number;
}

export interface PrunePolicy {
  olderThanMs?: number;
  maxBytes?: number;
  now: number;
}

export type PruneWhy = 'age' | 'size';

export interface PruneStep<T> {
  entry: T;
  why: PruneWhy;
  outcome: Outcome;
}

/** Entries least recently used first (ties by path, so the order is stable). */
export function lruOrder<T extends Pick<Entry, 'lastUseMs' | 'mtimeMs' | 'path'>>(entries: readonly T[]): T[] {
  return [...entries].sort((a, b) => usedAt(a) - usedAt(b) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * Walk `entries` least recently used first, asking `attempt` to remove each
 * one that is older than the age limit or while the total is over the size
 * limit. An entry that stays (held by a build, failed) still counts towards
 * the total, so the next one is tried instead. Returns every attempt in order.
 */
export async function pruneWalk<T extends Pick<Entry, 'lastUseMs' | 'mtimeMs' | 'path' | 'bytes'>>(
  entries: readonly T[],
  policy: PrunePolicy,
  attempt: (e: T, why: PruneWhy) => Promise<Outcome>,
): Promise<{ steps: PruneStep<T>[]; remainingBytes: number }> {
  let total = entries.reduce((n, e) => n + e.bytes, 0);
  const steps: PruneStep<T>[] = [];
  for (const entry of lruOrder(entries)) {
    const old = policy.olderThanMs !== undefined && policy.now - usedAt(entry) > policy.olderThanMs;
    const over = policy.maxBytes !== undefined && total > policy.maxBytes;
    // Sorted oldest first: once one is neither too old nor needed for size, none after it is.
    if (!old && !over) break;
    const why: PruneWhy = old ? 'age' : 'size';
    const outcome = await attempt(entry, why);
    if (outcome.state === 'removed') total -= entry.bytes;
    steps.push({ entry, why, outcome });
  }
  return { steps, remainingBytes: total };
}

export interface PrunedEntry extends EntryReport {
  /** Why it was chosen: "unused for 200d 3h (over 180d)" or "least recently used while over --max-size". */
  why: string;
}

export interface PruneReport {
  dryRun: boolean;
  olderThanMs: number | null;
  maxBytes: number | null;
  before: { entries: number; bytes: number };
  after: { entries: number; bytes: number };
  /** Removed (or, in a dry run, to be removed), in the order they went. */
  removed: PrunedEntry[];
  /** Chosen but left: a running build holds them. */
  held: Array<PrunedEntry & { reason: string }>;
  failed: Array<PrunedEntry & { reason: string }>;
  freedBytes: number;
  /** Whether the caches now fit in --max-size (null without it). */
  fits: boolean | null;
  /** Last-use records of entries that are gone, removed. */
  orphanRecords: number;
  /** Links found (removed as links, never followed) and folders that could not be read (`problem`). */
  skipped: Skipped[];
}

/** Prune the local caches by last use; a dry run changes nothing. */
export async function cachePrune(s: Settings, o: PruneOptions): Promise<PruneReport> {
  if (o.olderThanMs === undefined && o.maxBytes === undefined)
    throw new UserError('cache prune needs --older-than, --max-size or both', 'e.g. cache prune --older-than 180d --max-size 20G');
  const now = o.now ?? Date.now();
  const scan = await scanCaches(s, { tiers: ['local', 'packages', 'workspace'], probe: !o.dryRun, removeLinks: !o.dryRun });
  const candidates = scan.entries.filter((e) => PRUNABLE.has(e.kind));
  const { steps, remainingBytes } = await pruneWalk(candidates, { olderThanMs: o.olderThanMs, maxBytes: o.maxBytes, now }, (e) =>
    removeEntry(e, { staleMs: s.lockStaleMs, dryRun: o.dryRun }),
  );
  const describe = (st: PruneStep<Entry>): PrunedEntry => ({
    ...entryReport(st.entry),
    why:
      st.why === 'age'
        ? `unused for ${formatAge(now - usedAt(st.entry))}${st.entry.lastUseMs === undefined ? ' (no record: by mtime)' : ''}`
        : 'least recently used while over --max-size',
  });
  const removed = steps.filter((st) => st.outcome.state === 'removed').map(describe);
  const withReason = (state: 'held' | 'failed') => steps.flatMap((st) => (st.outcome.state === state ? [{ ...describe(st), reason: st.outcome.reason }] : []));
  let orphanRecords = 0;
  if (!o.dryRun) {
    const roots = new Set(scan.entries.flatMap((e) => (e.use ? [e.use.root] : [])));
    for (const r of scan.roots) if (r.tier !== 'workspace') roots.add(r.root);
    for (const r of roots) orphanRecords += await sweepOrphanUses(r, linkNote(scan.skipped));
  }
  const freedBytes = removed.reduce((n, e) => n + e.bytes, 0);
  return {
    dryRun: o.dryRun,
    olderThanMs: o.olderThanMs ?? null,
    maxBytes: o.maxBytes ?? null,
    before: { entries: candidates.length, bytes: candidates.reduce((n, e) => n + e.bytes, 0) },
    after: { entries: candidates.length - removed.length, bytes: remainingBytes },
    removed,
    held: withReason('held'),
    failed: withReason('failed'),
    freedBytes,
    fits: o.maxBytes === undefined ? null : remainingBytes <= o.maxBytes,
    orphanRecords,
    skipped: scan.skipped,
  };
}
