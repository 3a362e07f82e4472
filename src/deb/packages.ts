// Packages indexes (deb822 stanzas) into PackageRecords. An index is ~100 MB of
// text, so this walks lines with indexOf and touches only the fields we keep.
import { UserError } from '../errors.js';
import { parseRelationList, parseRelations } from './relations.js';
import type { PackageRecord } from './types.js';
import { invalidVersionReason } from './version.js';

// The fields we keep, by slot, in their usual spelling.
const F = {
  Package: 0,
  Version: 1,
  Architecture: 2,
  'Multi-Arch': 3,
  Essential: 4,
  Priority: 5,
  Source: 6,
  Section: 7,
  Depends: 8,
  'Pre-Depends': 9,
  Provides: 10,
  Conflicts: 11,
  Breaks: 12,
  Filename: 13,
  Size: 14,
  SHA256: 15,
} as const;
const FIELDS = Object.keys(F);
const REQUIRED = [F.Package, F.Version, F.Architecture, F.Filename, F.Size, F.SHA256];
const LOWER = FIELDS.map((f) => f.toLowerCase());

// Candidate slots by (lower-case first letter, name length): field names are matched in
// place, case-insensitively, without slicing a string for each of the ~1.1 M lines.
const CANDIDATES: number[][] = [];
for (const [slot, f] of LOWER.entries()) {
  const key = f.charCodeAt(0) * 32 + f.length;
  CANDIDATES[key] = [...(CANDIDATES[key] ?? []), slot];
}

const HINT = 'The Packages index is damaged or is not a Packages index; refresh the repository metadata (or fix the local repository that served it).';

/** The slot of the field named text[from, to), or -1 for a field we do not keep. */
function slotOf(text: string, from: number, to: number): number {
  const len = to - from;
  if (len >= 32) return -1;
  const list = CANDIDATES[(text.charCodeAt(from) | 32) * 32 + len];
  if (!list) return -1;
  for (const slot of list) {
    const want = LOWER[slot]!;
    let k = 0;
    for (; k < len; k++) {
      const c = text.charCodeAt(from + k);
      const w = want.charCodeAt(k);
      if (c !== w && !(w >= 97 && w <= 122 && (c | 32) === w)) break;
    }
    if (k === len) return slot;
  }
  return -1;
}

function isBlankChar(c: number): boolean {
  return c === 32 || c === 9;
}

function where(repository: string, line: number): string {
  return `Packages index of repository "${repository}", line ${line}`;
}

/** Parse a whole Packages index; `repository` is the id stored in each record and named in errors. */
export function parsePackages(text: string, repository: string): PackageRecord[] {
  const records: PackageRecord[] = [];
  const values: (string | undefined)[] = new Array(FIELDS.length).fill(undefined);
  const lines: number[] = new Array(FIELDS.length).fill(0);
  let stanzaLine = 0; // 0: between stanzas
  let slot = -1; // slot of the field that continuation lines extend, -1 for a field we skip
  let lineNo = 0;
  const n = text.length;
  // A byte-order mark is not part of the first field name.
  let pos = text.charCodeAt(0) === 0xfeff ? 1 : 0;

  while (pos < n) {
    let end = text.indexOf('\n', pos);
    if (end < 0) end = n;
    const next = end + 1;
    lineNo++;
    if (end > pos && text.charCodeAt(end - 1) === 13) end--; // CRLF
    const c = pos < end ? text.charCodeAt(pos) : -1;
    if (c === 32 || c === 9) {
      let a = pos + 1;
      while (a < end && isBlankChar(text.charCodeAt(a))) a++;
      if (a < end) {
        if (!stanzaLine) throw new UserError(`${where(repository, lineNo)}: a continuation line (starting with a space) outside any stanza`, HINT);
        // Only fields we keep pay for a copy; Description and Tag lines are just skipped.
        if (slot >= 0) values[slot] += `\n${text.slice(a, end).trimEnd()}`;
        pos = next;
        continue;
      }
      // A whitespace-only line separates stanzas like an empty one, as deb822 parsers may accept.
    } else if (c !== -1) {
      const colon = text.indexOf(':', pos);
      if (colon < 0 || colon >= end) {
        throw new UserError(`${where(repository, lineNo)}: "${text.slice(pos, Math.min(end, pos + 80))}" is neither "Field: value" nor a continuation line`, HINT);
      }
      if (!stanzaLine) stanzaLine = lineNo;
      slot = slotOf(text, pos, colon);
      if (slot >= 0) {
        if (values[slot] !== undefined) {
          throw new UserError(`${where(repository, lineNo)}: field ${FIELDS[slot]} appears twice in the stanza that starts on line ${stanzaLine}`, HINT);
        }
        // Trim by hand: one slice instead of a slice and a trimmed copy.
        let a = colon + 1;
        let b = end;
        while (a < b && isBlankChar(text.charCodeAt(a))) a++;
        while (b > a && isBlankChar(text.charCodeAt(b - 1))) b--;
        values[slot] = text.slice(a, b);
        lines[slot] = lineNo;
      }
      pos = next;
      continue;
    }
    if (stanzaLine) {
      records.push(toRecord(values, lines, stanzaLine, repository));
      values.fill(undefined);
      stanzaLine = 0;
      slot = -1;
    }
    pos = next;
  }
  if (stanzaLine) records.push(toRecord(values, lines, stanzaLine, repository));
  return records;
}

