// Names that become paths under a cache tier. Anything that could escape the
// tier, collide with the toolkit's own folders and hidden bookkeeping files, or
// print as something other than what it is, is refused.
import { escapeInline, firstUnsafeChar, redactUrl } from '../text/untrusted.js';

// Spaces other than U+0020 and invisible characters: they make two different
// names look alike on a terminal and in logs.
const UNUSUAL_SPACE = /[\u00a0\u00ad\u1680\u180e\u2000-\u200d\u202f\u205f\u2060-\u2064\u3000\ufeff]/;

/**
 * Section names the toolkit itself uses at the top of a cache tier: the
 * composer tools of each provider (`composer-<provider-id>`, which the
 * Dockerfile installs), and the package and metadata caches (`pkgCache`,
 * `repoCache`), which share the shared tier. Compared without case, so a
 * case-insensitive file system cannot make them meet either.
 */
export const RESERVED_SECTIONS: readonly string[] = ['pkgCache', 'repoCache'];
export const RESERVED_SECTION_PREFIX = 'composer-';

/** The first character of `text` that no name or URL may hold (controls, bidi, unusual spaces), as "U+XXXX", or undefined. */
export function unusualChar(text: string): string | undefined {
  const unsafe = firstUnsafeChar(text);
  const space = UNUSUAL_SPACE.exec(text);
  if (unsafe && (!space || unsafe.index < space.index)) return unsafe.code;
  return space ? `U+${(space[0].codePointAt(0) as number).toString(16).toUpperCase().padStart(4, '0')}` : undefined;
}

/** `text` quoted for a message: control and bidi characters escaped, so it prints as one plain line. */
export function quoted(text: string): string {
  return `"${escapeInline(text)}"`;
}

/** Why a section or file name is unsafe, or undefined when it is fine. */
export function unsafeNameReason(name: unknown): string | undefined {
  if (typeof name !== 'string') return 'must be a string';
  if (name.length === 0) return 'must not be empty';
  if (name.includes('\0')) return 'must not contain a NUL byte';
  if (name.includes('/') || name.includes('\\')) return 'must be a plain name without "/" or "\\"';
  if (name === '.' || name === '..') return `must not be "${name}"`;
  if (name.startsWith('.')) return 'must not start with "." (hidden names are reserved for the cache\'s own files)';
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'must not contain control characters';
  const odd = unusualChar(name);
  if (odd) return `must not contain control, bidi or invisible characters or unusual spaces (${quoted(name)} has ${odd})`;
  if (Buffer.byteLength(name) > 200) return 'must be at most 200 bytes long';
  return undefined;
}

/** Why `section` cannot be a catalogue section: unsafe, or a name the toolkit keeps for its own folders. */
export function reservedSectionReason(section: unknown): string | undefined {
  const unsafe = unsafeNameReason(section);
  if (unsafe) return unsafe;
  const lower = (section as string).toLowerCase();
  const reserved = RESERVED_SECTIONS.find((r) => r.toLowerCase() === lower);
  if (reserved) return `must not be "${reserved}": the toolkit keeps its ${reserved === 'pkgCache' ? 'package' : 'repository metadata'} cache under that name`;
  if (lower.startsWith(RESERVED_SECTION_PREFIX))
    return `must not start with "${RESERVED_SECTION_PREFIX}": ${RESERVED_SECTION_PREFIX}<provider-id> sections hold the composer image's tools, which the Dockerfile installs`;
  return undefined;
}

/** Why a URL cannot be fetched, or undefined when it is an http(s) URL. */
export function unsafeUrlReason(url: unknown): string | undefined {
  if (typeof url !== 'string' || url.length === 0) return 'must be a non-empty string';
  // The URL parser drops tabs and newlines and trims controls silently, so the raw text is checked first.
  const odd = unusualChar(url) ?? (url.includes(' ') ? 'a space' : undefined);
  if (odd) return `is not a valid URL: ${quoted(redactUrl(url))} contains ${odd} (no whitespace, control or bidi characters; write a space as %20)`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `is not a valid URL: ${quoted(redactUrl(url))}`;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return `must use http or https, not ${parsed.protocol}`;
  if (parsed.username || parsed.password) return 'must not embed credentials';
  return undefined;
}
