// Text that came from outside (catalogues, indexes, servers, file names, URLs)
// is printed escaped, so it cannot move the cursor, clear the screen, forge a
// log line or reorder what a reader sees; and secrets in it are redacted.

// C0 controls but tab and newline, DEL, C1 controls, bidi embeddings, overrides
// and isolates, marks that change direction, line/paragraph separators.
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]/g;
// The same set, plus newline and tab, for one-line values (names, URLs).
const UNSAFE_INLINE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]/g;

const hex4 = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/**
 * `text` with every control and bidi character written as \uXXXX (tab and
 * newline kept). The escapes are valid inside JSON strings, so a JSON document
 * stays the same value.
 */
export function escapeControls(text: string): string {
  return text.replace(UNSAFE, hex4);
}

/** One-line untrusted text (a name, a URL) for display: also newlines and tabs escaped. */
export function escapeInline(text: string): string {
  return text.replace(UNSAFE_INLINE, hex4);
}

/** The first control or bidi character in `text` (for refusing names where they enter), or undefined. */
export function firstUnsafeChar(text: string): { index: number; code: string } | undefined {
  UNSAFE_INLINE.lastIndex = 0;
  const m = UNSAFE_INLINE.exec(text);
  UNSAFE_INLINE.lastIndex = 0;
  return m ? { index: m.index, code: `U+${m[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}` } : undefined;
}

/** Query parameter names whose values are credentials. */
const SECRET_PARAM = /(token|key|secret|passw(or)?d|pass|pwd|auth|sig|signature|credential|session|access|jwt|bearer)/i;
const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]+/gi;
const AUTH_HEADER = /\b(authorization|proxy-authorization)(["']?\s*[:=]\s*["']?)(basic|bearer|token)\s+[A-Za-z0-9._~+/=-]+/gi;

/** `url` with user info and credential-like query values replaced by "***". Not a URL: returned unchanged. */
export function redactUrl(url: string): string {
  // Done by hand rather than through URL, so the rest of the text stays exactly as written.
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/is.exec(url);
  if (!m) return url;
  const [, scheme, authority, rest] = m as unknown as [string, string, string, string];
  const at = authority.lastIndexOf('@');
  const host = at < 0 ? authority : `***@${authority.slice(at + 1)}`;
  // The fragment is cleaned like the query: OAuth puts access_token=... there.
  const hash = rest.indexOf('#');
  const beforeHash = hash < 0 ? rest : rest.slice(0, hash);
  const fragment = hash < 0 ? '' : `#${cleanParams(rest.slice(hash + 1))}`;
  const q = beforeHash.indexOf('?');
  const pathAndQuery = q < 0 ? beforeHash : `${beforeHash.slice(0, q)}?${cleanParams(beforeHash.slice(q + 1))}`;
  return scheme + host + pathAndQuery + fragment;
}

/** `name=value&...` with the values of credential-like names replaced by "***"; text without `=` kept. */
function cleanParams(params: string): string {
  return params
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq < 0) return pair;
      let name = pair.slice(0, eq);
      try {
        name = decodeURIComponent(name);
      } catch {
        // keep the raw name
      }
      return SECRET_PARAM.test(name) ? `${pair.slice(0, eq)}=***` : pair;
    })
    .join('&');
}

/** `text` with every URL in it redacted (user info, credential query values) and Authorization header values hidden. */
export function redactSecrets(text: string): string {
  return text
    .replace(URL_IN_TEXT, (u) => {
      // Punctuation that ends a sentence or a field ("...?token=abc: HTTP 404") is not part of the URL.
      const tail = /[.,;:!?)\]]+$/.exec(u)?.[0] ?? '';
      return redactUrl(u.slice(0, u.length - tail.length)) + tail;
    })
    .replace(AUTH_HEADER, (_m, name: string, sep: string, scheme: string) => `${name}${sep}${scheme} ***`);
}

/**
 * `url` fit to be recorded (an image label, a report): user info removed, not just
 * masked, and credential-like query values redacted. Not a URL (an scp-style git
 * remote, a path): returned with redactUrl's treatment, i.e. unchanged.
 */
export function withoutCredentials(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*@)?(.*)$/is.exec(url);
  return m ? redactUrl(`${m[1]}${m[3]}`) : url;
}

/** Untrusted text made safe to print or log: secrets redacted, controls escaped (newlines kept). */
export function forDisplay(text: string): string {
  return escapeControls(redactSecrets(text));
}

/**
 * What is wrong with text that JSON.parse refused, without any of the text: V8's
 * messages quote the start of it (`Unexpected token 'r', "root:$6$..." is not
 * valid JSON`), which for a file named by mistake, or a link to one, is its contents.
 */
export function jsonProblem(err: unknown, text: string): string {
  const message = err instanceof Error ? err.message : '';
  if (/end of JSON input/i.test(message) || text.trim() === '') return 'not valid JSON: it ends early';
  const at = /at position (\d+)/.exec(message);
  if (!at) return 'not valid JSON';
  const pos = Number(at[1]);
  if (pos >= text.trimEnd().length) return 'not valid JSON: it ends early';
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const column = before.length - before.lastIndexOf('\n');
  return `not valid JSON at line ${line}, column ${column}`;
}
