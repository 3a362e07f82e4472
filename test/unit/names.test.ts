import { describe, expect, it } from 'vitest';
import { reservedSectionReason, unsafeNameReason, unsafeUrlReason } from '../../src/layout/names.js';

describe('unsafeNameReason', () => {
  it.each(['bookworm-tools', 'mmdebstrap_1.3.5-7_all.deb', 'mtools_4.0.33-1+really4.0.32-1_amd64.deb', 'a', 'file.with.dots', 'x'.repeat(200), 'ünïcödé'])(
    'accepts the plain name %j',
    (name) => {
      expect(unsafeNameReason(name)).toBeUndefined();
    },
  );

  it.each([
    ['a slash', 'a/b', /without "\/"/],
    ['a leading slash', '/etc', /without "\/"/],
    ['a backslash', 'a\\b', /without "\/" or "\\"/],
    ['".."', '..', /must not be "\.\."/],
    ['"."', '.', /must not be "\."/],
    ['a leading dot', '.g3-stamps', /must not start with "\."/],
    ['a hidden temp name', '.f.tmp-1-abcd', /must not start with "\."/],
    ['a NUL byte', 'a\0b', /NUL/],
    ['a newline', 'a\nb', /control characters/],
    ['a tab', 'a\tb', /control characters/],
    ['an escape character', 'a\u001bb', /control characters/],
    ['DEL', 'a\u007fb', /control characters/],
    ['an empty string', '', /must not be empty/],
    ['more than 200 bytes', 'x'.repeat(201), /at most 200 bytes/],
    ['more than 200 bytes of multibyte characters', 'ü'.repeat(101), /at most 200 bytes/],
    ['a C1 control (CSI)', 'a\u009b2Jb', /U\+009B/],
    ['a right-to-left override', 'evil\u202egpj.deb', /U\+202E/],
    ['a bidi isolate', 'a\u2066b', /U\+2066/],
    ['a no-break space', 'a\u00a0b', /U\+00A0/],
    ['a narrow no-break space', 'a\u202fb', /U\+202F/],
    ['an ideographic space', 'a\u3000b', /U\+3000/],
    ['a zero-width space', 'a\u200bb', /U\+200B/],
    ['a byte order mark', '\ufeffa', /U\+FEFF/],
  ])('refuses a name with %s', (_what, name, reason) => {
    expect(unsafeNameReason(name)).toMatch(reason);
  });

  it.each([[undefined], [null], [42], [{}], [['a']]])('refuses the non-string %j', (value) => {
    expect(unsafeNameReason(value)).toBe('must be a string');
  });

  it('prints the offending name escaped, so it cannot reorder the line', () => {
    const reason = unsafeNameReason('evil\u202egpj.deb') as string;
    expect(reason).toContain('"evil\\u202egpj.deb"');
    expect(reason).not.toContain('\u202e');
  });
});

describe('reservedSectionReason', () => {
  it.each([
    ['pkgCache', /must not be "pkgCache": the toolkit keeps its package cache/],
    ['PKGCACHE', /must not be "pkgCache"/],
    ['repoCache', /must not be "repoCache": the toolkit keeps its repository metadata cache/],
    ['composer-debian-debian13-x86_64', /must not start with "composer-"/],
    ['Composer-x', /must not start with "composer-"/],
    ['.g3-stamps', /must not start with "\."/],
    ['.g3-locks', /must not start with "\."/],
    ['.g3-used', /must not start with "\."/],
  ])("refuses the toolkit's own name %j", (name, reason) => {
    expect(reservedSectionReason(name)).toMatch(reason);
  });

  it.each(['bookworm-tools', 'composer', 'my-composer-tools', 'pkgcache-extra'])('accepts the section %j', (name) => {
    expect(reservedSectionReason(name)).toBeUndefined();
  });
});

describe('unsafeUrlReason', () => {
  it.each(['http://127.0.0.1:8080/debian/pool/x.deb', 'https://127.0.0.1/x', 'HTTP://127.0.0.1/upper', 'http://[::1]:9/x'])(
    'accepts the http(s) URL %s',
    (url) => {
      expect(unsafeUrlReason(url)).toBeUndefined();
    },
  );

  it.each([
    ['file:', 'file:///etc/passwd', /must use http or https, not file:/],
    ['ftp:', 'ftp://127.0.0.1/x', /not ftp:/],
    ['javascript:', 'javascript:alert(1)', /not javascript:/],
    ['data:', 'data:text/plain,hi', /not data:/],
    ['a user name', 'http://user@127.0.0.1/x', /credentials/],
    ['a user and password', 'https://user:secret@127.0.0.1/x', /credentials/],
    ['a password only', 'http://:secret@127.0.0.1/x', /credentials/],
    ['garbage', 'not a url', /is not a valid URL: "not a url"/],
    ['a relative path', '/pool/x.deb', /is not a valid URL/],
    ['an empty string', '', /non-empty string/],
    ['an escape sequence', 'http://127.0.0.1/a\u001b[2Jb.deb', /is not a valid URL: "http:\/\/127\.0\.0\.1\/a\\u001b\[2Jb\.deb" contains U\+001B/],
    ['a tab the URL parser would drop', 'http://127.0.0.1/a\tb.deb', /contains U\+0009/],
    ['a newline the URL parser would drop', 'http://127.0.0.1/a\nb.deb', /contains U\+000A/],
    ['a trailing control the URL parser would trim', 'http://127.0.0.1/a.deb\u0001', /contains U\+0001/],
    ['a C1 control', 'http://127.0.0.1/a\u009bb.deb', /contains U\+009B/],
    ['a bidi override', 'http://127.0.0.1/\u202eabc', /contains U\+202E/],
    ['a no-break space', 'http://127.0.0.1/a\u00a0b', /contains U\+00A0/],
    ['a plain space', 'http://127.0.0.1/a b', /contains a space/],
  ])('refuses a URL with %s', (_what, url, reason) => {
    expect(unsafeUrlReason(url)).toMatch(reason);
  });

  it.each([[undefined], [42], [{ href: 'http://127.0.0.1/' }]])('refuses the non-string %j', (value) => {
    expect(unsafeUrlReason(value)).toBe('must be a non-empty string');
  });
});
