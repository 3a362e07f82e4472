// The WWW-Authenticate header (RFC 7235): one or more challenges, each a
// scheme and comma-separated auth-params whose values may be quoted strings
// with commas inside (a token scope such as "repository:a/b:pull,push").

export interface Challenge {
  /** Lowercased scheme: `basic`, `bearer`, ... */
  scheme: string;
  /** Parameter names lowercased; values unquoted. */
  params: Record<string, string>;
}

const TOKEN_CHAR = /[!#$%&'*+.^_`|~0-9A-Za-z-]/;
// token68 (the other form a challenge can take) also allows '/' and trailing '='.
const TOKEN68_CHAR = /[0-9A-Za-z\-._~+/]/;

class Reader {
  pos = 0;
  constructor(readonly text: string) {}
  get done(): boolean {
    return this.pos >= this.text.length;
  }
  peek(): string {
    return this.text[this.pos] ?? '';
  }
  skip(chars: RegExp): void {
    while (!this.done && chars.test(this.peek())) this.pos++;
  }
  token(chars = TOKEN_CHAR): string {
    const start = this.pos;
    this.skip(chars);
    return this.text.slice(start, this.pos);
  }
  quoted(): string {
    this.pos++; // the opening quote
    let out = '';
    while (!this.done && this.peek() !== '"') {
      if (this.peek() === '\\') this.pos++;
      out += this.peek();
      this.pos++;
    }
    this.pos++; // the closing quote, or past the end when it is missing
    return out;
  }
}

/** Read `name = value` at the reader's position; rewinds and returns undefined when there is none (a new challenge, or token68). */
function param(r: Reader): [string, string] | undefined {
  const start = r.pos;
  const name = r.token();
  r.skip(/[ \t]/);
  if (name && r.peek() === '=') {
    r.pos++;
    r.skip(/[ \t]/);
    if (r.peek() === '"') return [name.toLowerCase(), r.quoted()];
    const value = r.token();
    // An unquoted value is a non-empty token; `abc==` is token68, not a parameter.
    if (value) return [name.toLowerCase(), value];
  }
  r.pos = start;
  return undefined;
}

/** Every challenge in a WWW-Authenticate header value, in order. */
export function parseChallenges(header: string): Challenge[] {
  const r = new Reader(header);
  const out: Challenge[] = [];
  while (true) {
    r.skip(/[ \t,]/);
    if (r.done) break;
    const scheme = r.token();
    if (!scheme) {
      r.pos++; // not a token: skip the stray character rather than loop forever
      continue;
    }
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    out.push(challenge);
    r.skip(/[ \t]/);
    let p = param(r);
    if (!p) {
      // token68 form (e.g. `Negotiate abc==`): kept under a name of our own.
      const start = r.pos;
      r.token(TOKEN68_CHAR);
      r.skip(/=/);
      if (r.pos > start) challenge.params['token68'] = r.text.slice(start, r.pos);
      continue;
    }
    while (p) {
      challenge.params[p[0]] = p[1];
      r.skip(/[ \t]/);
      if (r.peek() !== ',') break;
      r.skip(/[ \t,]/);
      p = param(r);
    }
  }
  return out;
}
