// What a package's identity may look like (Debian policy, §5.6.1, §5.6.12,
// §11.1) and where its file may live, checked where a signed index enters:
// a name or version that could reach a shell or a file name, or a Filename
// that leaves the repository or collides with the toolkit's own files in the
// package cache (the `.dot` graphs, hidden bookkeeping), never reaches a lock.
import { escapeInline, firstUnsafeChar } from '../text/untrusted.js';
import type { PackageRecord } from './types.js';
import { invalidVersionReason } from './version.js';

const NAME = /^[a-z0-9][a-z0-9+.-]+$/;
const ARCH = /^[a-z0-9][a-z0-9-]*$/;
// Pool paths: Debian writes [a-z0-9.+~_-], other archives add capitals, `%`, `:`, `=`, `@` and `,`.
const SEGMENT = /^[A-Za-z0-9._+~%:=@,-]+$/;

/** Why `name` is not a Debian package name, or undefined. */
export function packageNameProblem(name: string): string | undefined {
  if (name.length > 128) return 'is longer than 128 characters';
  return NAME.test(name)
    ? undefined
    : 'is not a Debian package name (lower-case letters, digits, "+", "-" and "."; at least two, starting with a letter or digit)';
}

/** Why `arch` is not a Debian architecture name, or undefined. */
export function architectureProblem(arch: string): string | undefined {
  return arch.length <= 64 && ARCH.test(arch) ? undefined : 'is not a Debian architecture name (lower-case letters, digits and "-")';
}

/** Why `version` is not a Debian version, or undefined. */
export function versionProblem(version: string): string | undefined {
  if (version.length > 256) return 'is longer than 256 characters';
  if (!/^[0-9A-Za-z.+~:-]+$/.test(version)) return 'has characters outside 0-9A-Za-z.+~:-';
  return invalidVersionReason(version);
}

/**
 * Why `filename` (a Packages index's Filename) cannot be fetched into the flat
 * package cache, or undefined: it must be a relative path under the
 * repository without `.`/`..` or empty segments, of plain characters, naming a
 * `.deb` whose name is not hidden.
 */
export function filenameProblem(filename: string): string | undefined {
  const unsafe = firstUnsafeChar(filename);
  if (unsafe) return `has the control character ${unsafe.code}`;
  if (filename.length > 1024) return 'is longer than 1024 characters';
  if (filename.startsWith('/')) return 'is an absolute path; it must be relative to the repository';
  const segments = filename.split('/');
  for (const seg of segments) {
    if (seg === '' || seg === '.' || seg === '..') return `has a ${seg === '' ? 'empty' : `"${seg}"`} path segment; it must stay under the repository`;
    if (!SEGMENT.test(seg)) return 'has characters outside A-Za-z0-9._+~%:=@,- (a path segment)';
  }
  const base = segments[segments.length - 1] ?? '';
  if (base.startsWith('.')) return 'names a hidden file';
  if (!base.endsWith('.deb') || base.length <= 4) return 'does not name a .deb file';
  if (Buffer.byteLength(base) > 200) return 'has a file name longer than 200 bytes';
  return undefined;
}

/** The first problem with a record's identity, as "Field "value" problem", or undefined when it may be used. */
export function recordProblem(r: Pick<PackageRecord, 'name' | 'version' | 'architecture' | 'filename'>): string | undefined {
  const checks: Array<[string, string, (v: string) => string | undefined]> = [
    ['Package', r.name, packageNameProblem],
    ['Version', r.version, versionProblem],
    ['Architecture', r.architecture, architectureProblem],
    ['Filename', r.filename, filenameProblem],
  ];
  for (const [field, value, check] of checks) {
    const problem = check(value);
    if (problem) return `${field} ${escapeInline(JSON.stringify(value.length > 120 ? `${value.slice(0, 120)}…` : value))} ${problem}`;
  }
  return undefined;
}
