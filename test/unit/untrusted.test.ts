import { describe, expect, it } from 'vitest';
import {
  escapeControls,
  escapeInline,
  firstUnsafeChar,
  forDisplay,
  jsonProblem,
  redactSecrets,
  redactUrl,
  withoutCredentials,
} from '../../src/text/untrusted.js';

describe('escapeControls', () => {
  it.each([
    ['\x1b[2J', '\\u001b[2J'],
    ['a\u009bb', 'a\\u009bb'],
    ['x\u202ey', 'x\\u202ey'],
    ['x\u2066y\u2069', 'x\\u2066y\\u2069'],
    ['line\u2028two', 'line\\u2028two'],
    ['del\x7f', 'del\\u007f'],
  ])('escapes %j', (raw, want) => {
    expect(escapeControls(raw)).toBe(want);
  });

  it('keeps newlines and tabs, and plain Unicode', () => {
    expect(escapeControls('a\tb\nc é ü 日本')).toBe('a\tb\nc é ü 日本');
  });

  it('gives a JSON document that parses to the same value', () => {
    const doc = JSON.stringify({ name: 'evil\u009b2J\u202e' });
    expect(JSON.parse(escapeControls(doc))).toEqual({ name: 'evil\u009b2J\u202e' });
  });
});

describe('escapeInline and firstUnsafeChar', () => {
  it('escapes newlines in one-line values', () => {
    expect(escapeInline('a\nb\tc')).toBe('a\\u000ab\\u0009c');
  });
  it.each([
    ['ok-name', undefined],
    ['no\u00a0break', undefined],
    ['c1\u0085x', { index: 2, code: 'U+0085' }],
    ['bidi\u202e', { index: 4, code: 'U+202E' }],
  ])('finds the first unsafe character of %j', (s, want) => {
    expect(firstUnsafeChar(s)).toEqual(want);
  });
});

describe('redactUrl', () => {
  it.each([
    ['https://user:pw@h.example:8/a?x=1&token=abc#f', 'https://***@h.example:8/a?x=1&token=***#f'],
    ['http://127.0.0.1/p?access_token=1&X-Amz-Signature=2&v=3', 'http://127.0.0.1/p?access_token=***&X-Amz-Signature=***&v=3'],
    ['http://127.0.0.1/debian/dists/trixie/Release', 'http://127.0.0.1/debian/dists/trixie/Release'],
    ['not a url', 'not a url'],
    ['https://127.0.0.1/cb#access_token=abc&state=1', 'https://127.0.0.1/cb#access_token=***&state=1'],
    ['https://127.0.0.1/a?x=1#id_token=abc', 'https://127.0.0.1/a?x=1#id_token=***'],
    ['https://127.0.0.1/doc#section-2', 'https://127.0.0.1/doc#section-2'],
    ['http://127.0.0.1/p?pass%77ord=abc', 'http://127.0.0.1/p?pass%77ord=***'],
  ])('redacts %s', (raw, want) => {
    expect(redactUrl(raw)).toBe(want);
  });
});

describe('redactSecrets and forDisplay', () => {
  it('redacts every URL in a message and Authorization values', () => {
    const text = 'GET http://u:secret@127.0.0.1/x?token=t0p failed; retry http://127.0.0.1/y?password=p4ss. Authorization: Bearer abc.def';
    const out = redactSecrets(text);
    expect(out).not.toMatch(/secret|t0p|p4ss|abc\.def/);
    expect(out).toContain('http://***@127.0.0.1/x?token=***');
    expect(out).toContain('Authorization: Bearer ***');
  });
  it.each([
    ['failed http://127.0.0.1/a?X-Amz-Signature=abc: HTTP 404', 'failed http://127.0.0.1/a?X-Amz-Signature=***: HTTP 404'],
    ['see (http://127.0.0.1/a?token=abc).', 'see (http://127.0.0.1/a?token=***).'],
    ['from http://u:p@127.0.0.1/x, then', 'from http://***@127.0.0.1/x, then'],
  ])('keeps the punctuation after a URL: %j', (text, want) => {
    expect(redactSecrets(text)).toBe(want);
  });

  it('redacts before escaping', () => {
    expect(forDisplay('http://a:b@127.0.0.1/\x1b[31m')).toBe('http://***@127.0.0.1/\\u001b[31m');
  });
});

describe('jsonProblem', () => {
  const SECRET = 'root:$6$S3cr3t';
  it.each([
    [SECRET, 'not valid JSON'],
    [`{"a": ${SECRET}}`, 'not valid JSON'],
    ['{"a": 1,\n  }', 'not valid JSON at line 2, column 3'],
    ['{"a": 1', 'not valid JSON: it ends early'],
    ['', 'not valid JSON: it ends early'],
    [`{"a": 1} ${SECRET}`, 'not valid JSON at line 1, column 10'],
  ])('describes %j without quoting it', (text, want) => {
    let err: unknown;
    try {
      JSON.parse(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SyntaxError);
    expect(jsonProblem(err, text)).toBe(want);
  });
});

describe('withoutCredentials', () => {
  it.each([
    ['https://ci:ghp_S3cr3t@127.0.0.1/team/repo.git', 'https://127.0.0.1/team/repo.git'],
    ['https://127.0.0.1/team/repo.git?private_token=abc', 'https://127.0.0.1/team/repo.git?private_token=***'],
    ['git@127.0.0.1:team/repo.git', 'git@127.0.0.1:team/repo.git'],
    ['file:///srv/g3', 'file:///srv/g3'],
  ])('records %s as %s', (url, want) => {
    expect(withoutCredentials(url)).toBe(want);
  });
});