// 64 hex digits, returned in lower case; undefined when it is not a SHA-256.
function sha256Of(s: string): string | undefined {
  if (s.length !== 64) return undefined;
  let upper = false;
  for (let i = 0; i < 64; i++) {
    const c = s.charCodeAt(i);
    if ((c >= 48 && c <= 57) || (c >= 97 && c <= 102)) continue;
    if (c >= 65 && c <= 70) upper = true;
    else return undefined;
  }
  return upper ? s.toLowerCase() : s;
}

// A byte count, or -1; digits only (Number() would accept " 1e3" or "0x10").
function sizeOf(s: string): number {
  if (s.length === 0 || s.length > 15) return -1;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

// Relation fields are parsed here so a bad one is reported with its line and package.
function relations<T>(v: (string | undefined)[], lines: number[], slot: number, name: string, repository: string, parse: (value: string, field: string) => T[]): T[] {
  const value = v[slot];
  if (value === undefined) return [];
  try {
    return parse(value, FIELDS[slot]!);
  } catch (err) {
    if (err instanceof UserError) throw new UserError(`${where(repository, lines[slot]!)} (package ${name}): ${err.message}`, HINT);
    throw err;
  }
}

function toRecord(v: (string | undefined)[], lines: number[], stanzaLine: number, repository: string): PackageRecord {
  const name = v[F.Package];
  for (const s of REQUIRED) {
    if (!v[s]) {
      const what = name ? `package ${name}` : 'a stanza without a Package field';
      throw new UserError(`${where(repository, stanzaLine)}: ${what} has no ${FIELDS[s]} field (or an empty one)`, HINT);
    }
  }
  const version = v[F.Version]!;
  const badVersion = invalidVersionReason(version);
  if (badVersion) throw new UserError(`${where(repository, lines[F.Version]!)} (package ${name}): Version "${version}" ${badVersion}`, HINT);
  const size = sizeOf(v[F.Size]!);
  if (size < 0) throw new UserError(`${where(repository, lines[F.Size]!)} (package ${name}): Size "${v[F.Size]}" is not a whole number of bytes`, HINT);
  const sha256 = sha256Of(v[F.SHA256]!);
  if (!sha256) throw new UserError(`${where(repository, lines[F.SHA256]!)} (package ${name}): SHA256 "${v[F.SHA256]}" is not 64 hexadecimal digits`, HINT);

  const record: PackageRecord = {
    name: name!,
    version,
    architecture: v[F.Architecture]!,
    essential: v[F.Essential] === 'yes',
    depends: relations(v, lines, F.Depends, name!, repository, parseRelations),
    preDepends: relations(v, lines, F['Pre-Depends'], name!, repository, parseRelations),
    provides: relations(v, lines, F.Provides, name!, repository, parseRelationList),
    conflicts: relations(v, lines, F.Conflicts, name!, repository, parseRelationList),
    breaks: relations(v, lines, F.Breaks, name!, repository, parseRelationList),
    filename: v[F.Filename]!,
    size,
    sha256,
    repository,
  };
  if (v[F['Multi-Arch']]) record.multiArch = v[F['Multi-Arch']];
  if (v[F.Priority]) record.priority = v[F.Priority];
  if (v[F.Section]) record.section = v[F.Section];
  const source = v[F.Source];
  if (source) {
    // `Source: name (version)` when the binary's version differs from the source's.
    const paren = source.indexOf('(');
    record.source = paren < 0 ? source : source.slice(0, paren).trim();
  }
  return record;
}
