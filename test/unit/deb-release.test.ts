import { describe, expect, it } from 'vitest';
import { parseRelease, parseReleaseDate } from '../../src/deb/release.js';
import { UserError } from '../../src/errors.js';

const H1 = '1'.repeat(64);
const H2 = 'ABCDEF0123456789'.repeat(4);
const H3 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

const RELEASE = `Origin: Debian
Label: Debian
Suite: stable
Version: 13.1
Codename: trixie
Date: Sat, 09 Aug 2025 09:17:26 UTC
Valid-Until: Sat, 16 Aug 2025 09:17:26 UTC
Acquire-By-Hash: yes
No-Support-for-Architecture-all: Packages
Architectures: all amd64 arm64
Components: main contrib non-free-firmware
Description: Debian 13.1 Released 06 September 2025
MD5Sum:
 0123456789abcdef0123456789abcdef   1234 main/binary-amd64/Packages
SHA256:
 ${H1} 104857600 main/binary-amd64/Packages
 ${H2}  20123456 main/binary-amd64/Packages.xz
 ${H3}        0 contrib/debian-installer/binary-amd64/Packages
`;

function errorOf(fn: () => unknown): UserError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UserError);
    return err as UserError;
  }
  throw new Error('expected a UserError');
}

describe('parseRelease', () => {
  it('reads the identity fields, lists and flags', () => {
    const info = parseRelease(RELEASE);
    expect(info).toMatchObject({ origin: 'Debian', label: 'Debian', suite: 'stable', codename: 'trixie', acquireByHash: true });
    expect(info.architectures).toStrictEqual(['all', 'amd64', 'arm64']);
    expect(info.components).toStrictEqual(['main', 'contrib', 'non-free-firmware']);
    expect(info.date?.toISOString()).toBe('2025-08-09T09:17:26.000Z');
    expect(info.validUntil?.toISOString()).toBe('2025-08-16T09:17:26.000Z');
  });

  it('reads the SHA256 table keyed by path, with sizes and lower-case hashes', () => {
    const { sha256 } = parseRelease(RELEASE);
    expect([...sha256]).toStrictEqual([
      ['main/binary-amd64/Packages', { size: 104_857_600, sha256: H1 }],
      ['main/binary-amd64/Packages.xz', { size: 20_123_456, sha256: H2.toLowerCase() }],
      ['contrib/debian-installer/binary-amd64/Packages', { size: 0, sha256: H3 }],
    ]);
  });

  it('keeps every field as written, multi-line ones without the empty first line', () => {
    const { fields } = parseRelease(RELEASE);
    expect(fields['Version']).toBe('13.1');
    expect(fields['No-Support-for-Architecture-all']).toBe('Packages');
    expect(fields['MD5Sum']).toBe('0123456789abcdef0123456789abcdef   1234 main/binary-amd64/Packages');
    expect(fields['SHA256']?.split('\n')).toHaveLength(3);
  });

  it.each([
    ['absent', RELEASE.replace('Acquire-By-Hash: yes\n', ''), false],
    ['"no"', RELEASE.replace('Acquire-By-Hash: yes', 'Acquire-By-Hash: no'), false],
    ['"Yes"', RELEASE.replace('Acquire-By-Hash: yes', 'Acquire-By-Hash: Yes'), true],
  ])('reads Acquire-By-Hash %s as %s', (_what, text, expected) => {
    expect(parseRelease(text).acquireByHash).toBe(expected);
  });

  it('gives defaults for a minimal Release', () => {
    const info = parseRelease('Suite: local\n');
    expect(info).toStrictEqual({ fields: { Suite: 'local' }, suite: 'local', architectures: [], components: [], acquireByHash: false, sha256: new Map() });
  });

  it.each([
    ['lower-case field names', RELEASE.replace('Codename:', 'codename:').replace('SHA256:', 'sha256:')],
    ['CR LF line ends', RELEASE.replace(/\n/g, '\r\n')],
    ['blank lines around the stanza', `\n\n${RELEASE}\n\n`],
    ['a hash table that starts on the field line', RELEASE.replace(`SHA256:\n ${H1}`, `SHA256: ${H1}`)],
  ])('tolerates %s', (_what, text) => {
    const info = parseRelease(text);
    expect(info.codename).toBe('trixie');
    expect(info.sha256.get('main/binary-amd64/Packages')).toStrictEqual({ size: 104_857_600, sha256: H1 });
    expect(info.sha256.size).toBe(3);
  });

  it.each([
    ['a hash line with a missing path', RELEASE.replace(' 0 contrib/debian-installer/binary-amd64/Packages', ' 0'), 'InRelease:18: SHA256 line'],
    ['a hash that is too short', RELEASE.replace(H2, 'abc'), 'InRelease:17: SHA256 line "abc'],
    ['a hash with non-hex digits', RELEASE.replace(H1, 'g'.repeat(64)), 'InRelease:16: SHA256 line'],
    ['a size that is not a number', RELEASE.replace('104857600', '100M'), 'InRelease:16: SHA256 line'],
    ['a bad Date', RELEASE.replace('Sat, 09 Aug 2025 09:17:26 UTC', 'yesterday'), 'InRelease:6: Date "yesterday" is not an RFC 2822 date'],
    ['a bad Valid-Until', RELEASE.replace('Sat, 16 Aug 2025 09:17:26 UTC', 'Sat, 31 Feb 2025 09:17:26 UTC'), 'InRelease:7: Valid-Until "Sat, 31 Feb 2025'],
    ['a second stanza', `${RELEASE}\nOrigin: Other\n`, 'InRelease:20: a second stanza'],
    ['a duplicated field', RELEASE.replace('Suite: stable', 'Suite: stable\nsuite: testing'), 'InRelease:4: field suite appears twice'],
    ['a line without a colon', RELEASE.replace('Label: Debian', 'Label Debian'), 'InRelease:2: "Label Debian" is neither'],
    ['a leading continuation line', ` oops\n${RELEASE}`, 'InRelease:1: a continuation line'],
  ])('rejects %s, naming the file and line', (_what, text, message) => {
    const err = errorOf(() => parseRelease(text, 'InRelease'));
    expect(err.message).toContain(message);
    expect(err.hint).toMatch(/refresh the repository metadata/);
  });
});

