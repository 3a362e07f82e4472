// Packages indexes (deb822 stanzas) into PackageRecords. An index is ~100 MB of
// text that arrives in chunks (from a decompressor), so the parser takes bytes
// as they come, line by line with indexOf, and touches only the fields we keep:
// memory is the records, never the whole text as one string.
import { UserError } from '../errors.js';
import { escapeInline } from '../text/untrusted.js';
import { Interner } from './intern.js';
import { parseRelationList, parseRelations } from './relations.js';
import type { Clause, PackageRecord, Relation } from './types.js';

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
// dpkg's status database describes installed packages: no file to fetch.
const REQUIRED_INSTALLED = [F.Package, F.Version, F.Architecture];
const LOWER = FIELDS.map((f) => f.toLowerCase());

// Candidate slots by (lower-case first letter, name length): field names are matched in
// place, case-insensitively, without decoding a string for each of the ~1.1 M lines.
const CANDIDATES: number[][] = [];
for (const [slot, f] of LOWER.entries()) {
  const key = f.charCodeAt(0) * 32 + f.length;
  CANDIDATES[key] = [...(CANDIDATES[key] ?? []), slot];
}

const HINT = 'The Packages index is damaged or is not a Packages index; refresh the repository metadata (or fix the local repository that served it).';

/** A line longer than this is not a Packages index (Debian's longest, a Provides list, is a few tens of KiB). */
export const MAX_LINE_BYTES = 4 * 1024 * 1024;

// Most records have no relations of some kind: one shared empty list instead of millions.
const NONE: never[] = Object.freeze([]) as unknown as never[];

/** The slot of the field named buf[from, to), or -1 for a field we do not keep. */
function slotOf(buf: Buffer, from: number, to: number): number {
  const len = to - from;
  if (len >= 32) return -1;
  const list = CANDIDATES[((buf[from] ?? 0) | 32) * 32 + len];
  if (!list) return -1;
  for (const slot of list) {
    const want = LOWER[slot]!;
    let k = 0;
    for (; k < len; k++) {
      const c = buf[from + k]!;
      const w = want.charCodeAt(k);
      if (c !== w && !(w >= 97 && w <= 122 && (c | 32) === w)) break;
    }
    if (k === len) return slot;
  }
  return -1;
}

function isBlankChar(c: number | undefined): boolean {
  return c === 32 || c === 9;
}

function where(repository: string, line: number): string {
  return `Packages index of repository "${repository}", line ${line}`;
}

/** A stanza left out because `refuse` found a problem with it. */
export interface RefusedStanza {
  /** Line where the stanza starts. */
  line: number;
  /** As written (untrusted: escape before printing). */
  name: string;
  problem: string;
}

export interface ParserOptions {
  /** Why a well-formed record must not be used (e.g. Debian policy), or undefined to keep it. */
  refuse?: (r: PackageRecord) => string | undefined;
  /** Stanzas of dpkg's status database: Filename, Size and SHA256 are absent (filename and sha256 empty, size 0). */
  installed?: boolean;
}

/**
 * A Packages index read incrementally: push() its bytes as they arrive, end()
 * for the records. `repository` is the id stored in each record and named in errors.
 */
export class PackagesParser {
  /** Stanzas `refuse` left out, in index order. */
  readonly refused: RefusedStanza[] = [];
  private readonly records: PackageRecord[] = [];
  private readonly values: (string | undefined)[] = new Array(FIELDS.length).fill(undefined);
  private readonly lines: number[] = new Array(FIELDS.length).fill(0);
  private stanzaLine = 0; // 0: between stanzas
  private slot = -1; // slot of the field that continuation lines extend, -1 for a field we skip
  private lineNo = 0;
  private started = false;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  // Shared values of this index (relations, names, versions, sections): the records are about half the size.
  private readonly pool = new Interner();
  // Shared values of the relation fields parsed later (IndexRecord): kept as long as the records are.
  private readonly lazyPool = new Interner();

