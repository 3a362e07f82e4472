// What a target keeps in the cache registry, as manifests: its lock's files
// (composer tools, packages, a URL baseline) under `lock-<sha256 of the lock>`,
// and its catalogue artifacts under `files-<digest of their list>`. The cache
// commands push these, `cache status` and `cache verify --registry` read them.
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import type { Artifact, Target } from '../catalogue/types.js';
import { openRegistryTier, type RegistryTier } from '../cache/registry-tier.js';
import type { Settings } from '../config/load.js';
import { getEnv } from '../env.js';
import { hashFile } from '../fs/hash.js';
import type { Emit } from '../log/events.js';
import { type CacheEntry, filesTag, lockTag } from '../registry/cache-manifest.js';
import { fetchSettings } from './target.js';

/** One manifest's worth: its tag, its annotations and the artifacts it lists. */
export interface RegistrySet {
  tag: string;
  what: string;
  annotations: Record<string, string>;
  artifacts: Artifact[];
}

/** The cache registry the settings name, or undefined (none, or --offline). */
export function registryTierFor(s: Settings, emit: Emit): RegistryTier | undefined {
  return openRegistryTier({
    ref: s.cacheRegistry,
    offline: s.offline,
    insecure: s.insecureRegistries,
    env: getEnv(),
    fetch: fetchSettings(s),
    workers: s.workers,
    emit,
  });
}

/** An artifact as a manifest entry; a catalogue entry without a size takes its verified file's. */
export async function entryOf(a: Artifact, file?: string): Promise<CacheEntry> {
  const size = a.size ?? (file ? Number((await lstat(file)).size) : -1);
  return { name: `${a.section}/${a.file}`, sha256: a.sha256, size };
}

/** The sets of `target`: its catalogue artifacts, and the lock's files when it has a lock. */
export async function registrySets(target: Target, lock: { file: string; providerId: string; artifacts: Artifact[] } | undefined): Promise<RegistrySet[]> {
  const sets: RegistrySet[] = [];
  if (lock) {
    const digest = (await hashFile(lock.file, { noFollow: true })).sha256;
    sets.push({
      tag: lockTag(digest),
      what: `lock ${path.basename(lock.file)}`,
      annotations: { 'org.g3-composer.lock': path.basename(lock.file), 'org.g3-composer.provider': lock.providerId },
      artifacts: lock.artifacts,
    });
  }
  if (target.artifacts.length > 0) {
    const entries = await Promise.all(target.artifacts.map((a) => entryOf(a)));
    sets.push({
      tag: filesTag(entries),
      what: `artifacts of target ${target.name}`,
      annotations: { 'org.g3-composer.target': target.name },
      artifacts: [...target.artifacts],
    });
  }
  return sets;
}

/** The key of `verified` below: the artifact's place and digest. */
export const verifiedKey = (a: Artifact): string => `${a.section}/${a.file}\0${a.sha256}`;

/**
 * Push each set whose every artifact this run verified (`verified`: verifiedKey →
 * its local file), then its manifest. False when a set was incomplete or the registry refused.
 */
export async function pushSets(tier: RegistryTier, sets: readonly RegistrySet[], verified: ReadonlyMap<string, string>): Promise<boolean> {
  let ok = true;
  for (const set of sets) {
    if (!set.artifacts.every((a) => verified.has(verifiedKey(a)))) {
      ok = false;
      continue;
    }
    const files = await Promise.all(
      set.artifacts.map(async (a) => {
        const file = verified.get(verifiedKey(a)) as string;
        return { file, entry: await entryOf(a, file) };
      }),
    );
    ok = (await tier.pushBack(set.tag, files, set.annotations)) && ok;
  }
  return ok;
}