describe('parseReleaseDate', () => {
  it.each([
    ['Sat, 09 Aug 2025 09:17:26 UTC', '2025-08-09T09:17:26.000Z'],
    ['Sat, 9 Aug 2025 09:17:26 GMT', '2025-08-09T09:17:26.000Z'],
    ['09 Aug 2025 09:17:26 +0000', '2025-08-09T09:17:26.000Z'],
    ['Sat, 09 Aug 2025 11:17:26 +0200', '2025-08-09T09:17:26.000Z'],
    ['Fri, 08 Aug 2025 23:47:26 -0930', '2025-08-09T09:17:26.000Z'],
    ['sat, 09 aug 2025 09:17 UTC', '2025-08-09T09:17:00.000Z'],
    ['Thu, 29 Feb 2024 00:00:00 UTC', '2024-02-29T00:00:00.000Z'],
  ])('reads %s', (text, iso) => {
    expect(parseReleaseDate(text)?.toISOString()).toBe(iso);
  });

  it.each([
    ['a date without a zone', 'Sat, 09 Aug 2025 09:17:26'],
    ['an ISO date', '2025-08-09T09:17:26Z'],
    ['an unknown month', 'Sat, 09 Foo 2025 09:17:26 UTC'],
    ['29 February in a common year', 'Sat, 29 Feb 2025 09:17:26 UTC'],
    ['hour 24', 'Sat, 09 Aug 2025 24:00:00 UTC'],
    ['minute 60', 'Sat, 09 Aug 2025 09:60:00 UTC'],
    ['an empty string', ''],
  ])('rejects %s', (_what, text) => {
    expect(parseReleaseDate(text)).toBeUndefined();
  });
});
