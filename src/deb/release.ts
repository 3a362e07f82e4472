// Release files: the signed table of contents of a Debian suite. The caller
// verifies the signature (gpgv) and hands over the signed text only.
import { UserError } from '../errors.js';

export interface ReleaseInfo {
  /** Every field as written (multi-line values keep their lines, without the leading space). */
  fields: Record<string, string>;
  origin?: string;
  label?: string;
  suite?: string;
  codename?: string;
  date?: Date;
  validUntil?: Date;
  architectures: string[];
  components: string[];
  /** The suite serves indexes under by-hash/SHA256/<hash> too, so a mirror update cannot tear them. */
  acquireByHash: boolean;
  /** Index path relative to the suite directory (`main/binary-amd64/Packages.xz`) to its size and hash. */
  sha256: Map<string, { size: number; sha256: string }>;
}

const HINT = 'The Release file is damaged or is not a Release file; refresh the repository metadata, or check the mirror URL and suite.';
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
// RFC 2822 as apt writes and reads it: optional weekday, 1-2 digit day, seconds optional, a zone name or offset.
const DATE = /^(?:[A-Za-z]{3},\s*)?(\d{1,2})\s+([A-Za-z]{3})\s+(\d{4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s+(UTC|GMT|UT|Z|[+-]\d{4})$/;

/** Parse an RFC 2822 date as used in Release files; undefined when it is not one. */
export function parseReleaseDate(text: string): Date | undefined {
  const m = DATE.exec(text.trim());
  if (!m) return undefined;
  const [, day, mon, year, hh, mm, ss, zone] = m;
  const month = MONTHS.indexOf(mon!.toLowerCase());
  if (month < 0) return undefined;
  const parts = [Number(year), month, Number(day), Number(hh), Number(mm), Number(ss ?? 0)] as const;
  const ms = Date.UTC(...parts);
  const check = new Date(ms);
  // Date.UTC rolls 31 Feb over into March; a real date must come back unchanged.
  if (check.getUTCDate() !== parts[2] || check.getUTCMonth() !== month || parts[3] > 23 || parts[4] > 59 || parts[5] > 60) return undefined;
  let offset = 0;
  if (zone!.startsWith('+') || zone!.startsWith('-')) {
    const minutes = Number(zone!.slice(1, 3)) * 60 + Number(zone!.slice(3, 5));
    offset = (zone!.startsWith('-') ? -1 : 1) * minutes * 60_000;
  }
  return new Date(ms - offset);
}

interface Field {
  /** The name as written. */
  name: string;
  /** Line number of the field name. */
  line: number;
  /** The value on the name's line, then one entry per continuation line (line + k). */
  lines: string[];
}

/** Split deb822 text into its fields, keyed by lower-case name (names are case-insensitive). */
function readFields(text: string, file: string): Map<string, Field> {
  const fields = new Map<string, Field>();
  let current: Field | undefined;
  let ended = false;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    const where = `${file}:${i + 1}`;
    if (line.trim() === '') {
      if (current !== undefined) ended = true;
      continue;
    }
    if (ended) throw new UserError(`${where}: a second stanza; a Release file has one`, HINT);
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (current === undefined) throw new UserError(`${where}: a continuation line (starting with a space) before any field`, HINT);
      current.lines.push(line.trim());
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw new UserError(`${where}: "${line.slice(0, 80)}" is neither "Field: value" nor a continuation line`, HINT);
    const name = line.slice(0, colon).trim();
    if (fields.has(name.toLowerCase())) throw new UserError(`${where}: field ${name} appears twice`, HINT);
    current = { name, line: i + 1, lines: [line.slice(colon + 1).trim()] };
    fields.set(name.toLowerCase(), current);
  }
  return fields;
}

/** Parse a Release file (its signed text); `file` names it in errors. */
export function parseRelease(text: string, file = 'Release'): ReleaseInfo {
  const parsed = readFields(text, file);
  const fields: Record<string, string> = {};
  for (const f of parsed.values()) fields[f.name] = (f.lines[0] === '' ? f.lines.slice(1) : f.lines).join('\n');
  const get = (name: string) => {
    const f = parsed.get(name.toLowerCase());
    return f === undefined ? undefined : fields[f.name];
  };
  const date = (name: string): Date | undefined => {
    const value = get(name);
    if (value === undefined) return undefined;
    const d = parseReleaseDate(value);
    if (!d) {
      const line = parsed.get(name.toLowerCase())!.line;
      throw new UserError(`${file}:${line}: ${name} "${value}" is not an RFC 2822 date such as "Sat, 09 Aug 2025 09:17:26 UTC"`, HINT);
    }
    return d;
  };
  const words = (name: string) => (get(name) ?? '').split(/\s+/).filter(Boolean);

  const info: ReleaseInfo = {
    fields,
    architectures: words('Architectures'),
    components: words('Components'),
    acquireByHash: (get('Acquire-By-Hash') ?? '').toLowerCase() === 'yes',
    sha256: parseHashes(parsed.get('sha256'), file),
  };
  for (const [key, name] of [
    ['origin', 'Origin'],
    ['label', 'Label'],
    ['suite', 'Suite'],
    ['codename', 'Codename'],
  ] as const) {
    const value = get(name);
    if (value !== undefined) info[key] = value;
  }
  const d = date('Date');
  if (d) info.date = d;
  const v = date('Valid-Until');
  if (v) info.validUntil = v;
  return info;
}

// Lines of `<hash> <size> <path>` in the SHA256 field.
function parseHashes(field: Field | undefined, file: string): Map<string, { size: number; sha256: string }> {
  const out = new Map<string, { size: number; sha256: string }>();
  if (!field) return out;
  field.lines.forEach((raw, k) => {
    const line = raw.trim();
    if (line === '') return; // the field's own line is usually empty
    const parts = line.split(/\s+/);
    const [hash, size, path] = parts;
    if (parts.length !== 3 || !/^[0-9a-fA-F]{64}$/.test(hash!) || !/^\d+$/.test(size!) || !Number.isSafeInteger(Number(size))) {
      throw new UserError(`${file}:${field.line + k}: SHA256 line "${line}" is not "<64 hex digits> <size> <path>"`, HINT);
    }
    out.set(path!, { size: Number(size), sha256: hash!.toLowerCase() });
  });
  return out;
}
