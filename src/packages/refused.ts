// What the lock must not hold, decided when it is made (never later by
// `cache`, whose hint would only make the same lock again): requests and
// dependencies that only index entries left out by policy could satisfy, and
// two chosen packages whose files would share one name in the flat package cache.
import path from 'node:path';
import type { PackageRecord } from '../deb/types.js';
import { UserError } from '../errors.js';
import type { RefusedPackage, RepoMetadata } from '../repo/deb/types.js';
import { ResolveError } from '../resolve/errors.js';

/** A left-out entry with the repository it came from. */
export interface RefusedEntry extends RefusedPackage {
  repository: string;
}

const REFUSED_HINT =
  'The repository publishes it with a name, version or Filename that breaks Debian policy or would leave the package cache; ask its maintainers to fix the index, or leave the package out.';

/** Every left-out entry of the loaded repositories, by package name. */
export function refusedByName(metadata: RepoMetadata[]): Map<string, RefusedEntry[]> {
  const out = new Map<string, RefusedEntry[]>();
  for (const m of metadata) {
    for (const r of m.refused ?? []) {
      const list = out.get(r.name) ?? [];
      list.push({ ...r, repository: `repository ${m.spec.url} ${m.spec.codename}` });
      out.set(r.name, list);
    }
  }
  return out;
}

function describe(list: RefusedEntry[]): string {
  return list.map((r) => `${r.repository}, ${r.index} line ${r.line}: ${r.problem}`).join('; ');
}

/** The package name of a request ("name", "name=1.0", "name (>= 1)"). */
function requestedName(request: string): string {
  return request.trim().split(/[=\s(]/)[0] ?? request;
}

/** Fail for a requested package that exists only as left-out entries. */
export function checkRequested(requests: string[], metadata: RepoMetadata[], refused: Map<string, RefusedEntry[]>): void {
  if (refused.size === 0) return;
  const known = new Set(metadata.flatMap((m) => m.packages.map((p) => p.name)));
  for (const request of requests) {
    const name = requestedName(request);
    const list = refused.get(name);
    if (list && !known.has(name))
      throw new UserError(`requested package ${name}: its entries in the signed indexes were left out: ${describe(list)}`, REFUSED_HINT);
  }
}

/** A resolution failure, with the left-out entries of the package it could not find, when there are any. */
export function explainRefused(err: unknown, refused: Map<string, RefusedEntry[]>): unknown {
  if (!(err instanceof ResolveError) || refused.size === 0) return err;
  const clause = err.chain[err.chain.length - 1] ?? '';
  const names = clause.split('|').map((alt) => alt.trim().split(/[\s:(]/)[0] ?? '');
  const notes = names.flatMap((n) => (refused.get(n) ?? []).map((r) => `${n} was left out of ${r.index} of ${r.repository} (line ${r.line}: ${r.problem})`));
  if (notes.length === 0) return err;
  return new ResolveError(`${err.message}; ${notes.join('; ')}`, err.chain, REFUSED_HINT);
}

/** Fail when two packages of one set would be the same file in the flat package cache but differ. */
export function checkFileNames(packages: PackageRecord[], set: string): void {
  const byFile = new Map<string, PackageRecord>();
  for (const p of [...packages].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const file = path.posix.basename(p.filename);
    const prior = byFile.get(file);
    if (prior && (prior.sha256 !== p.sha256 || prior.size !== p.size)) {
      throw new UserError(
        `${set}: packages ${prior.name} and ${p.name} share the file name ${file} in the package cache but differ (sha256 ${prior.sha256.slice(0, 16)}… from ${prior.repository}, ${p.sha256.slice(0, 16)}… from ${p.repository})`,
        'The repositories disagree about one file; restrict one of them with allowPackages, or leave one package out.',
      );
    }
    byFile.set(file, p);
  }
}
