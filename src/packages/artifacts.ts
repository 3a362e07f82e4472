// A lock's packages as cache artifacts: one flat directory per provider, each
// file verified against the SHA256 from the signed index.
import path from 'node:path';
import { unsafeNameReason } from '../layout/names.js';
import type { Artifact } from '../catalogue/types.js';
import { UserError } from '../errors.js';
import type { LockedPackage, LockedSet, LockFile } from '../lock/types.js';

/** The URL of a pool file under a repository URL (each path segment escaped, as apt does). */
export function poolUrl(repoUrl: string, filename: string): string {
  return `${repoUrl.replace(/\/+$/, '')}/${filename.split('/').map(encodeURIComponent).join('/')}`;
}

/** The flat file name of a locked package in the package cache. */
export function poolFile(p: Pick<LockedPackage, 'filename'>): string {
  return path.posix.basename(p.filename);
}

/**
 * Artifacts for one locked set, in `section`. `urls` maps a repository id to
 * the URL to use now (the configured mirror); the lock's URL is the fallback.
 */
export function lockArtifacts(lock: LockFile, set: LockedSet, section: string, lockFile: string, urls: ReadonlyMap<string, string> = new Map()): Artifact[] {
  const byFile = new Map<string, Artifact>();
  for (const p of set.packages) {
    const file = poolFile(p);
    const problem = unsafeNameReason(file);
    if (problem) throw new UserError(`${lockFile}: package ${p.name} has an unsafe file name ${JSON.stringify(file)}: ${problem}`);
    const repo = lock.repositories.find((r) => r.id === p.repository);
    const base = urls.get(p.repository) ?? repo?.url;
    if (!base) throw new UserError(`${lockFile}: package ${p.name} names repository ${p.repository}, which the lock does not list`);
    const prior = byFile.get(file);
    if (prior && prior.sha256 !== p.sha256)
      throw new UserError(
        `${lockFile}: two packages share the file name ${file} with different SHA256`,
        'The repositories disagree about one file; restrict one of them with allowPackages.',
      );
    byFile.set(file, { section, file, urls: [poolUrl(base, p.filename)], sha256: p.sha256, size: p.size, origin: { file: lockFile, line: 0 } });
  }
  return [...byFile.values()];
}
