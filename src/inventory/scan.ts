// Finding every tier from the settings and listing what each holds.
import { constants } from 'node:fs';
import { access, realpath } from 'node:fs/promises';
import path from 'node:path';
import type { Settings } from '../config/load.js';
import { UserError } from '../errors.js';
import { ignoreNotFound, lstatIfExists } from '../fs/safe.js';
import { escapeInline } from '../text/untrusted.js';
import { unsafeNameReason } from '../layout/names.js';
import { probeShared, systemFolderReason } from '../cache/tiers.js';
import { metadataDir, packagesRoot, sharedPackagesRoot, PACKAGES_DIR } from '../layout/paths.js';
import { type Entry, knownProviders, type TierId, type TierRoot } from './entries.js';
import type { ScanSink, Skipped } from './walk.js';
import { scanMetadata, scanTier } from './scan-tiers.js';
import { scanWorkspace, workspaceLocks } from './scan-workspace.js';

export const ALL_TIERS: readonly TierId[] = ['local', 'shared', 'packages', 'shared-packages', 'metadata', 'workspace'];

export interface ScanResult {
  roots: TierRoot[];
  entries: Entry[];
  skipped: Skipped[];
}

/** A real directory (not a link) at `p`. */
async function isDir(p: string): Promise<boolean> {
  return (await lstatIfExists(p))?.isDirectory() === true;
}

/** A configured root resolved to its real path (it stays as named when missing); a system folder is refused (exit 2). */
async function resolveRoot(named: string, what: string): Promise<string> {
  const abs = path.resolve(named);
  const real = (await ignoreNotFound(realpath(abs))) ?? abs;
  const why = systemFolderReason(real);
  if (why)
    throw new UserError(
      `the ${what} ${escapeInline(abs)}${real === abs ? '' : ` (resolved: ${escapeInline(real)})`} cannot be used: ${why}`,
      'Point it at a folder of its own.',
    );
  return real;
}

/**
 * The tier roots from the settings, resolved. The shared cache is checked as
 * the refresh checks it (marker, system folders); one that is not used is
 * absent, and why is added to `skipped`. `probe` tries a write into the shared
 * cache (the only sure test of a read-only mount, which also marks an empty
 * one); without it nothing is written, and only the permission bits count.
 */
export async function tierRoots(s: Settings, probe: boolean, skipped: Skipped[] = []): Promise<TierRoot[]> {
  const named = s.sharedCache?.trim() ? path.resolve(s.sharedCache) : undefined;
  let shared: { root: string; readOnly: boolean } | undefined;
  if (named) {
    const p = await probeShared(named, { write: probe });
    for (const w of p.warnings) if (!/is read-only/.test(w)) skipped.push({ path: named, reason: w });
    if (p.root) shared = { root: p.root, readOnly: p.readOnly === true || (!probe && !(await writableBits(p.root))) };
  }
  const roots: TierRoot[] = [];
  const add = async (tier: TierId, root: string, readOnly = false) => roots.push({ tier, root, present: await isDir(root), readOnly });
  await add('local', await resolveRoot(s.g3Cache, 'local cache'));
  if (named) await add('shared', shared?.root ?? named, shared?.readOnly ?? true);
  const cacheDir = await resolveRoot(s.cacheDir, 'cache folder');
  await add('packages', packagesRoot(cacheDir));
  if (named) await add('shared-packages', sharedPackagesRoot(shared?.root ?? named), shared?.readOnly ?? true);
  await add('metadata', metadataDir(cacheDir));
  await add('workspace', await resolveRoot(s.workDir, 'work folder'));
  // A shared cache that is not used is listed as absent, whatever its folder holds.
  if (named && !shared) for (const r of roots) if (r.tier === 'shared' || r.tier === 'shared-packages') r.present = false;
  for (const r of roots) {
    if (r.present || r.tier === 'shared' || !(await lstatIfExists(r.root))?.isSymbolicLink()) continue;
    skipped.push({ path: r.root, reason: 'symbolic link where the tier folder belongs: not followed' });
  }
  if (shared) {
    const sub = roots.find((r) => r.tier === 'shared-packages');
    if (sub && (await lstatIfExists(sub.root))?.isSymbolicLink())
      skipped.push({ path: sub.root, reason: 'symbolic link where the shared package cache belongs: not followed' });
  }
  return roots;
}

// Without a write probe, only the permission bits say whether a listing could write there.
async function writableBits(dir: string): Promise<boolean> {
  return access(dir, constants.W_OK).then(
    () => true,
    () => false,
  );
}

/**
 * List the entries of the tiers in `tiers`. With `removeLinks` (commands that
 * change the caches), symbolic links found in writable tiers are removed as
 * links; either way they are reported in `skipped` and never followed.
 */
export async function scanCaches(s: Settings, opts: { tiers?: readonly TierId[]; probe?: boolean; removeLinks?: boolean } = {}): Promise<ScanResult> {
  const wanted = new Set(opts.tiers ?? ALL_TIERS);
  const skipped: Skipped[] = [];
  const roots = await tierRoots(s, opts.probe === true, skipped);
  const rootOf = (t: TierId) => roots.find((r) => r.tier === t);
  const writable = (t: TierId) => {
    const r = rootOf(t);
    return r?.present && !r.readOnly ? r.root : undefined;
  };
  const workDir = rootOf('workspace')?.root ?? path.resolve(s.workDir);
  const guardCache = new Map<string, Promise<string[]>>();
  const guards = (provider: string) => {
    const g = guardCache.get(provider) ?? workspaceLocks(workDir, provider);
    guardCache.set(provider, g);
    return g;
  };
  const entries: Entry[] = [];
  for (const r of roots) {
    if (!wanted.has(r.tier) || !r.present) continue;
    const sink: ScanSink = { skipped, removeLinks: opts.removeLinks === true && !r.readOnly };
    if (r.tier === 'metadata') entries.push(...(await scanMetadata(r.root, sink)));
    else if (r.tier === 'workspace') entries.push(...(await scanWorkspace(r.root, sink)));
    else {
      const peer = r.tier === 'local' ? writable('shared') : r.tier === 'packages' ? writable('shared-packages') : undefined;
      entries.push(...(await scanTier({ tier: r.tier, root: r.root, peer, exclude: r.tier === 'shared' ? [PACKAGES_DIR] : [], guards }, sink)));
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
    throw new UserError(
      `no cache or workspace holds provider ${JSON.stringify(id)}`,
      known.length ? `Known provider ids: ${known.join(', ')}.` : 'The caches hold no provider yet.',
    );
  }
  return id;
}
