// Package requests from templates: `name`, `name=version` or `name (op version)`.
// Versioned requests pin their name before anything is resolved, as apt does.
import { suggest } from '../suggest.js';
import { formatRelation } from '../deb/relations.js';
import type { Relation, RelOp } from '../deb/types.js';
import { satisfies } from '../deb/version.js';
import { ResolveError } from './errors.js';
import type { PackageIndex } from './index.js';

const REQUEST = /^([A-Za-z0-9][A-Za-z0-9+._-]*)(?::([a-z0-9-]+))?\s*(?:=\s*([^\s()]+)|\(\s*(<<|<=|=|>=|>>)\s*([^\s()]+)\s*\))?$/;

/** Parse one request into a relation. */
export function parseRequest(text: string): Relation {
  const m = REQUEST.exec(text.trim());
  if (!m) throw new ResolveError(`bad package request "${text}"`, [text], 'Write a request as "name", "name=version" or "name (>= version)".');
  const [, name = '', archQualifier, exact, op, version] = m;
  const rel: Relation = { name };
  if (archQualifier) rel.archQualifier = archQualifier;
  if (exact !== undefined) Object.assign(rel, { op: '=' as RelOp, version: exact });
  else if (op !== undefined) Object.assign(rel, { op: op as RelOp, version });
  return rel;
}

// Only names of similar length can be close; skipping the rest keeps a typo in a 65,000-name index cheap.
function closeName(index: PackageIndex, name: string): string | undefined {
  const slack = Math.max(2, Math.floor(name.length / 3));
  return suggest(
    name,
    index.names().filter((n) => Math.abs(n.length - name.length) <= slack),
  );
}

function unknown(index: PackageIndex, text: string, name: string): ResolveError {
  const why = index.whyUnusable(name);
  if (why)
    return new ResolveError(
      `requested package ${name} has no candidate: ${why}`,
      [text],
      'Add a repository that carries it for this architecture, or extend allowPackages.',
    );
  const near = closeName(index, name);
  return new ResolveError(
    `unknown package ${name} requested`,
    [text],
    near ? `Did you mean ${near}?` : 'Check the name against the repositories of the template.',
  );
}

/** Parse the requests, reject unknown names and pin versioned requests to a matching record. */
export function planRequests(index: PackageIndex, texts: readonly string[]): Relation[] {
  const pinnedBy = new Map<string, string>();
  return texts.map((text) => {
    const rel = parseRequest(text);
    const versions = index.versions(rel.name);
    if (!versions.length) {
      if (!index.providers(rel.name).length) throw unknown(index, text, rel.name);
      return rel;
    }
    if (!rel.op || rel.version === undefined) return rel;
    const { op, version } = rel;
    const current = index.candidate(rel.name);
    if (current && satisfies(current.version, op, version)) return rel;
    const earlier = pinnedBy.get(rel.name);
    if (earlier) throw new ResolveError(`requests ${earlier} and ${text} contradict each other`, [text], 'Request one version of each package.');
    const match = versions.find((r) => satisfies(r.version, op, version));
    if (!match) {
      const available = [...new Set(versions.map((r) => r.version))].join(', ');
      throw new ResolveError(
        `requested ${formatRelation(rel)}: no version satisfies (available: ${available})`,
        [text],
        'Change the requested version or add a repository that carries it.',
      );
    }
    index.pin(match);
    pinnedBy.set(rel.name, text);
    return rel;
  });
}
