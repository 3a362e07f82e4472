// dpkg's version ordering: [epoch:]upstream[-revision], where `~` sorts before
// everything (even the end of the string) and letters sort before other symbols.
import type { RelOp } from './types.js';

export interface ParsedVersion {
  epoch: number;
  upstream: string;
  revision: string;
}

/** Split a version into epoch, upstream and revision, as dpkg does. */
export function parseVersion(v: string): ParsedVersion {
  const s = v.trim();
  const colon = s.indexOf(':');
  let epoch = 0;
  let rest = s;
  if (colon > 0 && /^\d+$/.test(s.slice(0, colon))) {
    epoch = Number(s.slice(0, colon));
    rest = s.slice(colon + 1);
  }
  const dash = rest.lastIndexOf('-');
  return dash >= 0 ? { epoch, upstream: rest.slice(0, dash), revision: rest.slice(dash + 1) } : { epoch, upstream: rest, revision: '' };
}

function order(c: number): number {
  // 0 stands for "end of string" (code point absent).
  if (c >= 48 && c <= 57) return 0; // digits never reach here
  if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122)) return c;
  if (c === 126) return -1; // '~'
  if (c === 0) return 0;
  return c + 256;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** dpkg's verrevcmp on one part (upstream or revision). */
function compareFragment(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    let firstDiff = 0;
    while ((i < a.length && !isDigit(a.charCodeAt(i))) || (j < b.length && !isDigit(b.charCodeAt(j)))) {
      const ac = i < a.length ? order(a.charCodeAt(i)) : 0;
      const bc = j < b.length ? order(b.charCodeAt(j)) : 0;
      if (ac !== bc) return ac - bc;
      i++;
      j++;
    }
    while (i < a.length && a.charCodeAt(i) === 48) i++;
    while (j < b.length && b.charCodeAt(j) === 48) j++;
    while (i < a.length && isDigit(a.charCodeAt(i)) && j < b.length && isDigit(b.charCodeAt(j))) {
      if (!firstDiff) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (i < a.length && isDigit(a.charCodeAt(i))) return 1;
    if (j < b.length && isDigit(b.charCodeAt(j))) return -1;
    if (firstDiff) return firstDiff;
  }
  return 0;
}

/** Negative, zero or positive as `a` sorts before, equal to or after `b`. */
export function compareVersions(a: string, b: string): number {
  if (a === b) return 0;
  const pa = parseVersion(a);
  const pb = parseVersion(b);
  if (pa.epoch !== pb.epoch) return pa.epoch - pb.epoch;
  const u = compareFragment(pa.upstream, pb.upstream);
  if (u !== 0) return u;
  return compareFragment(pa.revision, pb.revision);
}

/** Whether version `v` satisfies `op ref` (dpkg's relation semantics). */
export function satisfies(v: string, op: RelOp, ref: string): boolean {
  const c = compareVersions(v, ref);
  switch (op) {
    case '<<':
      return c < 0;
    case '<=':
      return c <= 0;
    case '=':
      return c === 0;
    case '>=':
      return c >= 0;
    case '>>':
      return c > 0;
  }
}

/** A reason a string is not a valid Debian version, or undefined. */
export function invalidVersionReason(v: string): string | undefined {
  if (v === '') return 'is empty';
  const p = parseVersion(v);
  if (!/^[0-9]/.test(p.upstream)) return 'must start with a digit';
  if (!/^[A-Za-z0-9.+~:-]*$/.test(p.upstream)) return 'has characters outside A-Za-z0-9.+~-:';
  if (p.revision && !/^[A-Za-z0-9.+~]+$/.test(p.revision)) return 'has a revision with characters outside A-Za-z0-9.+~';
  return undefined;
}