  constructor(
    private readonly repository: string,
    private readonly opts: ParserOptions = {},
  ) {}

  /** Parse every complete line of `chunk` (with what is left of the previous one). */
  push(chunk: Buffer): void {
    const last = chunk.lastIndexOf(10);
    if (last < 0) {
      this.keep(chunk);
      return;
    }
    const head = chunk.subarray(0, last + 1);
    const lines = this.pending.length ? Buffer.concat([...this.pending, head]) : head;
    this.pending = [];
    this.pendingBytes = 0;
    this.parseLines(lines, lines.length);
    if (last + 1 < chunk.length) this.keep(chunk.subarray(last + 1));
  }

  /** The records of every stanza, after the last line (which may lack its newline). */
  end(): PackageRecord[] {
    if (this.pendingBytes) {
      const rest = Buffer.concat(this.pending);
      this.pending = [];
      this.pendingBytes = 0;
      this.parseLines(rest, rest.length);
    }
    this.flush();
    this.pool.clear();
    return this.records;
  }

  private keep(part: Buffer): void {
    this.pendingBytes += part.length;
    if (this.pendingBytes > MAX_LINE_BYTES) {
      throw new UserError(`${where(this.repository, this.lineNo + 1)}: a line longer than ${MAX_LINE_BYTES} bytes; this is not a Packages index`, HINT);
    }
    // A copy: the chunk it came from may be large, and only this tail is kept.
    this.pending.push(Buffer.from(part));
  }

  private flush(): void {
    if (!this.stanzaLine) return;
    const record = toRecord(this.values, this.lines, this.stanzaLine, this.repository, this.opts.installed === true, this.pool, this.lazyPool);
    const problem = this.opts.refuse?.(record);
    if (problem) this.refused.push({ line: this.stanzaLine, name: record.name, problem });
    else this.records.push(record);
    this.values.fill(undefined);
    this.stanzaLine = 0;
    this.slot = -1;
  }

  /** Parse buf[0, n): whole lines, the last one possibly without its newline. */
  private parseLines(buf: Buffer, n: number): void {
    const { values, lines } = this;
    let pos = 0;
    // A byte-order mark is not part of the first field name.
    if (!this.started) {
      this.started = true;
      if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) pos = 3;
    }
    while (pos < n) {
      let end = buf.indexOf(10, pos);
      if (end < 0 || end > n) end = n;
      const next = end + 1;
      const lineNo = ++this.lineNo;
      if (end > pos && buf[end - 1] === 13) end--; // CRLF
      const c = pos < end ? buf[pos]! : -1;
      if (c === 32 || c === 9) {
        let a = pos + 1;
        while (a < end && isBlankChar(buf[a])) a++;
        if (a < end) {
          if (!this.stanzaLine) throw new UserError(`${where(this.repository, lineNo)}: a continuation line (starting with a space) outside any stanza`, HINT);
          // Only fields we keep pay for a string; Description and Tag lines are just skipped.
          if (this.slot >= 0) values[this.slot] += `\n${buf.toString('utf8', a, end).trimEnd()}`;
          pos = next;
          continue;
        }
        // A whitespace-only line separates stanzas like an empty one, as deb822 parsers may accept.
      } else if (c !== -1) {
        const colon = buf.indexOf(58, pos);
        if (colon < 0 || colon >= end) {
          const shown = escapeInline(buf.toString('utf8', pos, Math.min(end, pos + 80)));
          throw new UserError(`${where(this.repository, lineNo)}: "${shown}" is neither "Field: value" nor a continuation line`, HINT);
        }
        if (!this.stanzaLine) this.stanzaLine = lineNo;
        const slot = slotOf(buf, pos, colon);
        this.slot = slot;
        if (slot >= 0) {
          if (values[slot] !== undefined) {
            throw new UserError(
              `${where(this.repository, lineNo)}: field ${FIELDS[slot]} appears twice in the stanza that starts on line ${this.stanzaLine}`,
              HINT,
            );
          }
          // Trim by hand: one decode of exactly the value.
          let a = colon + 1;
          let b = end;
          while (a < b && isBlankChar(buf[a])) a++;
          while (b > a && isBlankChar(buf[b - 1])) b--;
          values[slot] = buf.toString('utf8', a, b);
          lines[slot] = lineNo;
        }
        pos = next;
        continue;
      }
      this.flush();
      pos = next;
    }
  }
}

