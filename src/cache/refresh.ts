// Refreshing a whole target's artifacts, and the read-only refresh check.
import type { Artifact } from '../catalogue/types.js';
import { realpath } from 'node:fs/promises';
import { ignoreNotFound, lstatIfExists, removedLinkMessage } from '../fs/safe.js';
import type { Emit } from '../log/events.js';
import { escapeInline } from '../text/untrusted.js';
import { flushDirs } from '../fs/atomic.js';
import { closeFetch, type FetchSettings } from '../net/fetch.js';
import { type EngineContext, type ItemResult, itemName, refreshItem } from './item.js';
import { recordItemUses } from '../layout/last-use.js';
import { Gate, mapPool } from '../pool.js';
import { itemPaths, prepareTier, probeShared, resolveLocalRoot } from './tiers.js';
import { verifyFile } from './verify.js';
import type { RegistryStats, RegistryTier } from './registry-tier.js';

export interface RefreshOptions {
  localRoot: string;
  sharedPath?: string;
  /** Use this sub-folder of the shared cache (the shared package cache) as the shared tier. */
  sharedSub?: string;
  workers: number;
  offline: boolean;
  verify: boolean;
  lockStaleMs: number;
  fetch: FetchSettings;
  emit: Emit;
  /** The registry tier, when one is set: tried after the shared tier, before the origin. */
  registry?: RegistryTier;
  /** Told of every item verified in the local tier at the end of the run, with its file there. */
  onVerified?: (a: Artifact, file: string) => void;
}

/** What a refresh did; `--json` prints this. */
export interface RefreshReport {
  items: number;
  localRoot: string;
  sharedRoot: string | null;
  /** Every local root the report covers, when it covers several. */
  roots?: string[];
  hits: { local: number; shared: number; registry: number; origin: number };
  downloads: number;
  bytesDownloaded: number;
  bytesFromShared: number;
  bytesFromRegistry: number;
  linkedFromShared: number;
  copiedFromShared: number;
  writtenBack: number;
  corrupt: Array<{ item: string; tier: string; reason: string }>;
  failures: Array<{ item: string; url: string; reason: string }>;
  missing: string[];
  seconds: number;
  ok: boolean;
  /** The registry tier's part (set by the caller that pushes back); null: no registry set. */
  registry?: RegistryStats | null;
}

/** Bring every artifact into the local tier, verified. */
export async function refresh(artifacts: readonly Artifact[], opts: RefreshOptions): Promise<RefreshReport> {
  const started = performance.now();
  const localRoot = await resolveLocalRoot(opts.localRoot);
  const shared = await probeShared(opts.sharedPath, { sub: opts.sharedSub, registry: opts.registry !== undefined });
  for (const message of shared.warnings) opts.emit({ type: 'warning', message });
  // Links where the layout has folders: removed (never followed) before any item is looked at.
  const sections = [...new Set(artifacts.map((a) => a.section))];
  const onLink = (link: string, target: string) => opts.emit({ type: 'warning', message: removedLinkMessage(link, target) });
  await prepareTier(localRoot, sections, { onLink, remove: true });
  if (shared.root) {
    const onKeep = (link: string) =>
      opts.emit({
        type: 'warning',
        message: `${escapeInline(link)} in the read-only shared cache is a symbolic link: not followed (what lies behind it is taken from the origin)`,
      });
    await prepareTier(shared.root, sections, { onLink, remove: !shared.readOnly, onKeep });
  }
  const ctx: EngineContext = {
    localRoot,
    sharedRoot: shared.root,
    sharedReadOnly: shared.readOnly,
    offline: opts.offline,
    verify: opts.verify,
    lockStaleMs: opts.lockStaleMs,
    fetch: opts.fetch,
    emit: opts.emit,
    registry: opts.registry,
    transfers: opts.workers > 1 ? new Gate(opts.workers) : undefined,
  };
  opts.emit({ type: 'start', items: artifacts.length, bytes: artifacts.reduce((n, a) => n + (a.size ?? 0), 0) });
  let results: ItemResult[];
  try {
    const here = opts.workers > 1 ? await inTiers(artifacts, [ctx.localRoot, ctx.sharedRoot]) : undefined;
    results = await mapPool(artifacts, itemsAtOnce(opts.workers), (a) => refreshItem(a, ctx), startOrder(artifacts, opts.workers, here));
    if (opts.onVerified)
      artifacts.forEach((a, i) => {
        if (results[i]?.status === 'ok') opts.onVerified?.(a, itemPaths(ctx.localRoot, a.section, a.file).file);
      });
    // Last-use records for `cache prune`: every item in use locally; shared copies this run read or wrote.
    const onProblem = once((message: string) => opts.emit({ type: 'warning', message: `${message} (last-use records only order \`cache prune\`)` }));
    await recordItemUses(
      ctx.localRoot,
      artifacts.filter((_, i) => results[i]?.status === 'ok'),
      undefined,
      onProblem,
    );
    if (ctx.sharedRoot && !ctx.sharedReadOnly)
      await recordItemUses(
        ctx.sharedRoot,
        artifacts.filter((_, i) => results[i]?.from === 'shared' || results[i]?.writtenBack),
        undefined,
        onProblem,
      );
  } finally {
    await Promise.all([closeFetch(), flushDirs()]);
  }
  return { ...summarise(results, ctx, (performance.now() - started) / 1000), localRoot: opts.localRoot };
}

