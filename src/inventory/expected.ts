// What a cached file should hash to. A file's own stamp says what it was
// verified to be when it was placed (g3 stamps and snapshot .json stamps both
// record sha256 and size); a file without a stamp is looked up in the
// catalogue (artifacts) and the targets' lock files (packages, tools); a
// metadata blob is named by its SHA256.
import { findTarget } from '../catalogue/load.js';
import { openCatalogue } from '../catalogue/open.js';
import { baselineCacheName, toolsSection } from '../layout/paths.js';
import type { Settings } from '../config/load.js';
import { messageOf } from '../errors.js';
import { readFileNoFollow } from '../fs/safe.js';
import { cachedImagePackages, lockPathFor, readLock } from '../lock/file.js';
import type { Emit } from '../log/events.js';
import { poolFile } from '../packages/artifacts.js';
import { isTemplateTarget } from '../packages/target.js';
import type { Entry } from './entries.js';

export interface Expected {
  /** Any of these is right (targets may pin different versions of one name). */
  sha256: string[];
  size?: number;
  source: 'stamp' | 'catalogue' | 'name';
}

const HEX64 = /^[0-9a-f]{64}$/;

/** sha256 and size from a stamp file (either kind), or undefined when it is missing or unreadable. */
export async function readStampDigest(file: string): Promise<{ sha256: string; size: number } | undefined> {
  try {
    const s = JSON.parse(await readFileNoFollow(file)) as { sha256?: unknown; size?: unknown };
    if (typeof s.sha256 === 'string' && HEX64.test(s.sha256) && Number.isSafeInteger(s.size)) return { sha256: s.sha256, size: s.size as number };
  } catch {
    // Missing, a link, unreadable or not JSON: as good as none (the catalogue is asked instead).
  }
  return undefined;
}

/** Keys of the catalogue map: the g3 tiers by section/file, the package caches by provider/file. */
export function catalogueKey(e: Pick<Entry, 'tier' | 'group' | 'name'>): string {
  const kind = e.tier === 'packages' || e.tier === 'shared-packages' ? 'packages' : 'g3';
  return `${kind}:${e.group}/${e.name}`;
}

/** Every SHA256 the catalogue and the existing lock files pin, by catalogueKey; problems are warnings. */
export async function catalogueDigests(s: Settings, emit: Emit): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  const add = (key: string, sha: string) => out.set(key, (out.get(key) ?? new Set()).add(sha));
  try {
    const cat = await openCatalogue(s, emit);
    for (const name of cat.targets.keys()) {
      const target = findTarget(cat, name);
      for (const a of target.artifacts) add(`g3:${a.section}/${a.file}`, a.sha256);
      if (!isTemplateTarget(target)) continue;
      // A missing lock is undefined; a broken one is reported, and the other targets still count.
      const lock = await readLock(lockPathFor(cat.file, name)).catch((err: unknown) => {
        emit({ type: 'warning', message: `${messageOf(err)}: its packages count as unpinned` });
        return undefined;
      });
      if (!lock) continue;
      // An overlay's baseline fetched by URL lies beside the packages.
      if (lock.baseline && 'url' in lock.baseline.source)
        add(`packages:${lock.providerId}/${baselineCacheName(lock.baseline.sha256, lock.baseline.format)}`, lock.baseline.sha256);
      for (const p of cachedImagePackages(lock)) add(`packages:${lock.providerId}/${poolFile(p)}`, p.sha256);
      for (const p of lock.tools.packages) add(`g3:${toolsSection(lock.providerId)}/${poolFile(p)}`, p.sha256);
    }
  } catch (err) {
    emit({ type: 'warning', message: `cannot read the catalogue for expected digests (${(err as Error).message}): files without a stamp stay unverified` });
  }
  return out;
}

/** What `e` should hash to, or undefined when nothing says. `catalogue` is loaded on first need. */
export async function expectedOf(e: Entry, catalogue: () => Promise<Map<string, Set<string>>>): Promise<Expected | undefined> {
  if (e.kind === 'blob') return { sha256: [e.name.split('/').pop() ?? ''], source: 'name' };
  const stamped = e.stamp ? await readStampDigest(e.stamp) : undefined;
  if (stamped) return { sha256: [stamped.sha256], size: stamped.size, source: 'stamp' };
  if (e.kind !== 'file') return undefined;
  const pinned = (await catalogue()).get(catalogueKey(e));
  return pinned ? { sha256: [...pinned], source: 'catalogue' } : undefined;
}
