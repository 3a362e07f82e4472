// Repository metadata text: Packages stanzas and the Release file, written by
// our own code from the deb822 format (apt and the resolver read both).
import { archOf, controlFields, type FixturePackage, stanza } from './debrepo-deb.js';

/** A package placed in the pool, with what the index says about its file. */
export interface PoolEntry {
  pkg: FixturePackage;
  filename: string;
  size: number;
  sha256: string;
  md5: string;
}

/** One line of the Release SHA256 list. */
export interface IndexDigest {
  path: string;
  size: number;
  sha256: string;
}

export interface ReleaseFields {
  codename: string;
  suite: string;
  date: Date;
  validUntil?: Date;
  archs: string[];
  components: string[];
  byHash: boolean;
  files: IndexDigest[];
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

// Packages for one architecture: its own packages plus the 'all' ones, sorted by name.
export function packagesIndex(entries: PoolEntry[], arch: string): string {
  const chosen = entries.filter((e) => archOf(e.pkg) === arch || archOf(e.pkg) === 'all');
  chosen.sort((a, b) => byText(a.pkg.name, b.pkg.name) || byText(a.pkg.version, b.pkg.version) || byText(archOf(a.pkg), archOf(b.pkg)));
  return chosen
    .map((e) => stanza([...controlFields(e.pkg), ['Filename', e.filename], ['Size', String(e.size)], ['MD5sum', e.md5], ['SHA256', e.sha256]]))
    .join('\n');
}

// Dates as Release files carry them: RFC 2822 in UTC, e.g. `Sat, 09 Aug 2025 09:17:26 UTC`.
export function releaseDate(d: Date): string {
  return d.toUTCString().replace(/GMT$/, 'UTC');
}

// The Release text: header fields, then the SHA256 list of every index file.
export function releaseText(r: ReleaseFields): string {
  const fields: Array<[string, string]> = [
    ['Origin', 'g3-fixture'],
    ['Label', 'g3-fixture'],
    ['Suite', r.suite],
    ['Codename', r.codename],
    ['Date', releaseDate(r.date)],
  ];
  if (r.validUntil) fields.push(['Valid-Until', releaseDate(r.validUntil)]);
  fields.push(['Architectures', r.archs.join(' ')], ['Components', r.components.join(' ')]);
  if (r.byHash) fields.push(['Acquire-By-Hash', 'yes']);
  fields.push(['Description', `g3-composer test repository ${r.codename}`]);
  const width = Math.max(...r.files.map((f) => String(f.size).length), 1);
  const list = [...r.files]
    .sort((a, b) => byText(a.path, b.path))
    .map((f) => ` ${f.sha256} ${String(f.size).padStart(width)} ${f.path}\n`)
    .join('');
  return `${stanza(fields)}SHA256:\n${list}`;
}
