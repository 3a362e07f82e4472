// The closure over Pre-Depends and Depends: a FIFO queue, so the same input
// always selects the same packages in the same order.
import { formatClause, formatRelation } from '../deb/relations.js';
import type { Clause, PackageRecord, Relation } from '../deb/types.js';
import { chooseFor, whyNot } from './candidates.js';
import { ResolveError } from './errors.js';
import type { PackageIndex } from './index.js';
import type { Selection } from './selection.js';
import type { ResolvedEdge } from './types.js';

const HINT = "Add a repository that carries it, relax the version in the template, or check the repositories' allowPackages.";

/** Chosen edges, one per (from, to); Pre-Depends wins over Depends. */
export class EdgeSet {
  private readonly kinds = new Map<string, ResolvedEdge>();

  /** Record that `from` needs `to`. */
  add(from: string, to: string, kind: ResolvedEdge['kind']): void {
    if (from === to) return;
    const key = `${from}\u0000${to}`;
    const had = this.kinds.get(key);
    if (!had || (kind === 'pre-depends' && had.kind === 'depends')) this.kinds.set(key, { from, to, kind });
  }

  /** The edges sorted by from, then to. */
  sorted(): ResolvedEdge[] {
    const key = (e: ResolvedEdge) => `${e.from}\u0000${e.to}`;
    return [...this.kinds.values()].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  }
}

function unresolvable(index: PackageIndex, sel: Selection, from: string, clause: Clause): ResolveError {
  const reasons = clause.map((rel) => ({ rel, why: whyNot(index, rel, sel.get(rel.name)) }));
  const chain = [...sel.chain(from), formatClause(clause)];
  const first = reasons[0];
  const why = reasons.length === 1 && first ? first.why : `nothing installable (${reasons.map((r) => `${formatRelation(r.rel)}: ${r.why}`).join('; ')})`;
  return new ResolveError(`${chain.join(' -> ')}: ${why}`, chain, HINT);
}

function firstOf(clause: Clause, pick: (rel: Relation) => PackageRecord | undefined): PackageRecord | undefined {
  for (const rel of clause) {
    const rec = pick(rel);
    if (rec) return rec;
  }
  return undefined;
}

/** Select `seeds` (already chosen records) and everything they need, in FIFO order. */
export function close(index: PackageIndex, sel: Selection, edges: EdgeSet, seeds: readonly PackageRecord[]): void {
  const queue: PackageRecord[] = [];
  for (const rec of seeds) if (sel.add(rec)) queue.push(rec);
  for (let head = 0; head < queue.length; head++) {
    const rec = queue[head]!;
    const clauses: Array<[Clause, ResolvedEdge['kind']]> = [
      ...rec.preDepends.map((c): [Clause, ResolvedEdge['kind']] => [c, 'pre-depends']),
      ...rec.depends.map((c): [Clause, ResolvedEdge['kind']] => [c, 'depends']),
    ];
    for (const [clause, kind] of clauses) {
      // Met by any alternative already selected? Otherwise the first alternative that can be installed.
      let target = firstOf(clause, (rel) => sel.satisfier(rel));
      if (!target) {
        target = firstOf(clause, (rel) => chooseFor(index, rel));
        if (!target) throw unresolvable(index, sel, rec.name, clause);
        if (sel.add(target, rec.name)) queue.push(target);
      }
      edges.add(rec.name, target.name, kind);
    }
  }
}
