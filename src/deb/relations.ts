// Relation fields of Debian control data (Depends, Pre-Depends, Provides, Breaks, ...).
// A hand-written scanner rather than one big regex: a Packages index carries
// hundreds of thousands of relations, and precise errors need positions anyway.
import { UserError } from '../errors.js';
import type { Interner } from './intern.js';
import type { Clause, Relation, RelOp } from './types.js';

// `<` and `>` are dpkg's obsolete spellings of `<=` and `>=`; dpkg still accepts them.
const OPS: Record<string, RelOp> = { '<<': '<<', '<=': '<=', '=': '=', '>=': '>=', '>>': '>>', '<': '<=', '>': '>=' };

const HINT = 'Relations look like "name[:arch] [(op version)]" separated by "," (and "|" for alternatives); fix the index or the template that carries it.';

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

// Package names: policy allows [a-z0-9+.-]; upper case and `_` are tolerated because old archives have them.
function isNameChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 46 || c === 43 || (c >= 65 && c <= 90) || c === 95;
}

// Architecture qualifiers: any, native, amd64, arm64, x32, ...
function isArchChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45;
}

// `<`, `=`, `>`.
function isOpChar(c: number): boolean {
  return c === 60 || c === 61 || c === 62;
}

function bad(field: string, value: string, at: number, why: string): UserError {
  // Show the clause (between separators) around the failure, and the whole value when short.
  let from = at;
  while (from > 0 && value[from - 1] !== ',' && value[from - 1] !== '|') from--;
  let to = at;
  while (to < value.length && value[to] !== ',' && value[to] !== '|') to++;
  const piece = value.slice(from, to).replace(/\s+/g, ' ').trim();
  const whole = value.replace(/\s+/g, ' ').trim();
  const context = whole.length <= 200 && whole !== piece ? ` (field value: "${whole}")` : '';
  return new UserError(`${field}: ${why} in "${piece}"${context}`, HINT);
}

function skipSpace(s: string, i: number): number {
  while (i < s.length && isSpace(s.charCodeAt(i))) i++;
  return i;
}

// Where the last parseOne stopped; a module variable rather than a tuple keeps the hot path allocation-free.
let stop = 0;

/** Parse one alternative from `i`, e.g. `libc6:any (>= 2.36) [amd64] <!nocheck>`; arch lists and profiles are dropped. */
function parseOne(s: string, i: number, field: string, pool: Interner | undefined): Relation {
  const n = s.length;
  i = skipSpace(s, i);
  const nameStart = i;
  while (i < n && isNameChar(s.charCodeAt(i))) i++;
  if (i === nameStart) {
    const c = s.charCodeAt(i);
    throw bad(
      field,
      s,
      i,
      i >= n || c === 44 || c === 124 ? 'a missing package name (an empty clause or alternative)' : `"${s[i]}" where a package name should start`,
    );
  }
  const name = s.slice(nameStart, i);
  let archQualifier: string | undefined;
  let op: RelOp | undefined;
  let version: string | undefined;
  if (s.charCodeAt(i) === 58 /* : */) {
    const q = ++i;
    while (i < n && isArchChar(s.charCodeAt(i))) i++;
    if (i === q) throw bad(field, s, i, 'an empty architecture qualifier after ":"');
    archQualifier = s.slice(q, i);
  }
  // The text up to here (or to the constraint's ")") alone decides the relation: the key it is shared by.
  let keyEnd = i;
  i = skipSpace(s, i);
  if (s.charCodeAt(i) === 40 /* ( */) {
    i = skipSpace(s, i + 1);
    const o = i;
    while (i < n && isOpChar(s.charCodeAt(i))) i++;
    op = OPS[s.slice(o, i)];
    if (!op) throw bad(field, s, i, 'a missing or unknown version operator (use <<, <=, =, >= or >>)');
    i = skipSpace(s, i);
    const v = i;
    for (let c = s.charCodeAt(i); i < n && !isSpace(c) && c !== 41 && c !== 40 && c !== 44 && c !== 124; c = s.charCodeAt(++i));
    if (i === v) throw bad(field, s, i, 'a missing version after the operator');
    version = s.slice(v, i);
    i = skipSpace(s, i);
    if (s.charCodeAt(i) !== 41 /* ) */) throw bad(field, s, i, 'a version constraint without its closing ")"');
    keyEnd = i + 1;
    i = skipSpace(s, i + 1);
  }
  // Architecture restrictions and build profiles belong to source packages; tolerate and drop them.
  if (s.charCodeAt(i) === 91 /* [ */) {
    const close = s.indexOf(']', i);
    if (close < 0) throw bad(field, s, i, 'an architecture list without its closing "]"');
    i = skipSpace(s, close + 1);
  }
  while (s.charCodeAt(i) === 60 /* < */) {
    const close = s.indexOf('>', i);
    if (close < 0) throw bad(field, s, i, 'a build profile without its closing ">"');
    i = skipSpace(s, close + 1);
  }
  const c = s.charCodeAt(i);
  if (i < n && c !== 44 && c !== 124) throw bad(field, s, i, `unexpected text "${s.slice(i).split(/[,|]/)[0]!.trim()}"`);
  stop = i;
  if (pool) return pool.relation(s.slice(nameStart, keyEnd), name, archQualifier, op, version);
  // One literal per shape: adding properties later would give each object an extra backing store.
  if (archQualifier === undefined) return op ? { name, op, version } : { name };
  return op ? { name, archQualifier, op, version } : { name, archQualifier };
}

/**
 * Parse a Depends-style field: `,` separates clauses, `|` separates alternatives.
 * With `pool`, equal relations and one-alternative clauses are shared objects.
 */
export function parseRelations(value: string, field = 'Depends', pool?: Interner): Clause[] {
  const n = value.length;
  if (skipSpace(value, 0) === n) return [];
  const clauses: Clause[] = [];
  let i = 0;
  for (;;) {
    const first = parseOne(value, i, field, pool);
    i = stop;
    if (value.charCodeAt(i) !== 124 /* | */) {
      // Most clauses have one alternative; a literal avoids the spare capacity push() reserves.
      clauses.push(pool ? pool.single(first) : [first]);
    } else {
      const clause: Clause = [first];
      while (value.charCodeAt(i) === 124) {
        clause.push(parseOne(value, i + 1, field, pool));
        i = stop;
      }
      clauses.push(clause.slice());
    }
    if (i >= n) break;
    i++; // past the comma
  }
  // A copy of exactly its length: push() leaves room for 17 entries, which the records would keep.
  return clauses.slice();
}

/** Parse a plain relation list (Provides, Conflicts, Breaks), where alternatives are not allowed; `pool` as for parseRelations. */
export function parseRelationList(value: string, field = 'Provides', pool?: Interner): Relation[] {
  const n = value.length;
  if (skipSpace(value, 0) === n) return [];
  const out: Relation[] = [];
  let i = 0;
  for (;;) {
    out.push(parseOne(value, i, field, pool));
    i = stop;
    if (i >= n) break;
    if (value.charCodeAt(i) === 124) throw bad(field, value, i, `alternatives ("|"), which ${field} does not allow`);
    i++;
  }
  return out.slice();
}

/** Render a relation in dpkg's spelling: `name:any (>= 1.0)`. */
export function formatRelation(r: Relation): string {
  const name = r.archQualifier ? `${r.name}:${r.archQualifier}` : r.name;
  return r.op && r.version !== undefined ? `${name} (${r.op} ${r.version})` : name;
}

/** Render a clause with its alternatives joined by ` | `. */
export function formatClause(c: Clause): string {
  return c.map(formatRelation).join(' | ');
}
