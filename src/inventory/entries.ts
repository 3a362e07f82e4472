// What the caches hold, as entries: one per cached file, snapshot or image
// build, with the paths, locks and last use that the admin commands need.
// Tiers and their layout:
//   local, shared         <root>/<section>/<file>, stamps in .g3-stamps, locks in .g3-locks
//   packages, shared-packages  the same layout under <cache_dir>/pkgCache (section = provider id)
//   metadata              <cache_dir>/repoCache: by-hash/sha256/<sha256> blobs, suites, keyrings
//   workspace             <work_dir>/<provider-id>/: chroot and installed snapshots, image builds

export type TierId = 'local' | 'shared' | 'packages' | 'shared-packages' | 'metadata' | 'workspace';

/**
 * file: a g3-cache or package file, verified by its stamp; derived: a file
 * made from others (graphs, suite state), never verified or pruned; blob: a
 * metadata file named by its SHA256; chroot, installed: workspace snapshots
 * with a .json stamp; imagebuild: a build's output directory; scratch: what an
 * interrupted build left behind.
 */
export type EntryKind = 'file' | 'derived' | 'blob' | 'chroot' | 'installed' | 'imagebuild' | 'scratch';

export interface Entry {
  tier: TierId;
  /** Section (g3 tiers), provider id (package caches, workspace) or store part (metadata). */
  group: string;
  /** The provider the entry belongs to, when it belongs to one. */
  provider?: string;
  /** File name, snapshot key or image build name. */
  name: string;
  kind: EntryKind;
  /** Every path of the entry lies below this root; removal never leaves it. */
  root: string;
  path: string;
  /** The verification stamp (g3 stamp or snapshot .json), when the kind has one. */
  stamp?: string;
  /** Removed together with the entry (its stamp, an unpacked chroot). */
  companions: string[];
  /** The last-use record (see last-use.ts). */
  use?: { root: string; rel: string };
  bytes: number;
  mtimeMs: number;
  /** Recorded last use; undefined when there is no record. */
  lastUseMs?: number;
  /** Locks a build takes for this entry; taken before it is removed. */
  locks: string[];
  /** Locks whose live holder is a build that reads this entry: checked, never taken. */
  guards: string[];
}

/** A tier root as found on disk. */
export interface TierRoot {
  tier: TierId;
  root: string;
  present: boolean;
  /** Nothing is removed from a read-only tier. */
  readOnly: boolean;
}

/** The last use to sort by: the record, else the entry's mtime. */
export function usedAt(e: Pick<Entry, 'lastUseMs' | 'mtimeMs'>): number {
  return e.lastUseMs ?? e.mtimeMs;
}

/** The display name of an entry: tier, group and name. */
export function entryLabel(e: Pick<Entry, 'tier' | 'group' | 'name' | 'kind'>): string {
  const what =
    e.kind === 'chroot'
      ? 'chroot snapshot'
      : e.kind === 'installed'
        ? 'installed snapshot'
        : e.kind === 'imagebuild'
          ? 'image build'
          : e.kind === 'scratch'
            ? 'leftover'
            : '';
  const name = /^[0-9a-f]{64}$/.test(e.name) ? `${e.name.slice(0, 16)}…` : e.name;
  return `${e.tier}:${e.group}/${what ? `${what} ` : ''}${name}`;
}

/** Provider ids the entries know of, sorted. */
export function knownProviders(entries: readonly Entry[]): string[] {
  return [...new Set(entries.flatMap((e) => (e.provider ? [e.provider] : [])))].sort();
}
