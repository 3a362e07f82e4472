// Finding every tier from the settings and listing what each holds.
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Settings } from '../../config/load.js';
import { UserError } from '../../errors.js';
import { unsafeNameReason } from '../names.js';
import { probeShared } from '../tiers.js';
import { type Entry, knownProviders, type TierId, type TierRoot } from './entries.js';
import type { Skipped } from './fsutil.js';
import { scanMetadata, scanTier } from './scan-tiers.js';
import { scanWorkspace, workspaceLocks } from './scan-workspace.js';

export const ALL_TIERS: readonly TierId[] = ['local', 'shared', 'packages', 'shared-packages', 'metadata', 'workspace'];

export interface ScanResult {
  roots: TierRoot[];
  entries: Entry[];
  skipped: Skipped[];
}

async function isDir(p: string): Promise<boolean> {
  return stat(p).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

/**
 * The tier roots from the settings. `probe` tries a write into the shared
 * cache (the only sure test of a read-only mount); without it, only the
 * permission bits are consulted, so a read-only listing writes nothing.
 */
export async function tierRoots(s: Settings, probe: boolean): Promise<TierRoot[]> {
  const shared = s.sharedCache?.trim() ? path.resolve(s.sharedCache) : undefined;
  const sharedPresent = shared !== undefined && (await isDir(shared));
  let sharedReadOnly = !sharedPresent;
  if (sharedPresent && probe) sharedReadOnly = (await probeShared(shared)).readOnly === true;
  else if (sharedPresent) sharedReadOnly = await access(shared, constants.W_OK).then(() => false, () => true);
  const roots: TierRoot[] = [];
  const add = async (tier: TierId, root: string, readOnly = false) => roots.push({ tier, root, present: await isDir(root), readOnly });
  await add('local', path.resolve(s.g3Cache));
  if (shared) await add('shared', shared, sharedReadOnly);
  await add('packages', path.join(path.resolve(s.cacheDir), 'pkgCache'));
  if (shared) await add('shared-packages', path.join(shared, 'pkgCache'), sharedReadOnly);
  await add('metadata', path.join(path.resolve(s.cacheDir), 'repoCache'));
  await add('workspace', path.resolve(s.workDir));
  return roots;
}

/** List the entries of the tiers in `tiers`. */
export async function scanCaches(s: Settings, opts: { tiers?: readonly TierId[]; probe?: boolean } = {}): Promise<ScanResult> {
  const wanted = new Set(opts.tiers ?? ALL_TIERS);
  const roots = await tierRoots(s, opts.probe === true);
  const rootOf = (t: TierId) => roots.find((r) => r.tier === t);
  const writable = (t: TierId) => {
    const r = rootOf(t);
    return r?.present && !r.readOnly ? r.root : undefined;
  };
  const workDir = path.resolve(s.workDir);
  const guardCache = new Map<string, Promise<string[]>>();
  const guards = (provider: string) => {
    const g = guardCache.get(provider) ?? workspaceLocks(workDir, provider);
    guardCache.set(provider, g);
    return g;
  };
  const skipped: Skipped[] = [];
  const entries: Entry[] = [];
  for (const r of roots) {
    if (!wanted.has(r.tier) || !r.present) continue;
    if (r.tier === 'metadata') entries.push(...(await scanMetadata(r.root, skipped)));
    else if (r.tier === 'workspace') entries.push(...(await scanWorkspace(r.root, skipped)));
    else {
      const peer = r.tier === 'local' ? writable('shared') : r.tier === 'packages' ? writable('shared-packages') : undefined;
      entries.push(...(await scanTier({ tier: r.tier, root: r.root, peer, exclude: r.tier === 'shared' ? ['pkgCache'] : [], guards }, skipped)));
    }
  }
  return { roots: roots.filter((r) => wanted.has(r.tier)), entries, skipped };
}

/**
 * Check a `--provider-id` value: a hostile name (path traversal, hidden or
 * control characters) or one no tier knows is a user error listing the known ids.
 */
export function checkProviderId(id: string, entries: readonly Entry[]): string {
  const unsafe = unsafeNameReason(id);
  if (unsafe) throw new UserError(`--provider-id ${JSON.stringify(id)} ${unsafe}`, 'Give a provider id such as debian-debian13-x86_64; see `cache status`.');
  const known = knownProviders(entries);
  if (!known.includes(id)) {
    throw new UserError(`no cache or workspace holds provider ${JSON.stringify(id)}`, known.length ? `Known provider ids: ${known.join(', ')}.` : 'The caches hold no provider yet.');
  }
  return id;
}
