// Plain-text tables of the cache administration reports (the CLI prints them;
// --json prints the reports themselves).
import { formatBytes } from '../output.js';
import type { CleanReport } from '../../commands/cache-clean.js';
import type { PruneReport } from '../../commands/cache-prune.js';
import type { EntryReport } from '../../inventory/remove.js';
import type { StatusReport } from '../../commands/cache-status.js';
import type { VerifyReport } from '../../commands/cache-verify.js';

/** Rows as columns padded to their widest cell (the last column is not padded). */
export function table(rows: readonly string[][]): string {
  const widths: number[] = [];
  for (const r of rows) for (const [i, c] of r.entries()) widths[i] = Math.max(widths[i] ?? 0, c.length);
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ')).join('\n');
}

/** An ISO time to the second, or "-". */
export function when(iso: string | null): string {
  return iso ? `${iso.slice(0, 19).replace('T', ' ')}Z` : '-';
}

/** "2026-01-02 03:04:05Z", or "unknown (mtime …)" when there is no record. */
export function lastUse(recorded: string | null, mtime: string | null): string {
  return recorded ? when(recorded) : `unknown (mtime ${when(mtime)})`;
}

const short = (key: string) => (/^[0-9a-f]{64}$/.test(key) ? `${key.slice(0, 16)}…` : key);

/** `cache status` as two tables: tiers by group, then the workspace snapshots. */
export function statusText(r: StatusReport): string {
  const rows = [['TIER', 'GROUP', 'ENTRIES', 'SIZE', 'LAST USE']];
  for (const t of r.tiers) {
    if (!t.present) rows.push([t.tier, '(absent)', '0', formatBytes(0), t.root]);
    for (const g of t.groups) rows.push([t.tier, g.group, String(g.entries), formatBytes(g.bytes), lastUse(g.lastUse, g.newestMtime)]);
  }
  const snaps = [['PROVIDER', 'SNAPSHOT', 'KEY', 'SIZE', 'LAST USE']];
  for (const w of r.workspace) {
    if (w.chroot) snaps.push([w.provider, 'chroot', short(w.chroot.key), formatBytes(w.chroot.bytes), lastUse(w.chroot.lastUse, w.chroot.mtime)]);
    for (const i of w.installed) snaps.push([w.provider, 'installed', short(i.key), formatBytes(i.bytes), lastUse(i.lastUse, i.mtime)]);
    for (const b of w.imageBuilds) snaps.push([w.provider, 'image build', b.name, formatBytes(b.bytes), `- (mtime ${when(b.mtime)})`]);
    for (const l of w.leftovers) snaps.push([w.provider, 'leftover', l.name, formatBytes(l.bytes), '-']);
  }
  const parts = [table(rows), ...(snaps.length > 1 ? [table(snaps)] : [])];
  const g = r.registry;
  if (g && !g.unusable && g.sets.length > 0) {
    const reg = [['REGISTRY SET', 'MANIFEST', 'BLOBS PRESENT', 'SIZE PRESENT']];
    for (const set of g.sets)
      reg.push([
        set.what,
        set.manifest ? short(set.tag.replace(/^(lock|files)-/, '')) : 'missing',
        `${set.present} of ${set.blobs}`,
        `${formatBytes(set.presentBytes)} of ${formatBytes(set.bytes)}`,
      ]);
    parts.push(table(reg));
  }
  return parts.join('\n\n');
}

/** `cache verify`: one line per corrupt entry (and, verbose, per unverified one). */
export function verifyText(r: VerifyReport, verbose: boolean): string {
  const rows = r.corrupt.map((c) => ['corrupt', c.label, `${c.reason}; ${c.removed ? 'removed' : (c.note ?? 'not removed')}`]);
  rows.push(...r.unreadable.map((u) => ['unreadable', u.path, `${u.reason}; not verified`]));
  if (verbose) rows.push(...r.unverified.map((u) => ['unverified', u.label, u.reason]));
  return table(rows);
}

/** Removed (or, dry, to be removed) and held entries of prune and clean. */
export function removalText(r: PruneReport | CleanReport): string {
  const verb = r.dryRun ? 'would remove' : 'removed';
  const why = (e: EntryReport) => ('why' in e ? String(e.why) : lastUse(e.lastUse, e.mtime));
  const rows = r.removed.map((e) => [verb, e.label, formatBytes(e.bytes), why(e)]);
  for (const e of r.held) rows.push(['held', e.label, formatBytes(e.bytes), e.reason]);
  for (const e of r.failed) rows.push(['failed', e.label, formatBytes(e.bytes), e.reason]);
  return table(rows);
}
