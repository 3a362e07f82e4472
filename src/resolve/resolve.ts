// The resolver's entry point: choose what `apt-get install --no-install-recommends`
// would choose for a request, deterministically, without touching the system.
import { formatRelation } from '../deb/relations.js';
import type { PackageRecord, Relation } from '../deb/types.js';
import { chooseFor, provideSatisfies, whyNot } from './candidates.js';
import { close, EdgeSet } from './closure.js';
import { checkConflicts } from './conflicts.js';
import { ResolveError } from './errors.js';
import { PackageIndex, type RecordCatalog } from './index.js';
import { installOrder } from './order.js';
import { planRequests } from './request.js';
import { Selection } from './selection.js';
import type { Resolution, ResolveRequest } from './types.js';

export { ResolveError } from './errors.js';
export type { RepoInput, Resolution, ResolvedEdge, ResolveRequest } from './types.js';
export { RecordCatalog } from './index.js';

// A requested name: its real candidate, else its only provider (apt refuses to guess among several).
function requestedRecord(index: PackageIndex, sel: Selection, rel: Relation, warnings: string[]): PackageRecord {
  const already = sel.satisfier(rel);
  if (already) return already;
  const text = formatRelation(rel);
  if (index.candidate(rel.name)) {
    const rec = chooseFor(index, rel);
    if (rec) return rec;
    throw new ResolveError(`requested ${text}: ${whyNot(index, rel, sel.get(rel.name))}`, [text]);
  }
  const providers = index.providers(rel.name).filter((p) => provideSatisfies(p, rel, index.arch));
  const [only] = providers;
  if (providers.length === 1 && only) {
    warnings.push(`${text} is a virtual package; selecting its only provider ${only.rec.name}`);
    return only.rec;
  }
  if (!only) throw new ResolveError(`requested ${text}: ${whyNot(index, rel, undefined)}`, [text]);
  const names = providers.map((p) => p.rec.name).join(', ');
  throw new ResolveError(`requested ${text} is a virtual package provided by ${names}`, [text], 'Request one of the providers by name.');
}

/**
 * Resolve a request into the package set, its base set, install order and chosen edges.
 * `catalog`: `req.repos` already indexed for `req.arch`, shared by several resolves over them (built here when absent).
 */
export function resolve(req: ResolveRequest, catalog?: RecordCatalog): Resolution {
  const index = new PackageIndex(req.repos, req.arch, catalog);
  const rels = planRequests(index, req.packages);
  const sel = new Selection(req.arch);
  const edges = new EdgeSet();
  const warnings: string[] = [];

  // The base set first, on its own, so it is the same whatever the request adds.
  if (req.base !== 'none') {
    const seeds = index.baseNames(req.base).map((name) => index.candidate(name)!);
    close(index, sel, edges, seeds);
  }
  const base = sel.records();

  // apt marks every requested package before it looks at dependencies.
  const chosen: PackageRecord[] = [];
  for (const rel of rels) {
    const rec = requestedRecord(index, sel, rel, warnings);
    if (!chosen.includes(rec)) chosen.push(rec);
  }
  close(index, sel, edges, chosen);

  const packages = sel.records();
  checkConflicts(sel, packages);
  const edgeList = edges.sorted();
  const order = installOrder(
    packages.map((p) => p.name),
    edgeList,
  );
  return {
    base,
    packages,
    requested: chosen.map((r) => r.name),
    installOrder: order.order,
    edges: edgeList,
    warnings: [...warnings, ...order.warnings],
  };
}
