// Listing the g3-cache tiers (local, shared), the package caches and the
// repository metadata store as entries.
import path from 'node:path';
import { lstatIfExists } from '../fs/safe.js';
import { sectionHolds } from '../cache/hold.js';
import { readLastUse } from '../layout/last-use.js';
import { itemLockPath, stampPath, toolsSection } from '../layout/paths.js';
import { prepareTier } from '../cache/tiers.js';
import type { Entry, TierId } from './entries.js';
import { linkNote, noteLink, readEntries, type ScanSink, type Skipped, sinkOf, subdirs, visibleEntries } from './walk.js';

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

/**
 * Every file of a g3-layout tier (`<root>/<section>/<file>`). Links are
 * reported, and with `removeLinks` removed, also where the bookkeeping folders
 * (stamps, locks, records) of its sections belong.
 */
export async function scanTier(t: TierScan, s: Skipped[] | ScanSink): Promise<Entry[]> {
  const sink = sinkOf(s);
  const out: Entry[] = [];
  const packages = t.tier === 'packages' || t.tier === 'shared-packages';
  const sections = (await subdirs(t.root, sink)).filter((x) => !t.exclude?.includes(x));
  if (sink.removeLinks) {
    await prepareTier(t.root, sections, { onLink: linkNote(sink.skipped), remove: true });
  }
  for (const section of sections) {
    const provider = providerOf(t.tier, section);
    // A running build of the provider, or a running `cache` that works on this section.
    const guards = [...(provider ? await t.guards(provider) : []), ...(await sectionHolds(t.root, section))];
    const dir = path.join(t.root, section);
    for (const d of await visibleEntries(dir, sink)) {
      const file = path.join(dir, d.name);
      // A composer section keeps the repositories' keyrings in keyrings/ (copied by content, see fallback.ts).
      if (d.isDirectory() && d.name === 'keyrings' && section.startsWith('composer-')) continue;
      if (d.isSymbolicLink()) {
        await noteLink(file, sink);
        continue;
      }
      if (!d.isFile()) {
        sink.skipped.push({ path: file, reason: 'not a regular file: not a cache entry' });
        continue;
      }
      const st = await lstatIfExists(file);
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
        locks: derived ? [] : [...(t.peer ? [itemLockPath(t.peer, section, d.name)] : []), itemLockPath(t.root, section, d.name)],
        guards,
      });
    }
  }
  return out;
}

/** The repository metadata store: blobs named by their SHA256, and derived suite state and keyrings. */
export async function scanMetadata(root: string, s: Skipped[] | ScanSink): Promise<Entry[]> {
  const sink = sinkOf(s);
  const out: Entry[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const d of await readEntries(dir, sink)) {
      if (d.name.startsWith('.')) continue; // temporary downloads
      const p = path.join(dir, d.name);
      if (d.isDirectory()) await walk(p);
      else if (d.isSymbolicLink()) await noteLink(p, sink);
      else if (d.isFile()) {
        const st = await lstatIfExists(p);
        if (!st) continue;
        const rel = path.relative(root, p);
        const blob = path.dirname(rel) === path.join('by-hash', 'sha256') && HEX64.test(d.name);
        out.push({
          tier: 'metadata',
          group: rel.split(path.sep)[0] ?? '',
          name: path.relative(path.join(root, rel.split(path.sep)[0] ?? ''), p),
          kind: blob ? 'blob' : 'derived',
          root,
          path: p,
          companions: [],
          bytes: st.size,
          mtimeMs: st.mtimeMs,
          locks: [],
          guards: [],
        });
      }
    }
  };
  await walk(root);
  return out;
}
