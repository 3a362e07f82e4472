// Licences of Debian packages, from the machine-readable copyright files
// (copyright-format 1.0, "DEP-5") at /usr/share/doc/<package>/copyright, as
// SPDX license expressions. A file in another format says nothing we can
// trust, so its package gets NOASSERTION rather than a guess.
import path from 'node:path';
import { StepError } from '../../errors.js';
import type { Runner } from '../../docker/runner.js';

export const NOASSERTION = 'NOASSERTION';

/** What a machine-readable copyright file says about licences. */
export interface Dep5Licenses {
  /** The License lines of the header and of each Files paragraph, in file order, without repeats. */
  synopses: string[];
  /** Licence texts given in the file, by lower-cased short name. */
  texts: Map<string, string>;
}

/** A licence with no SPDX identifier, named in an expression as LicenseRef-<id>. */
export interface LicenseRef {
  id: string;
  /** The short name as the copyright file wrote it. */
  name: string;
}

/** An SPDX license expression and the LicenseRefs it uses. */
export interface SpdxLicense {
  expression: string;
  refs: LicenseRef[];
}

type Paragraph = Map<string, string>;

/** deb822 paragraphs: field names lower-cased, continuation lines joined with '\n' (" ." is an empty line). */
function paragraphs(text: string): Paragraph[] {
  const out: Paragraph[] = [];
  let current: Paragraph | undefined;
  let field = '';
  for (const line of text.replace(/\r\n?/g, '\n').split('\n')) {
    if (line.trim() === '') {
      current = undefined;
      continue;
    }
    if (line.startsWith('#')) continue;
    if (/^[ \t]/.test(line)) {
      if (current && field) {
        const more = line.trim() === '.' ? '' : line.replace(/^[ \t]/, '');
        current.set(field, `${current.get(field)}\n${more}`);
      }
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    if (!current) {
      current = new Map();
      out.push(current);
    }
    field = line.slice(0, colon).trim().toLowerCase();
    current.set(field, line.slice(colon + 1).trim());
  }
  return out;
}

/** The licences a copyright file declares; undefined when it is not in the machine-readable format. */
export function parseDep5(text: string): Dep5Licenses | undefined {
  const paras = paragraphs(text);
  const header = paras[0];
  // The header's Format field is what makes a file machine-readable (older drafts said Format-Specification).
  if (!header || !(header.has('format') || header.has('format-specification'))) return undefined;
  const synopses: string[] = [];
  const texts = new Map<string, string>();
  for (const [i, p] of paras.entries()) {
    const value = p.get('license');
    if (value === undefined) continue;
    const [first = '', ...rest] = value.split('\n');
    const synopsis = first.trim();
    const body = rest.join('\n').trim();
    if (synopsis && body) texts.set(synopsis.toLowerCase(), body);
    // Stand-alone License paragraphs only give the text of a name used elsewhere.
    if (synopsis && (i === 0 || p.has('files')) && !synopses.includes(synopsis)) synopses.push(synopsis);
  }
  return { synopses, texts };
}

// SPDX identifiers passed through when a copyright file already uses them (any case).
const KNOWN_IDS = [
  '0BSD',
  'AFL-2.0',
  'AFL-2.1',
  'AFL-3.0',
  'Apache-1.0',
  'Apache-1.1',
  'Apache-2.0',
  'Artistic-1.0',
  'Artistic-1.0-Perl',
  'Artistic-2.0',
  'Beerware',
  'BSD-1-Clause',
  'BSD-2-Clause',
  'BSD-3-Clause',
  'BSD-4-Clause',
  'BSL-1.0',
  'bzip2-1.0.6',
  'CC-BY-3.0',
  'CC-BY-4.0',
  'CC-BY-SA-3.0',
  'CC-BY-SA-4.0',
  'CC0-1.0',
  'CDDL-1.0',
  'curl',
  'EPL-1.0',
  'EPL-2.0',
  'FSFAP',
  'FSFUL',
  'FSFULLR',
  'FTL',
  'HPND',
  'ICU',
  'IJG',
  'ISC',
  'Libpng',
  'libpng-2.0',
  'LPPL-1.3c',
  'MIT',
  'MIT-0',
  'MPL-1.1',
  'MPL-2.0',
  'NTP',
  'OFL-1.1',
  'OLDAP-2.8',
  'OpenSSL',
  'PostgreSQL',
  'PSF-2.0',
  'Python-2.0',
  'Ruby',
  'Sleepycat',
  'TCL',
  'Unicode-3.0',
  'Unicode-DFS-2016',
  'Unlicense',
  'Vim',
  'W3C',
  'WTFPL',
  'X11',
  'Zlib',
  'ZPL-2.1',
];
const BY_LOWER = new Map(KNOWN_IDS.map((id) => [id.toLowerCase(), id]));

// Debian's short names (copyright-format 1.0) that differ from SPDX's.
const ALIASES: Record<string, string> = {
  expat: 'MIT',
  artistic: 'Artistic-1.0-Perl',
  'artistic-1': 'Artistic-1.0',
  'artistic-2': 'Artistic-2.0',
  'apache-2': 'Apache-2.0',
  cc0: 'CC0-1.0',
  'mpl-2': 'MPL-2.0',
  // "The same terms as Perl itself".
  perl: 'Artistic-1.0-Perl OR GPL-1.0-or-later',
  'psf-2': 'PSF-2.0',
  python: 'Python-2.0',
  gap: 'FSFAP',
  'sil-ofl-1.1': 'OFL-1.1',
  'boost-1.0': 'BSL-1.0',
  'zope-2.1': 'ZPL-2.1',
  'openldap-2.8': 'OLDAP-2.8',
};

// The GNU licences that exist in SPDX with -only and -or-later forms, and the version an unversioned name means.
const GNU_VERSIONS: Record<string, { versions: string[]; unversioned?: string }> = {
  GPL: { versions: ['1.0', '2.0', '3.0'], unversioned: '1.0' },
  LGPL: { versions: ['2.0', '2.1', '3.0'], unversioned: '2.0' },
  AGPL: { versions: ['1.0', '3.0'] },
};

/** The SPDX identifier (or expression) for one Debian short name; undefined when there is none. */
export function spdxIdFor(shortName: string): string | undefined {
  const name = shortName.trim();
  const lower = name.toLowerCase();
  const known = ALIASES[lower] ?? BY_LOWER.get(lower);
  if (known) return known;
  // GPL-2, GPL-2+, GPLv3+, LGPL-2.1, GPL-2.0-or-later, AGPL-3.0-only ...
  const gnu = /^(a|l)?gpl(?:-?v?(\d(?:\.\d)?))?(\+|-only|-or-later)?$/i.exec(name);
  if (gnu) {
    const family = `${(gnu[1] ?? '').toUpperCase()}GPL`;
    const spec = GNU_VERSIONS[family];
    const raw = gnu[2];
    const version = raw === undefined ? spec?.unversioned : raw.includes('.') ? raw : `${raw}.0`;
    if (!spec || !version || !spec.versions.includes(version)) return undefined;
    // An unversioned GPL lets the recipient choose any version.
    const later = gnu[3] === '+' || gnu[3] === '-or-later' || raw === undefined;
    return `${family}-${version}-${later ? 'or-later' : 'only'}`;
  }
  const gfdl = /^gfdl(-niv)?-(1\.[123])(\+|-only|-or-later)?$/i.exec(name);
  if (gfdl) return `GFDL-${gfdl[2]}${gfdl[1] ? '-no-invariants' : ''}-${gfdl[3] === '+' || gfdl[3] === '-or-later' ? 'or-later' : 'only'}`;
  // Any other identifier with "+" keeps SPDX's "or later" operator.
  if (name.endsWith('+')) {
    const base = spdxIdFor(name.slice(0, -1));
    if (base && /^[A-Za-z0-9.-]+$/.test(base) && !/-(only|or-later)$/.test(base)) return `${base}+`;
  }
  return undefined;
}

// Licence exceptions ("GPL-3+ with GCC-3.1 exception") that have an SPDX identifier.
const EXCEPTIONS: Record<string, string | ((licence: string) => string)> = {
  // Debian names one Autoconf exception; SPDX has one for each GPL version.
  autoconf: (licence) => (licence.startsWith('GPL-3') ? 'Autoconf-exception-3.0' : 'Autoconf-exception-2.0'),
  font: 'Font-exception-2.0',
  classpath: 'Classpath-exception-2.0',
  'gcc-3.1': 'GCC-exception-3.1',
  'gcc-2.0': 'GCC-exception-2.0',
  libtool: 'Libtool-exception',
  bison: 'Bison-exception-2.2',
  llvm: 'LLVM-exception',
  'linux-syscall-note': 'Linux-syscall-note',
};

/** LicenseRef-<name> with only letters, digits, '.' and '-' (lower case: SPDX compares identifiers without case). */
export function licenseRefId(name: string): string {
  const idstring = name
    .replace(/\+/g, '-plus')
    .replace(/[^A-Za-z0-9.-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^-|-$/g, '')
    .toLowerCase()
    // Long enough to tell licences apart, short enough to read.
    .slice(0, 64)
    .replace(/-$/, '');
  return `LicenseRef-${idstring || 'unnamed'}`;
}

/** One term ("GPL-2+", "GPL-2+ with Font exception") as an SPDX expression. */
function termToSpdx(words: string[], refs: LicenseRef[]): string {
  const text = words.join(' ');
  const withAt = words.findIndex((w) => w.toLowerCase() === 'with');
  const last = words[words.length - 1]?.toLowerCase();
  if (withAt > 0 && last === 'exception' && withAt < words.length - 2) {
    const id = spdxIdFor(words.slice(0, withAt).join(' '));
    const known =
      EXCEPTIONS[
        words
          .slice(withAt + 1, -1)
          .join(' ')
          .toLowerCase()
      ];
    const exception = typeof known === 'function' && id ? known(id) : known;
    if (id && typeof exception === 'string' && !id.includes(' ')) return `${id} WITH ${exception}`;
  } else if (words.length === 1) {
    const id = spdxIdFor(text);
    if (id) return id;
  }
  const ref = { id: licenseRefId(text), name: text };
  if (!refs.some((r) => r.id === ref.id)) refs.push(ref);
  return ref.id;
}

/** Join terms or groups with operators, bracketing compound ones. */
function joinWith(parts: string[], ops: string[]): string {
  if (parts.length === 1) return parts[0] ?? '';
  const bracket = (p: string) => (p.includes(' ') && !/^\S+ WITH \S+$/.test(p) ? `(${p})` : p);
  return parts.map((p, i) => (i === 0 ? bracket(p) : `${ops[i - 1]} ${bracket(p)}`)).join(' ');
}

/** Split a synopsis into comma groups (with their joining word) of terms (runs of words between and/or). */
function parseSynopsis(synopsis: string): Array<{ joiner: string; terms: string[][]; ops: string[] }> {
  const pieces = synopsis.trim().split(/\s*,\s*(?:(and|or)\s+)?/i);
  const groups: Array<{ joiner: string; terms: string[][]; ops: string[] }> = [];
  for (let i = 0; i < pieces.length; i += 2) {
    const terms: string[][] = [];
    const ops: string[] = [];
    let term: string[] = [];
    for (const w of [...(pieces[i] ?? '').split(/\s+/), 'and']) {
      const op = w.toLowerCase();
      if (op !== 'and' && op !== 'or') {
        if (w !== '') term.push(w);
        continue;
      }
      if (term.length > 0) terms.push(term);
      term = [];
      // An operator joins two terms; a leading, doubled or trailing one is dropped.
      if (terms.length > ops.length) ops.push(op.toUpperCase());
    }
    ops.length = Math.max(0, terms.length - 1);
    if (terms.length > 0) groups.push({ joiner: (pieces[i - 1] ?? 'and').toUpperCase(), terms, ops });
  }
  return groups;
}

/**
 * A DEP-5 License synopsis ("GPL-2+ or Artistic", "GPL-2+ or MIT, and BSD-3-clause")
 * as an SPDX expression. Inside a comma-separated group "and" binds tighter than
 * "or", as in SPDX; the comma makes the groups bind loosest.
 */
export function dep5ToSpdx(synopsis: string): SpdxLicense {
  const groups = parseSynopsis(synopsis);
  if (groups.length === 0) return { expression: NOASSERTION, refs: [] };
  // Prose where a short name belongs (some files put a licence's first sentence there) is one unknown licence.
  const prose = groups.some((g) => g.terms.some((t) => t.length > 2 && !t.some((w) => w.toLowerCase() === 'with')));
  if (prose) {
    const name = synopsis.trim();
    const id = licenseRefId(name);
    return { expression: id, refs: [{ id, name }] };
  }
  const refs: LicenseRef[] = [];
  const parts = groups.map((g) =>
    joinWith(
      g.terms.map((t) => termToSpdx(t, refs)),
      g.ops,
    ),
  );
  return {
    expression: joinWith(
      parts,
      groups.slice(1).map((g) => g.joiner),
    ),
    refs,
  };
}

/** An expression without brackets around all of it. */
function unwrap(expr: string): string {
  if (!expr.startsWith('(') || !expr.endsWith(')')) return expr;
  let depth = 0;
  for (let i = 0; i < expr.length - 1; i++) {
    depth += expr[i] === '(' ? 1 : expr[i] === ')' ? -1 : 0;
    if (depth === 0) return expr;
  }
  return unwrap(expr.slice(1, -1));
}

/** The operands of an expression's top-level ANDs ("(A AND B) AND C" → A, B, C); all of it when an OR binds at the top. */
function conjuncts(expression: string): string[] {
  const expr = unwrap(expression);
  const parts: string[] = [];
  let depth = 0;
  let current: string[] = [];
  for (const token of expr.split(' ')) {
    if (depth === 0 && token === 'OR') return [expr];
    if (depth === 0 && token === 'AND') {
      parts.push(current.join(' '));
      current = [];
      continue;
    }
    for (const c of token) depth += c === '(' ? 1 : c === ')' ? -1 : 0;
    current.push(token);
  }
  parts.push(current.join(' '));
  return parts.length === 1 ? parts : parts.flatMap(conjuncts);
}

/** The licence a package declares: its licences joined with AND, or NOASSERTION when the file is not DEP-5. */
export function declaredLicense(copyright: string | undefined): SpdxLicense & { texts: Map<string, string> } {
  const dep5 = copyright === undefined ? undefined : parseDep5(copyright);
  if (!dep5) return { expression: NOASSERTION, refs: [], texts: new Map() };
  const parts: string[] = [];
  const refs: LicenseRef[] = [];
  for (const s of dep5.synopses) {
    const one = dep5ToSpdx(s);
    if (one.expression === NOASSERTION) continue;
    // Files paragraphs often repeat a licence, alone or inside an "and": list each once.
    for (const c of conjuncts(one.expression)) if (!parts.includes(c)) parts.push(c);
    for (const r of one.refs) if (!refs.some((x) => x.id === r.id)) refs.push(r);
  }
  if (parts.length === 0) return { expression: NOASSERTION, refs: [], texts: dep5.texts };
  return {
    expression: joinWith(
      parts,
      parts.slice(1).map(() => 'AND'),
    ),
    refs,
    texts: dep5.texts,
  };
}

// Prints each package's documentation directory as NUL-separated records:
// "L <name> <link target>" for a symbolic link, "F <name> <copyright text>" for
// a directory with a regular copyright file. One fixed perl script (perl-base is
// Essential in Debian) reads every file without a process per package, so a
// build in a container pays for one step, not hundreds of `cat`s. Names starting
// with a dot are skipped, as a shell's `*` would. Symbolic links are reported,
// never followed: an absolute one would leave the image.
const COPYRIGHT_SCRIPT = String.raw`
binmode STDOUT;
chdir $ARGV[0] or exit 0;
opendir(my $dir, ".") or exit 0;
for my $d (sort grep { !/^\./ } readdir $dir) {
  if (-l $d) { my $t = readlink $d; print "L\0$d\0$t\0" if defined $t; next }
  my $f = "$d/copyright";
  next if -l $f || !-f _;
  open(my $fh, "<:raw", $f) or die "cannot read $f: $!\n";
  local $/;
  my $text = <$fh>;
  print "F\0$d\0", (defined $text ? $text : ""), "\0";
}`;

/** The copyright texts and linked directories under /usr/share/doc of an image. */
export interface DocDirs {
  files: Map<string, string>;
  links: Map<string, string>;
}

/** Parse COPYRIGHT_SCRIPT's output. */
export function parseDocDump(out: string): DocDirs {
  const files = new Map<string, string>();
  const links = new Map<string, string>();
  const fields = out.split('\0');
  for (let i = 0; i + 2 < fields.length; i += 3) {
    const [kind, name = '', value = ''] = fields.slice(i, i + 3);
    if (kind === 'F') files.set(name, value);
    else if (kind === 'L') links.set(name, value);
    else throw new StepError(`unexpected output while reading copyright files: record ${JSON.stringify(kind)} at field ${i}`);
  }
  return { files, links };
}

/**
 * The copyright text for package `name`: /usr/share/doc/<name>/copyright, through
 * doc directories that link to another package's (dh_installdocs --link-doc),
 * resolved inside the image. Undefined when there is none.
 */
export function copyrightOf(docs: DocDirs, name: string): string | undefined {
  let dir = name;
  for (let hop = 0; hop < 8; hop++) {
    const text = docs.files.get(dir);
    if (text !== undefined) return text;
    const target = docs.links.get(dir);
    if (target === undefined) return undefined;
    const resolved = path.posix.resolve('/usr/share/doc', target);
    if (path.posix.dirname(resolved) !== '/usr/share/doc') return undefined;
    dir = path.posix.basename(resolved);
  }
  return undefined;
}

/** Read every package's copyright file under `rootfs` with one command where the runner runs. */
export async function readDocDirs(runner: Runner, rootfs: string): Promise<DocDirs> {
  const docDir = path.posix.join(rootfs, 'usr/share/doc');
  const r = await runner.run(['perl', '-e', COPYRIGHT_SCRIPT, docDir]);
  return parseDocDump(r.stdout);
}