/** Parse a whole Packages index; `repository` is the id stored in each record and named in errors. */
export function parsePackages(text: string, repository: string): PackageRecord[] {
  const parser = new PackagesParser(repository);
  parser.push(Buffer.from(text, 'utf8'));
  return parser.end();
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

/** The relation fields whose parse waits until a record's field is first read. */
const LAZY: readonly number[] = [F.Depends, F['Pre-Depends'], F.Conflicts, F.Breaks];

/** A record without any of them (never changed: there is nothing to parse). */
const NO_RELATIONS = { texts: [undefined, undefined, undefined, undefined], lines: [0, 0, 0, 0], pool: new Interner() };

/** A bad relation field is reported with its line and package, whenever it is parsed. */
function parseField<T>(
  value: string,
  field: string,
  at: { line: number; name: string; repository: string },
  parse: (value: string, field: string, pool: Interner) => T[],
  pool: Interner,
): T[] {
  try {
    return parse(value, field, pool);
  } catch (err) {
    if (err instanceof UserError)
      throw new UserError(`${where(at.repository, at.line)} (package ${escapeInline(at.name)}): ${escapeInline(err.message)}`, HINT);
    throw err;
  }
}

/**
 * One stanza's record. Depends, Pre-Depends, Conflicts and Breaks are kept as
 * text and parsed when first read: a resolve reads them for the few hundred
 * records it reaches, not the ~65,000 of Debian's main index (about half of the
 * parse). A bad field is reported then, with its line and package. Provides
 * is parsed at once: the catalogue indexes every record by what it provides.
 */
class IndexRecord implements PackageRecord {
  multiArch?: string;
  priority?: string;
  source?: string;
  section?: string;
  // Per relation field: its text and line, until parsed; then its relations.
  private parsedDepends: Clause[] | undefined;
  private parsedPreDepends: Clause[] | undefined;
  private parsedConflicts: Relation[] | undefined;
  private parsedBreaks: Relation[] | undefined;
  private readonly relationTexts: (string | undefined)[];
  private readonly relationLines: number[];
  private readonly relationPool: Interner;

  constructor(
    readonly name: string,
    readonly version: string,
    readonly architecture: string,
    readonly essential: boolean,
    readonly provides: Relation[],
    readonly filename: string,
    readonly size: number,
    readonly sha256: string,
    readonly repository: string,
    lazy: { texts: (string | undefined)[]; lines: number[]; pool: Interner },
  ) {
    this.relationTexts = lazy.texts;
    this.relationLines = lazy.lines;
    this.relationPool = lazy.pool;
  }

  get depends(): Clause[] {
    this.parsedDepends ??= this.parseRelationField(LAZY.indexOf(F.Depends), parseRelations);
    return this.parsedDepends;
  }

  get preDepends(): Clause[] {
    this.parsedPreDepends ??= this.parseRelationField(LAZY.indexOf(F['Pre-Depends']), parseRelations);
    return this.parsedPreDepends;
  }

  get conflicts(): Relation[] {
    this.parsedConflicts ??= this.parseRelationField(LAZY.indexOf(F.Conflicts), parseRelationList);
    return this.parsedConflicts;
  }

  get breaks(): Relation[] {
    this.parsedBreaks ??= this.parseRelationField(LAZY.indexOf(F.Breaks), parseRelationList);
    return this.parsedBreaks;
  }

  /** The field LAZY[i], parsed; its text is dropped once it is. */
  private parseRelationField<T>(i: number, parse: (value: string, field: string, pool: Interner) => T[]): T[] {
    const text = this.relationTexts[i];
    if (text === undefined) return NONE;
    const parsed = parseField(
      text,
      FIELDS[LAZY[i]!]!,
      { line: this.relationLines[i]!, name: this.name, repository: this.repository },
      parse,
      this.relationPool,
    );
    this.relationTexts[i] = undefined;
    return parsed;
  }

  /** The record as a plain object with every field parsed (what JSON and test comparisons see). */
  toJSON(): PackageRecord {
    const { multiArch, priority, source, section } = this;
    return {
      name: this.name,
      version: this.version,
      architecture: this.architecture,
      ...(multiArch !== undefined ? { multiArch } : {}),
      essential: this.essential,
      ...(priority !== undefined ? { priority } : {}),
      ...(source !== undefined ? { source } : {}),
      ...(section !== undefined ? { section } : {}),
      depends: this.depends,
      preDepends: this.preDepends,
      provides: this.provides,
      conflicts: this.conflicts,
      breaks: this.breaks,
      filename: this.filename,
      size: this.size,
      sha256: this.sha256,
      repository: this.repository,
    };
  }
}

function toRecord(
  v: (string | undefined)[],
  lines: number[],
  stanzaLine: number,
  repository: string,
  installed: boolean,
  pool: Interner,
  lazyPool: Interner,
): PackageRecord {
  const name = v[F.Package];
  for (const s of installed ? REQUIRED_INSTALLED : REQUIRED) {
    if (!v[s]) {
      const what = name ? `package ${escapeInline(name)}` : 'a stanza without a Package field';
      throw new UserError(`${where(repository, stanzaLine)}: ${what} has no ${FIELDS[s]} field (or an empty one)`, HINT);
    }
  }
  const version = pool.text(v[F.Version]!, true);
  if (installed) v[F.Filename] ??= '';
  const size = installed && v[F.Size] === undefined ? 0 : sizeOf(v[F.Size]!);
  if (size < 0)
    throw new UserError(
      `${where(repository, lines[F.Size]!)} (package ${escapeInline(name!)}): Size "${escapeInline(v[F.Size]!)}" is not a whole number of bytes`,
      HINT,
    );
  const sha256 = installed && v[F.SHA256] === undefined ? '' : sha256Of(v[F.SHA256]!);
  if (sha256 === undefined)
    throw new UserError(
      `${where(repository, lines[F.SHA256]!)} (package ${escapeInline(name!)}): SHA256 "${escapeInline(v[F.SHA256]!)}" is not 64 hexadecimal digits`,
      HINT,
    );

  const texts = LAZY.map((slot) => v[slot]);
  const provides = v[F.Provides];
  const record = new IndexRecord(
    // Shared with the relations that name it.
    pool.text(name!, true),
    version,
    pool.text(v[F.Architecture]!, true),
    v[F.Essential] === 'yes',
    provides === undefined ? NONE : parseField(provides, FIELDS[F.Provides]!, { line: lines[F.Provides]!, name: name!, repository }, parseRelationList, pool),
    v[F.Filename]!,
    size,
    sha256,
    repository,
    texts.some((t) => t !== undefined) ? { texts, lines: LAZY.map((slot) => lines[slot]!), pool: lazyPool } : NO_RELATIONS,
  );
  if (v[F['Multi-Arch']]) record.multiArch = pool.text(v[F['Multi-Arch']]!, true);
  if (v[F.Priority]) record.priority = pool.text(v[F.Priority]!, true);
  if (v[F.Section]) record.section = pool.text(v[F.Section]!, true);
  const source = v[F.Source];
  if (source) {
    // `Source: name (version)` when the binary's version differs from the source's.
    const paren = source.indexOf('(');
    record.source = pool.text(paren < 0 ? source : source.slice(0, paren).trim());
  }
  return record;
}
