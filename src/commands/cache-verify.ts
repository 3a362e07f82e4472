// `cache verify`: rehash every file of every tier against what it should be
// (expected.ts). A corrupt entry is removed with its stamp, under the locks a
// build takes, and only if the very file that failed is still in place: the
// file is moved aside first and its identity compared with the one hashed, so
// a good copy a build published meanwhile is put back, never lost.
import { link, lstat, rename } from 'node:fs/promises';
import type { Settings } from '../config/load.js';
import { ignoreNotFound, reachable, realDirsTo } from '../fs/safe.js';
import type { Emit } from '../log/events.js';
import { tempPathFor } from '../fs/atomic.js';
import { hashFile } from '../fs/hash.js';
import { mapPool } from '../pool.js';
import type { Entry, EntryKind } from '../inventory/entries.js';
import { catalogueDigests, type Expected, expectedOf } from '../inventory/expected.js';
import { removeBelow, type Skipped } from '../inventory/walk.js';
import { releaseAll, takeLocks } from '../inventory/locks.js';
import { type EntryReport, entryReport, removeEntryFiles } from '../inventory/remove.js';
import { checkProviderId, scanCaches } from '../inventory/scan.js';
import { type RegistryVerifyReport, registryVerify } from '../inventory/registry.js';
import { UserError } from '../errors.js';

const VERIFIABLE: ReadonlySet<EntryKind> = new Set(['file', 'blob', 'chroot', 'installed']);

export interface CorruptEntry extends EntryReport {
  reason: string;
  removed: boolean;
  /** Why a corrupt entry was left (read-only tier, held lock, replaced meanwhile). */
  note?: string;
}

export interface VerifyReport {
  providerId: string | null;
  checked: number;
  good: number;
  bytesHashed: number;
  corrupt: CorruptEntry[];
  /** Files nothing names a digest for (no stamp, not in the catalogue): left alone. */
  unverified: Array<EntryReport & { reason: string }>;
  /** Files and folders that could not be read: not verified, so the caches are not known to be clean. */
  unreadable: Array<{ path: string; reason: string }>;
  /** Links found (removed as links in writable tiers, never followed) and folders that could not be read (`problem`). */
  skipped: Skipped[];
  seconds: number;
  ok: boolean;
}

type Identity = string;
type Check =
  | { state: 'good'; bytes: number }
  | { state: 'bad'; reason: string; id?: Identity; bytes: number }
  | { state: 'unknown'; reason: string }
  | { state: 'unreadable'; reason: string };

async function identity(file: string): Promise<Identity | undefined> {
  const st = await ignoreNotFound(lstat(file, { bigint: true }));
  return st ? `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}` : undefined;
}

/** Hash `e` and compare; the identity says which file was judged. */
async function check(e: Entry, expected: Expected | undefined): Promise<Check> {
  const snapshot = e.kind === 'chroot' || e.kind === 'installed';
  // Only through real folders below the tier root: a link on the way was removed by the scan, or is not followed.
  if (!(await reachable(e.root, e.path))) return { state: 'unknown', reason: 'missing' };
  const st = await ignoreNotFound(lstat(e.path));
  const before = await identity(e.path);
  if (!st || !before) return snapshot && expected ? { state: 'bad', reason: 'stamp without its snapshot', bytes: 0 } : { state: 'unknown', reason: 'missing' };
  if (!st.isFile()) return { state: 'bad', reason: 'not a regular file', id: before, bytes: 0 };
  if (!expected)
    return snapshot
      ? { state: 'bad', reason: 'snapshot without a readable stamp: unusable', id: before, bytes: 0 }
      : { state: 'unknown', reason: 'no stamp, and no catalogue entry or lock names its SHA256' };
  const d = await hashFile(e.path, { noFollow: true }).catch((err: NodeJS.ErrnoException) => ({ error: err.code ?? err.message }));
  if ('error' in d) return { state: 'unreadable', reason: `cannot read: ${d.error}` };
  if ((await identity(e.path)) !== before) return { state: 'unknown', reason: 'changed while it was hashed (a build is replacing it?)' };
  if (expected.size !== undefined && d.size !== expected.size)
    return { state: 'bad', reason: `size ${d.size} bytes, expected ${expected.size}`, id: before, bytes: d.size };
  if (!expected.sha256.includes(d.sha256))
    return {
      state: 'bad',
      reason: `sha256 ${d.sha256.slice(0, 16)}…, expected ${expected.sha256.map((x) => `${x.slice(0, 16)}…`).join(' or ')} (from its ${expected.source})`,
      id: before,
      bytes: d.size,
    };
  return { state: 'good', bytes: d.size };
}

/**
 * Remove a corrupt entry under its locks after judging it again; the file is
 * renamed aside and removed only when it is the very file judged bad.
 */