/**
 * How many items are worked on at once. With one worker: one, in catalogue
 * order. Otherwise twice the transfer slots, so that while an item waits for
 * its lock, checks its tiers, or is fsynced, stamped and written back, another
 * one already uses the slot: those steps cost about as much as a transfer
 * from a distant mirror, and a slot left idle meanwhile is bandwidth lost.
 */
export function itemsAtOnce(workers: number): number {
  return workers <= 1 ? 1 : workers * 2;
}

/**
 * The order items start in: with more than one worker, the largest first (an
 * unknown size counts as the largest), so the longest download does not start
 * last and run on alone at the end, then the items already on this machine
 * (`here`: a file in the local or shared tier) in catalogue order; with one
 * worker, catalogue order. Copies from the shared tier are not ordered by
 * size: started largest first, their checks and fsyncs all fall on the disk at
 * once (a full shared → local copy took 2.2 s instead of 1.7 s).
 */
export function startOrder(artifacts: readonly Artifact[], workers: number, here?: readonly boolean[]): number[] {
  const order = artifacts.map((_, i) => i);
  if (workers <= 1) return order;
  const size = (i: number) => (here?.[i] ? -1 : (artifacts[i]?.size ?? Number.POSITIVE_INFINITY));
  // Array.prototype.sort is stable: equal sizes keep catalogue order.
  return order.sort((x, y) => (size(x) === size(y) ? 0 : size(y) > size(x) ? 1 : -1));
}

/** Whether each item's file exists in one of `roots` (only looked at, never trusted: the item is checked when it runs). */
async function inTiers(artifacts: readonly Artifact[], roots: readonly (string | undefined)[]): Promise<boolean[]> {
  const tiers = roots.filter((r): r is string => r !== undefined);
  return Promise.all(
    artifacts.map(async (a) => {
      for (const root of tiers) if (await lstatIfExists(itemPaths(root, a.section, a.file).file)) return true;
      return false;
    }),
  );
}

// The first problem only: one broken record folder would otherwise warn once per item.
function once(fn: (message: string) => void): (message: string) => void {
  let told = false;
  return (m) => {
    if (!told) fn(m);
    told = true;
  };
}

function summarise(results: ItemResult[], ctx: EngineContext, seconds: number): RefreshReport {
  const count = (p: (r: ItemResult) => boolean) => results.filter(p).length;
  const sum = (p: (r: ItemResult) => boolean) => results.filter(p).reduce((n, r) => n + r.bytes, 0);
  const report: RefreshReport = {
    items: results.length,
    localRoot: ctx.localRoot,
    sharedRoot: ctx.sharedRoot ?? null,
    hits: {
      local: count((r) => r.from === 'local'),
      shared: count((r) => r.from === 'shared'),
      registry: count((r) => r.from === 'registry'),
      origin: count((r) => r.from === 'origin'),
    },
    downloads: count((r) => r.from === 'origin'),
    bytesDownloaded: sum((r) => r.from === 'origin'),
    bytesFromShared: sum((r) => r.from === 'shared'),
    bytesFromRegistry: sum((r) => r.from === 'registry'),
    linkedFromShared: count((r) => r.from === 'shared' && r.placed === 'link'),
    copiedFromShared: count((r) => r.from === 'shared' && r.placed === 'copy'),
    writtenBack: count((r) => r.writtenBack),
    corrupt: results.flatMap((r) => r.corrupt.map((c) => ({ item: r.item, ...c }))),
    failures: results.flatMap((r) => (r.status === 'failed' ? r.failures.map((f) => ({ item: r.item, ...f })) : [])),
    missing: results.filter((r) => r.status === 'missing').map((r) => r.item),
    seconds: Math.round(seconds * 1000) / 1000,
    ok: results.every((r) => r.status === 'ok'),
  };
  return report;
}

/** One item that needs a refresh, and why. */
export interface CheckFinding {
  item: string;
  reason: string;
}

export interface CheckReport {
  items: number;
  ok: boolean;
  needsRefresh: CheckFinding[];
}

/** Check the local tier without changing anything anywhere (no stamps written). */
export async function checkLocal(artifacts: readonly Artifact[], localRoot: string, opts: { verify: boolean; workers: number }): Promise<CheckReport> {
  // The root as the refresh would use it (resolved), without making it.
  const root = (await ignoreNotFound(realpath(localRoot))) ?? localRoot;
  const found = await mapPool(artifacts, opts.workers, async (a): Promise<CheckFinding | undefined> => {
    const p = itemPaths(root, a.section, a.file);
    const v = await verifyFile(p, a, { force: opts.verify, stamp: false });
    if (v.state === 'ok') return undefined;
    return { item: itemName(a), reason: v.state === 'missing' ? 'missing' : v.reason };
  });
  const needsRefresh = found.filter((f): f is CheckFinding => f !== undefined);
  return { items: artifacts.length, ok: needsRefresh.length === 0, needsRefresh };
}
