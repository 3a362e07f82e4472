// Listing the g3-cache tiers (local, shared), the package caches and the
// repository metadata store as entries.
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { toolsSection } from '../../commands/cache.js';
import { readLastUse } from '../last-use.js';
import { lockPath } from '../lock.js';
import { stampPath } from '../stamp.js';
import type { Entry, TierId } from './entries.js';
import { type Skipped, subdirs, visibleEntries } from './fsutil.js';

const TOOLS_PREFIX = toolsSection('');
const HEX64 = /^[0-9a-f]{64}$/;

export interface TierScan {
  tier: Exclude<TierId, 'metadata' | 'workspace'>;
  root: string;
  /** The same layout in the other tier, whose item locks a build may hold instead (when writable). */
  peer?: string;
  /** Section names that are not sections here (the shared tier's pkgCache). */
  exclude?: readonly string[];
  /** Locks of a provider's running builds (see scan-workspace.ts). */
  guards: (provider: string) => Promise<string[]>;
}

function providerOf(tier: TierScan['tier'], section: string): string | undefined {
  if (tier === 'packages' || tier === 'shared-packages') return section;
  return section.startsWith(TOOLS_PREFIX) && section.length > TOOLS_PREFIX.length ? section.slice(TOOLS_PREFIX.length) : undefined;
}

/** Every file of a g3-layout tier (`<root>/<section>/<file>`). */
export async function scanTier(t: TierScan, skipped: Skipped[]): Promise<Entry[]> {
  const out: Entry[] = [];
  const packages = t.tier === 'packages' || t.tier === 'shared-packages';
  for (const section of await subdirs(t.root, skipped)) {
    if (t.exclude?.includes(section)) continue;
    const provider = providerOf(t.tier, section);
    const guards = provider ? await t.guards(provider) : [];
    const dir = path.join(t.root, section);
    for (const d of await visibleEntries(dir)) {
      const file = path.join(dir, d.name);
      // A composer section keeps the repositories' keyrings in keyrings/ (copied by content, see fallback.ts).
      if (d.isDirectory() && d.name === 'keyrings' && section.startsWith('composer-')) continue;
      if (!d.isFile()) {
        skipped.push({ path: file, reason: d.isSymbolicLink() ? 'symbolic link: not followed' : 'not a regular file: not a cache entry' });
        continue;
      }
      const st = await lstat(file).catch(() => undefined);
      if (!st?.isFile()) continue;
      const rel = path.join(section, d.name);
      // Graphs beside the packages are rewritten by every `cache`/`lock` run.
      const derived = packages && d.name.endsWith('.dot');
      out.push({
        tier: t.tier,
        group: section,
        provider,
        name: d.name,
        kind: derived ? 'derived' : 'file',
        root: t.root,
        path: file,
        stamp: derived ? undefined : stampPath(t.root, section, d.name),
        companions: derived ? [] : [stampPath(t.root, section, d.name)],
        use: derived ? undefined : { root: t.root, rel },
        bytes: st.size,
        mtimeMs: st.mtimeMs,
        lastUseMs: derived ? undefined : await readLastUse(t.root, rel),
        locks: derived ? [] : [...(t.peer ? [lockPath(t.peer, section, d.name)] : []), lockPath(t.root, section, d.name)],
        guards,
      });
    }
  }
  return out;
}

/** The repository metadata store: blobs named by their SHA256, and derived suite state and keyrings. */
export async function scanMetadata(root: string, skipped: Skipped[]): Promise<Entry[]> {
  const out: Entry[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const d of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (d.name.startsWith('.')) continue; // temporary downloads
      const p = path.join(dir, d.name);
      if (d.isDirectory()) await walk(p);
      else if (d.isSymbolicLink()) skipped.push({ path: p, reason: 'symbolic link: not followed' });
      else if (d.isFile()) {
        const st = await lstat(p).catch(() => undefined);
        if (!st) continue;
        const rel = path.relative(root, p);
        const blob = path.dirname(rel) === path.join('by-hash', 'sha256') && HEX64.test(d.name);
        out.push({ tier: 'metadata', group: rel.split(path.sep)[0] ?? '', name: path.relative(path.join(root, rel.split(path.sep)[0] ?? ''), p), kind: blob ? 'blob' : 'derived', root, path: p, companions: [], bytes: st.size, mtimeMs: st.mtimeMs, locks: [], guards: [] });
      }
    }
  };
  await walk(root);
  return out;
}
