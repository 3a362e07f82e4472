// Conflicts and Breaks among the selected packages. A package that provides and
// conflicts with the same virtual name is Debian's "only one provider" idiom,
// so a package never conflicts with itself.
import { formatRelation } from '../deb/relations.js';
import type { PackageRecord, Relation } from '../deb/types.js';
import { satisfies } from '../deb/version.js';
import { ResolveError } from './errors.js';
import type { Selection } from './selection.js';

// With one native architecture, only a qualifier naming a foreign one can miss.
function archApplies(rel: Relation, arch: string): boolean {
  const q = rel.archQualifier;
  return q === undefined || q === 'any' || q === 'native' || q === arch;
}

function versionHits(version: string | undefined, rel: Relation): boolean {
  if (!rel.op || rel.version === undefined) return true;
  return version !== undefined && satisfies(version, rel.op, rel.version);
}

/** Selected packages other than `self` that a Conflicts or Breaks entry hits, and how. */
function hits(sel: Selection, self: PackageRecord, rel: Relation): string[] {
  if (!archApplies(rel, sel.arch)) return [];
  const out: string[] = [];
  const real = sel.get(rel.name);
  if (real && real !== self && versionHits(real.version, rel)) out.push(`${real.name} ${real.version} is selected`);
  for (const p of sel.providersOf(rel.name)) {
    if (p.rec === self || !versionHits(p.provides.version, rel)) continue;
    out.push(`${p.rec.name} ${p.rec.version} provides ${formatRelation(p.provides)}`);
  }
  return out;
}

/** Throw a ResolveError for the first selected package (by name) that conflicts with or breaks another. */
export function checkConflicts(sel: Selection, records: readonly PackageRecord[]): void {
  for (const rec of records) {
    const kinds: Array<[Relation[], string]> = [
      [rec.conflicts, 'conflicts with'],
      [rec.breaks, 'breaks'],
    ];
    for (const [rels, verb] of kinds) {
      for (const rel of rels) {
        const found = hits(sel, rec, rel);
        if (!found.length) continue;
        const chain = sel.chain(rec.name);
        throw new ResolveError(
          `${rec.name} ${verb} ${formatRelation(rel)}: ${found.join('; ')} (${rec.name} comes from ${chain.join(' -> ')})`,
          chain,
          'Remove one of the two from the request, or pin versions that fit together.',
        );
      }
    }
  }
}