async function removeCorrupt(e: Entry, s: Settings, catalogue: () => Promise<Map<string, Set<string>>>): Promise<{ removed: boolean; note?: string }> {
  const taken = await takeLocks(e.locks, s.lockStaleMs);
  if (!taken.locks) return { removed: false, note: `not removed: ${taken.blocked}` };
  try {
    const again = await check(e, await expectedOf(e, catalogue));
    if (again.state !== 'bad') return { removed: false, note: 'not removed: it verified on a second look (replaced meanwhile)' };
    if (again.id) {
      if (!(await realDirsTo(e.root, e.path))) return { removed: false, note: 'not removed: gone meanwhile' };
      const aside = tempPathFor(e.path);
      await rename(e.path, aside);
      if ((await identity(aside)) !== again.id) {
        // Someone swapped the file between the look and the rename: give it back. When that fails for any reason but
        // a newer file already at the name, the swapped-in file stays at its hidden name rather than being lost.
        const back = await link(aside, e.path).then(
          () => true,
          (err: NodeJS.ErrnoException) => err.code === 'EEXIST',
        );
        if (!back) return { removed: false, note: `not removed: replaced meanwhile, and could not be put back (left at ${aside})` };
        await removeBelow(e.root, aside);
        return { removed: false, note: 'not removed: replaced meanwhile' };
      }
      await removeBelow(e.root, aside);
    }
    await removeEntryFiles(e);
    return { removed: true };
  } catch (err) {
    return { removed: false, note: `not removed: ${(err as Error).message}` };
  } finally {
    await releaseAll(taken.locks);
  }
}

/** Rehash every verifiable entry (of one provider, with `providerId`); remove the corrupt ones. */
export async function cacheVerify(s: Settings, o: { providerId?: string; emit: Emit }): Promise<VerifyReport> {
  const started = performance.now();
  const scan = await scanCaches(s, { probe: true, removeLinks: true });
  const id = o.providerId === undefined ? undefined : checkProviderId(o.providerId, scan.entries);
  const entries = scan.entries.filter((e) => VERIFIABLE.has(e.kind) && (id === undefined || e.provider === id));
  const readOnly = new Set(scan.roots.filter((r) => r.readOnly).map((r) => r.tier));
  let digests: Promise<Map<string, Set<string>>> | undefined;
  const catalogue = () => (digests ??= catalogueDigests(s, o.emit));
  const report: VerifyReport = {
    providerId: id ?? null,
    checked: 0,
    good: 0,
    bytesHashed: 0,
    corrupt: [],
    unverified: [],
    unreadable: [],
    skipped: scan.skipped,
    seconds: 0,
    ok: true,
  };
  // A folder the scan could not read holds files nobody checked: the caches are not known to be clean.
  for (const sk of scan.skipped) if (sk.problem) report.unreadable.push({ path: sk.path, reason: sk.reason });
  const bad: Array<{ e: Entry; reason: string }> = [];
  await mapPool(entries, Math.min(4, s.workers), async (e) => {
    const c = await check(e, await expectedOf(e, catalogue));
    if (c.state === 'unknown') {
      if (c.reason !== 'missing') report.unverified.push({ ...entryReport(e), reason: c.reason });
      return;
    }
    if (c.state === 'unreadable') {
      report.unreadable.push({ path: e.path, reason: c.reason });
      return;
    }
    report.checked++;
    report.bytesHashed += c.bytes;
    if (c.state === 'good') report.good++;
    else bad.push({ e, reason: c.reason });
  });
  // One at a time: a local entry and its shared copy share a lock.
  for (const { e, reason } of bad) {
    const r = readOnly.has(e.tier) ? { removed: false, note: 'not removed: the tier is read-only' } : await removeCorrupt(e, s, catalogue);
    report.corrupt.push({ ...entryReport(e), reason, ...r });
  }
  const order = (a: { path: string }, b: { path: string }) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  report.corrupt.sort(order);
  report.unverified.sort(order);
  report.unreadable.sort(order);
  report.ok = report.corrupt.length === 0 && report.unreadable.length === 0;
  report.seconds = Math.round(performance.now() - started) / 1000;
  return report;
}

/** `cache verify --registry`: fetch and hash the current locks' blobs in the cache registry. */
export async function cacheVerifyRegistry(s: Settings, o: { emit: Emit }): Promise<RegistryVerifyReport> {
  if (!s.cacheRegistry)
    throw new UserError(
      'cache verify --registry needs a cache registry',
      'Set cache_registry in the config, G3_CACHE_REGISTRY, or --cache-registry host[:port]/repository.',
    );
  if (s.offline) throw new UserError('cache verify --registry and --offline do not go together', '--offline means no network, the registry included.');
  return (await registryVerify(s, o.emit)) as RegistryVerifyReport;
}
