// Reading, writing and checking `<target>.lock.json`.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../fs/atomic.js';
import { filenameProblem, recordProblem } from '../deb/policy.js';
import { UserError } from '../errors.js';
import { escapeInline } from '../text/untrusted.js';
import { jsonProblem } from '../text/untrusted.js';
import { LOCK_VERSION, type LockedPackage, type LockFile, type LockRequest } from './types.js';

/** Where a target's lock lives: next to the targets file. */
export function lockPathFor(catalogueFile: string, target: string): string {
  return path.join(path.dirname(catalogueFile), `${target}.lock.json`);
}

/** A digest of the request; independent of key order and of the mirror URL. */
export function requestDigest(req: LockRequest): string {
  return createHash('sha256').update(canonicalJson(req)).digest('hex');
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** Read a lock file; undefined when there is none. */
export async function readLock(file: string): Promise<LockFile | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UserError(`cannot read lock file ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  let lock: LockFile;
  try {
    lock = JSON.parse(text) as LockFile;
  } catch (err) {
    throw new UserError(`lock file ${file} is ${jsonProblem(err, text)}`, 'Restore it from version control, or delete it and run `lock` again.');
  }
  const problem = lockShapeProblem(lock);
  if (problem) throw new UserError(`lock file ${file}: ${problem}`, 'Restore it from version control, or delete it and run `lock` again.');
  return lock;
}

function lockShapeProblem(l: LockFile): string | undefined {
  if (!l || typeof l !== 'object') return 'not an object';
  if (l.lockVersion !== LOCK_VERSION) return `lockVersion ${String(l.lockVersion)} is not supported (expected ${LOCK_VERSION})`;
  for (const key of ['target', 'providerId', 'arch', 'requestDigest'] as const) if (typeof l[key] !== 'string') return `${key} is missing`;
  if (!Array.isArray(l.repositories)) return 'repositories is missing';
  if (l.baseline !== undefined) {
    const b = l.baseline;
    if (!b || !/^[0-9a-f]{64}$/.test(String(b.sha256)) || !Number.isSafeInteger(b.size) || !Array.isArray(b.packages) || typeof b.source !== 'object')
      return 'baseline is incomplete (source, sha256, size and packages are required)';
  }
  for (const set of ['image', 'tools'] as const) {
    const s = l[set];
    if (!s || !Array.isArray(s.packages)) return `${set}.packages is missing`;
    for (const [i, p] of s.packages.entries()) {
      if (typeof p.name !== 'string' || typeof p.filename !== 'string' || !/^[0-9a-f]{64}$/.test(String(p.sha256)) || !Number.isSafeInteger(p.size)) {
        return `${set}.packages[${i}] is incomplete (name, filename, size and sha256 are required)`;
      }
      if (typeof p.version !== 'string' || typeof p.architecture !== 'string')
        return `${set}.packages[${i}] is incomplete (version and architecture are required)`;
      // The same rules as for a signed index: a lock edited by hand gets no further than one made from a hostile index.
      const bad = filenameProblem(p.filename);
      if (bad) return `${set}.packages[${i}].filename ${escapeInline(JSON.stringify(p.filename))} is not a relative pool path: it ${bad}`;
      const problem = recordProblem(p);
      if (problem) return `${set}.packages[${i}]: ${problem}`;
      if (!l.repositories.some((r) => r.id === p.repository)) return `${set}.packages[${i}].repository ${p.repository} is not listed in repositories`;
    }
  }
  return undefined;
}

/** Write a lock file atomically (stable formatting, so diffs stay small). */
export async function writeLock(file: string, lock: LockFile): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(lock, null, 2)}\n`);
}

/** Why a lock does not match the current request, in words; undefined when it matches. */
export function lockMismatch(lock: LockFile, req: LockRequest): string | undefined {
  if (lock.requestDigest === requestDigest(req)) return undefined;
  const was = lock.request;
  const diffs: string[] = [];
  if (was.providerId !== req.providerId) diffs.push(`provider ${was.providerId} → ${req.providerId}`);
  const listDiff = (label: string, a: string[], b: string[]) => {
    const added = b.filter((x) => !a.includes(x));
    const removed = a.filter((x) => !b.includes(x));
    if (added.length) diffs.push(`${label} added: ${added.join(', ')}`);
    if (removed.length) diffs.push(`${label} removed: ${removed.join(', ')}`);
  };
  listDiff('packages', was.packages ?? [], req.packages);
  listDiff('tools', was.tools ?? [], req.tools);
  if (canonicalJson(was.repositories) !== canonicalJson(req.repositories)) diffs.push('repositories changed');
  if (canonicalJson(was.baseline ?? null) !== canonicalJson(req.baseline ?? null)) diffs.push('baseline changed');
  return diffs.length ? diffs.join('; ') : 'the request changed';
}

/**
 * Every package the built image must have installed: the lock's image packages,
 * and for an overlay also the baseline's (those the overlay upgrades at the
 * lock's version). A baseline package has no file: filename and sha256 are empty.
 */
export function imagePackagesOf(lock: LockFile): LockedPackage[] {
  if (!lock.baseline) return lock.image.packages;
  const key = (p: { name: string; architecture: string }) => `${p.name}:${p.architecture}`;
  const out = new Map<string, LockedPackage>();
  const removed = new Set((lock.baseline.removed ?? []).map((r) => r.name));
  for (const p of lock.baseline.packages.filter((b) => !removed.has(b.name)))
    out.set(key(p), { name: p.name, version: p.version, architecture: p.architecture, filename: '', size: 0, sha256: '', repository: 'baseline' });
  for (const p of lock.image.packages) out.set(key(p), p);
  return [...out.values()];
}

/** Every package the package cache holds for a lock: the image's, and an overlay's composer base. */
export function cachedImagePackages(lock: LockFile): LockedPackage[] {
  if (!lock.composerBase) return lock.image.packages;
  const out = new Map(lock.composerBase.packages.map((p) => [`${p.name}:${p.architecture}`, p]));
  for (const p of lock.image.packages) out.set(`${p.name}:${p.architecture}`, p);
  return [...out.values()];
}
