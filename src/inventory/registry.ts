// The registry tier as `cache status` and `cache verify --registry` see it:
// for every target's current lock (and catalogue artifacts), the manifest the
// cache pushes for it and the blobs it should list, looked up by digest
// (status: HEAD; verify: GET, hashed, nothing written but a temp file).
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { findTarget } from '../catalogue/load.js';
import { openCatalogue } from '../catalogue/open.js';
import type { Settings } from '../config/load.js';
import { messageOf } from '../errors.js';
import { hashFile } from '../fs/hash.js';
import { toolsSection, baselineCacheName } from '../layout/paths.js';
import { cachedImagePackages, lockPathFor, readLock } from '../lock/file.js';
import type { LockFile } from '../lock/types.js';
import type { Emit } from '../log/events.js';
import { poolFile } from '../packages/artifacts.js';
import { entryOf, registryTierFor } from '../packages/registry-sets.js';
import { isTemplateTarget } from '../packages/target.js';
import { mapPool } from '../pool.js';
import { asRegistryError, BlobMismatchError, headBlob, pullBlob } from '../registry/blobs.js';
import { type CacheEntry, filesTag, getCacheManifest, lockTag } from '../registry/cache-manifest.js';
import { closeRegistryConnections } from '../registry/http.js';

/** One set the registry should hold: a lock's files or a target's artifacts. */
interface ExpectedSet {
  what: string;
  tag: string;
  entries: CacheEntry[];
}

export interface RegistrySetStatus {
  what: string;
  tag: string;
  /** Whether the manifest is there. */
  manifest: boolean;
  blobs: number;
  bytes: number;
  present: number;
  presentBytes: number;
}

export interface RegistryStatus {
  repository: string;
  /** Why it could not be read, when it could not. */
  unusable: string | null;
  sets: RegistrySetStatus[];
}

export interface RegistryBlobProblem {
  set: string;
  name: string;
  sha256: string;
  problem: 'missing' | 'corrupt';
  reason: string;
}

export interface RegistryVerifyReport {
  repository: string;
  unusable: string | null;
  checked: number;
  good: number;
  bytes: number;
  /** Sets whose manifest is missing: never pushed (or collected); their blobs are not checked. */
  withoutManifest: string[];
  problems: RegistryBlobProblem[];
  ok: boolean;
}

/** A lock's files as the cache names them: composer tools, packages, a URL baseline. */
export function lockEntries(lock: LockFile): CacheEntry[] {
  const entry = (section: string, p: { filename: string; sha256: string; size: number }) => ({
    name: `${section}/${poolFile(p)}`,
    sha256: p.sha256,
    size: p.size,
  });
  const out = [...lock.tools.packages.map((p) => entry(toolsSection(lock.providerId), p)), ...cachedImagePackages(lock).map((p) => entry(lock.providerId, p))];
  const b = lock.baseline;
  if (b && 'url' in b.source) out.push({ name: `${lock.providerId}/${baselineCacheName(b.sha256, b.format)}`, sha256: b.sha256, size: b.size });
  return out;
}

/** Every set the catalogue's targets and their current locks expect; a broken lock is a warning. */
async function expectedSets(s: Settings, emit: Emit): Promise<ExpectedSet[]> {
  const cat = await openCatalogue(s, emit);
  const sets = new Map<string, ExpectedSet>();
  for (const name of cat.targets.keys()) {
    const target = findTarget(cat, name);
    if (target.artifacts.length > 0) {
      const entries = await Promise.all(target.artifacts.map((a) => entryOf(a)));
      const tag = filesTag(entries);
      sets.set(tag, { what: `artifacts of ${name}`, tag, entries });
    }
    if (!isTemplateTarget(target)) continue;
    const file = lockPathFor(cat.file, name);
    const lock = await readLock(file).catch((err: unknown) => {
      emit({ type: 'warning', message: `${messageOf(err)}: left out of the registry tier` });
      return undefined;
    });
    if (!lock) continue;
    const tag = lockTag((await hashFile(file, { noFollow: true })).sha256);
    sets.set(tag, { what: `lock ${path.basename(file)}`, tag, entries: lockEntries(lock) });
  }
  return [...sets.values()];
}

/** What the registry holds of the current locks, by HEAD; null when no registry is set (or --offline). */
export async function registryStatus(s: Settings, emit: Emit): Promise<RegistryStatus | null> {
  const tier = registryTierFor(s, emit);
  if (!tier) return null;
  const out: RegistryStatus = { repository: tier.stats.repository, unusable: null, sets: [] };
  try {
    for (const set of await expectedSets(s, emit)) {
      const manifest = (await getCacheManifest(tier.session, set.tag)) !== undefined;
      const found = await mapPool(set.entries, s.workers, async (e) => ((await headBlob(tier.session, e.sha256)) === undefined ? 0 : 1));
      const presentBytes = set.entries.reduce((n, e, i) => n + (found[i] ? e.size : 0), 0);
      out.sets.push({
        what: set.what,
        tag: set.tag,
        manifest,
        blobs: set.entries.length,
        bytes: set.entries.reduce((n, e) => n + e.size, 0),
        present: found.reduce((n: number, f) => n + f, 0),
        presentBytes,
      });
    }
  } catch (err) {
    out.unusable = asRegistryError(err).message;
  } finally {
    await closeRegistryConnections();
  }
  return out;
}

/**
 * Fetch and hash every blob of each current set whose manifest the registry
 * has (what it claims to hold); nothing is written but a temp file. Null: no registry set.
 */
export async function registryVerify(s: Settings, emit: Emit): Promise<RegistryVerifyReport | null> {
  const tier = registryTierFor(s, emit);
  if (!tier) return null;
  const report: RegistryVerifyReport = {
    repository: tier.stats.repository,
    unusable: null,
    checked: 0,
    good: 0,
    bytes: 0,
    withoutManifest: [],
    problems: [],
    ok: false,
  };
  const scratch = await mkdtemp(path.join(s.tempDir, 'g3-registry-verify-'));
  try {
    for (const set of await expectedSets(s, emit)) {
      if ((await getCacheManifest(tier.session, set.tag)) === undefined) {
        report.withoutManifest.push(set.what);
        continue;
      }
      await mapPool(set.entries, s.workers, async (e, i) => {
        const dest = path.join(scratch, `${i}`);
        const problem = (p: 'missing' | 'corrupt', reason: string) =>
          report.problems.push({ set: set.what, name: e.name, sha256: e.sha256, problem: p, reason });
        try {
          const got = await pullBlob(tier.session, e, dest, tier.fetchSettings);
          report.checked++;
          if (got === 'missing') problem('missing', 'not in the registry');
          else {
            report.good++;
            report.bytes += e.size;
          }
        } catch (err) {
          if (!(err instanceof BlobMismatchError)) throw err;
          report.checked++;
          problem('corrupt', err.message);
        } finally {
          await rm(dest, { force: true });
        }
      });
    }
    report.ok = report.problems.length === 0;
  } catch (err) {
    report.unusable = asRegistryError(err).message;
  } finally {
    await rm(scratch, { recursive: true, force: true });
    await closeRegistryConnections();
  }
  return report;
}
