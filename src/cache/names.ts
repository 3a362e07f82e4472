// Names that become paths under a cache tier. Anything that could escape the
// tier or collide with our own hidden bookkeeping files is refused.

/** Why a section or file name is unsafe, or undefined when it is fine. */
export function unsafeNameReason(name: unknown): string | undefined {
  if (typeof name !== 'string') return 'must be a string';
  if (name.length === 0) return 'must not be empty';
  if (name.includes('\0')) return 'must not contain a NUL byte';
  if (name.includes('/') || name.includes('\\')) return 'must be a plain name without "/" or "\\"';
  if (name === '.' || name === '..') return `must not be "${name}"`;
  if (name.startsWith('.')) return 'must not start with "." (hidden names are reserved for the cache\'s own files)';
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'must not contain control characters';
  if (Buffer.byteLength(name) > 200) return 'must be at most 200 bytes long';
  return undefined;
}

/** Why a URL cannot be fetched, or undefined when it is an http(s) URL. */
export function unsafeUrlReason(url: unknown): string | undefined {
  if (typeof url !== 'string' || url.length === 0) return 'must be a non-empty string';
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `is not a valid URL: ${JSON.stringify(url)}`;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return `must use http or https, not ${parsed.protocol}`;
  if (parsed.username || parsed.password) return 'must not embed credentials';
  return undefined;
}
