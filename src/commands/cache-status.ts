// `cache status`: size, entry count and last use per tier and per provider or
// section, and the workspace snapshots with their keys.
import type { Settings } from '../config/load.js';
import type { Entry, TierId } from '../inventory/entries.js';
import type { Skipped } from '../inventory/walk.js';
import { checkProviderId, scanCaches } from '../inventory/scan.js';
import { type RegistryStatus, registryStatus } from '../inventory/registry.js';
import { type Emit, silent } from '../log/events.js';

export interface GroupStatus {
  group: string;
  provider: string | null;
  entries: number;
  bytes: number;
  /** Newest recorded last use (ISO), or null when no entry has a record. */
  lastUse: string | null;
  /** Newest mtime (ISO): the fallback shown when there is no record. */
  newestMtime: string | null;
  /** Entries without a last-use record. */
  unrecorded: number;
}

export interface TierStatus {
  tier: TierId;
  root: string;
  present: boolean;
  readOnly: boolean;
  entries: number;
  bytes: number;
  groups: GroupStatus[];
}

export interface SnapshotStatus {
  key: string;
  bytes: number;
  lastUse: string | null;
  mtime: string;
}

export interface WorkspaceStatus {
  provider: string;
  bytes: number;
  chroot: SnapshotStatus | null;
  installed: SnapshotStatus[];
  imageBuilds: Array<{ name: string; bytes: number; mtime: string }>;
  leftovers: Array<{ name: string; bytes: number }>;
}

export interface StatusReport {
  providerId: string | null;
  tiers: TierStatus[];
  workspace: WorkspaceStatus[];
  providers: string[];
  totals: { entries: number; bytes: number };
  skipped: Skipped[];
  /** The cache registry's part: the current locks' blobs present there; null when none is set. */
  registry: RegistryStatus | null;
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
const sum = (es: readonly Entry[]) => es.reduce((n, e) => n + e.bytes, 0);
const max = (xs: number[]) => (xs.length ? Math.max(...xs) : undefined);

function groupStatus(group: string, es: Entry[]): GroupStatus {
  const recorded = es.flatMap((e) => (e.lastUseMs === undefined ? [] : [e.lastUseMs]));
  return {
    group,
    provider: es[0]?.provider ?? null,
    entries: es.length,
    bytes: sum(es),
    lastUse: iso(max(recorded)),
    newestMtime: iso(max(es.map((e) => e.mtimeMs))),
    unrecorded: es.length - recorded.length,
  };
}

function snapshot(e: Entry): SnapshotStatus {
  return { key: e.name, bytes: e.bytes, lastUse: iso(e.lastUseMs), mtime: new Date(e.mtimeMs).toISOString() };
}

function workspaceOf(provider: string, es: Entry[]): WorkspaceStatus {
  const chroot = es.find((e) => e.kind === 'chroot');
  return {
    provider,
    bytes: sum(es),
    chroot: chroot ? snapshot(chroot) : null,
    installed: es
      .filter((e) => e.kind === 'installed')
      .map(snapshot)
      .sort((a, b) => (b.lastUse ?? b.mtime).localeCompare(a.lastUse ?? a.mtime)),
    imageBuilds: es.filter((e) => e.kind === 'imagebuild').map((e) => ({ name: e.name, bytes: e.bytes, mtime: new Date(e.mtimeMs).toISOString() })),
    leftovers: es.filter((e) => e.kind === 'scratch').map((e) => ({ name: e.name, bytes: e.bytes })),
  };
}

function byKey<T>(xs: readonly T[], key: (x: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const x of xs) m.set(key(x), [...(m.get(key(x)) ?? []), x]);
  return new Map([...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** What every tier holds; `providerId` limits it to one provider. Changes nothing. */
export async function cacheStatus(s: Settings, opts: { providerId?: string; emit?: Emit } = {}): Promise<StatusReport> {
  const scan = await scanCaches(s);
  const providers = [...new Set(scan.entries.flatMap((e) => (e.provider ? [e.provider] : [])))].sort();
  const id = opts.providerId === undefined ? undefined : checkProviderId(opts.providerId, scan.entries);
  const entries = id === undefined ? scan.entries : scan.entries.filter((e) => e.provider === id);
  const tiers = scan.roots.map((r): TierStatus => {
    const es = entries.filter((e) => e.tier === r.tier);
    return { ...r, entries: es.length, bytes: sum(es), groups: [...byKey(es, (e) => e.group)].map(([g, ges]) => groupStatus(g, ges)) };
  });
  const workspace = [
    ...byKey(
      entries.filter((e) => e.tier === 'workspace'),
      (e) => e.group,
    ),
  ].map(([p, es]) => workspaceOf(p, es));
  const registry = await registryStatus(s, opts.emit ?? silent);
  return { providerId: id ?? null, tiers, workspace, providers, totals: { entries: entries.length, bytes: sum(entries) }, skipped: scan.skipped, registry };
}
