// Which record satisfies a relation: matching rules (versions, Provides, arch
// qualifiers) and the choice among alternatives and virtual-package providers.
import type { PackageRecord, Relation } from '../deb/types.js';
import { satisfies } from '../deb/version.js';
import type { PackageIndex, Provider } from './index.js';

// apt prefers providers by Priority; unknown or missing priorities sort last.
const PRIORITY_RANK: Record<string, number> = { required: 0, important: 1, standard: 2, optional: 3, extra: 4 };

/** Sort key of a Priority field: required first, missing last. */
export function priorityRank(priority: string | undefined): number {
  return PRIORITY_RANK[priority ?? ''] ?? 5;
}

/** Whether a record of the native architecture (or `all`) meets a relation's arch qualifier. */
export function archSatisfies(rec: PackageRecord, rel: Relation, arch: string): boolean {
  const q = rel.archQualifier;
  if (q === undefined || q === 'native') return true;
  // dpkg: `:any` needs the target to declare Multi-Arch: allowed, whatever its architecture.
  if (q === 'any') return rec.multiArch === 'allowed';
  return q === arch;
}

function versionMatches(version: string | undefined, rel: Relation): boolean {
  if (!rel.op || rel.version === undefined) return true;
  // An unversioned Provides never satisfies a versioned relation.
  return version !== undefined && satisfies(version, rel.op, rel.version);
}

/** Whether the real package `rec` satisfies `rel`. */
export function realSatisfies(rec: PackageRecord, rel: Relation, arch: string): boolean {
  return rec.name === rel.name && archSatisfies(rec, rel, arch) && versionMatches(rec.version, rel);
}

/** Whether a Provides entry satisfies `rel`. */
export function provideSatisfies(p: Provider, rel: Relation, arch: string): boolean {
  return p.provides.name === rel.name && archSatisfies(p.rec, rel, arch) && versionMatches(p.provides.version, rel);
}

/** The provider apt would prefer: by Priority, then by name. */
export function preferredProvider(recs: readonly PackageRecord[]): PackageRecord | undefined {
  let best: PackageRecord | undefined;
  for (const r of recs) {
    if (!best) best = r;
    else {
      const d = priorityRank(r.priority) - priorityRank(best.priority);
      if (d < 0 || (d === 0 && r.name < best.name)) best = r;
    }
  }
  return best;
}

/** The record to install for one alternative: its real candidate, else the preferred provider. */
export function chooseFor(index: PackageIndex, rel: Relation): PackageRecord | undefined {
  const real = index.candidate(rel.name);
  if (real && realSatisfies(real, rel, index.arch)) return real;
  const providers = index.providers(rel.name).filter((p) => provideSatisfies(p, rel, index.arch));
  return preferredProvider(providers.map((p) => p.rec));
}

/** Why one alternative cannot be installed, for error messages. */
export function whyNot(index: PackageIndex, rel: Relation, selected: PackageRecord | undefined): string {
  const rec = selected ?? index.candidate(rel.name);
  const what = selected ? 'selected' : 'candidate';
  if (rec && !archSatisfies(rec, rel, index.arch)) {
    return rel.archQualifier === 'any' ? `${what} ${rec.version} is not Multi-Arch: allowed` : `no candidate for ${rel.archQualifier}`;
  }
  if (rec && !versionMatches(rec.version, rel)) return `${what} ${rec.version} does not satisfy`;
  const providers = index.providers(rel.name);
  if (providers.length) {
    const list = providers.map((p) => (p.provides.version ? `${p.rec.name} (= ${p.provides.version})` : `${p.rec.name} (unversioned)`));
    return `no provider satisfies it (provided by ${list.join(', ')})`;
  }
  const unusable = index.whyUnusable(rel.name);
  return unusable ? `no candidate: ${unusable}` : 'no candidate';
}
