import { describe, expect, it } from 'vitest';
import { unsafeNameReason, unsafeUrlReason } from '../../src/cache/names.js';

describe('unsafeNameReason', () => {
  it.each([
    'bookworm-tools',
    'mmdebstrap_1.3.5-7_all.deb',
    'mtools_4.0.33-1+really4.0.32-1_amd64.deb',
    'a',
    'file.with.dots',
    'x'.repeat(200),
    'ünïcödé',
  ])('accepts the plain name %j', (name) => {
    expect(unsafeNameReason(name)).toBeUndefined();
  });

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
  ])('refuses a name with %s', (_what, name, reason) => {
    expect(unsafeNameReason(name)).toMatch(reason);
  });

  it.each([[undefined], [null], [42], [{}], [['a']]])('refuses the non-string %j', (value) => {
    expect(unsafeNameReason(value)).toBe('must be a string');
  });
});

describe('unsafeUrlReason', () => {
  it.each(['http://127.0.0.1:8080/debian/pool/x.deb', 'https://127.0.0.1/x', 'HTTP://127.0.0.1/upper', 'http://[::1]:9/x'])('accepts the http(s) URL %s', (url) => {
    expect(unsafeUrlReason(url)).toBeUndefined();
  });

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
  ])('refuses a URL with %s', (_what, url, reason) => {
    expect(unsafeUrlReason(url)).toMatch(reason);
  });

  it.each([[undefined], [42], [{ href: 'http://127.0.0.1/' }]])('refuses the non-string %j', (value) => {
    expect(unsafeUrlReason(value)).toBe('must be a non-empty string');
  });
});
