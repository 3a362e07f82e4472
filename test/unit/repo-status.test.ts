import { describe, expect, it } from 'vitest';
import { clearsignedCommand, detachedCommand } from '../../src/repo/deb/signature.js';
import { interpretStatus } from '../../src/repo/deb/status.js';

// Status lines as gpgv 2.2 prints them (captured from real runs, keys shortened).
const FPR = 'C13867F822F9964E08C3DB5A2B67C95EF692580C';
const PRIMARY = 'AAAA67F822F9964E08C3DB5A2B67C95EF692FFFF';
const KEYID = '2B67C95EF692580C';
const s = (...lines: string[]) => `${lines.map((l) => `[GNUPG:] ${l}`).join('\n')}\n`;
const plaintext = 'PLAINTEXT 74 0 ';
const good = [
  `KEY_CONSIDERED ${FPR} 0`,
  `SIG_ID nLuu 2026-11-21 1795241214`,
  `GOODSIG ${KEYID} Test Repo <repo@example.invalid>`,
  `VALIDSIG ${FPR} 2026-11-21 1795241214 0 4 0 22 8 01 ${PRIMARY}`,
];
const unknown = (id: string) => [`ERRSIG ${id} 22 8 01 1795241214 9 ${FPR}`, `NO_PUBKEY ${id}`];

describe('interpretStatus', () => {
  it('accepts one good signature and reports the primary key fingerprint from VALIDSIG', () => {
    const v = interpretStatus(s(plaintext, 'NEWSIG', ...good));
    expect(v).toEqual({ ok: true, fingerprint: PRIMARY, keyId: KEYID, ignored: [] });
  });

  it('accepts a file signed by several keys when one of them is known, noting the others', () => {
    const v = interpretStatus(s(plaintext, 'NEWSIG', ...unknown('9BC085A363B739D1'), 'NEWSIG', ...good));
    expect(v.ok).toBe(true);
    expect(v.ok && v.ignored).toEqual(['signed by unknown key 9BC085A363B739D1']);
  });

  it('accepts results without NEWSIG lines (older gpgv) by splitting at each result', () => {
    const v = interpretStatus(s(...unknown('9BC085A363B739D1'), ...good));
    expect(v.ok && v.fingerprint).toBe(PRIMARY);
  });

  it.each([
    ['no OpenPGP data (unsigned file)', s('NODATA 1', 'NODATA 2'), 'no signature', 'no signature'],
    ['empty status output', '', 'no signature', 'no signature'],
    ['a bad signature', s(plaintext, 'NEWSIG', `KEY_CONSIDERED ${FPR} 0`, `BADSIG ${KEYID} Test Repo`), 'bad signature', `bad signature (key ${KEYID})`],
    [
      'a bad signature next to a good one',
      s(plaintext, 'NEWSIG', ...good, 'NEWSIG', `BADSIG 9BC085A363B739D1 Other`),
      'bad signature',
      'bad signature (key 9BC085A363B739D1)',
    ],
    ['an unknown key', s(plaintext, 'NEWSIG', ...unknown(KEYID)), 'unknown key', `signed by unknown key ${KEYID}`],
    ['ERRSIG with reason 9 but no NO_PUBKEY line', s('NEWSIG', `ERRSIG ${KEYID} 22 8 01 1795241214 9 ${FPR}`), 'unknown key', `signed by unknown key ${KEYID}`],
    [
      'an unsupported algorithm',
      s('NEWSIG', `ERRSIG ${KEYID} 99 8 01 1795241214 4`),
      'unusable signature',
      `cannot check the signature by key ${KEYID} (gpgv reason 4)`,
    ],
    [
      'an expired key (gpgv exits 0 and prints VALIDSIG)',
      s(plaintext, 'NEWSIG', 'KEYEXPIRED 1795241230', `EXPKEYSIG ${KEYID} Exp`, `VALIDSIG ${FPR} 2026-11-21 1795241228 0 4 0 22 8 01 ${FPR}`),
      'expired key',
      `signed by expired key ${KEYID}`,
    ],
    [
      'a revoked key',
      s('NEWSIG', `REVKEYSIG ${KEYID} Rev`, `VALIDSIG ${FPR} 2026-11-21 1 0 4 0 22 8 01 ${FPR}`),
      'revoked key',
      `signed by revoked key ${KEYID}`,
    ],
    [
      'an expired signature',
      s('NEWSIG', `EXPSIG ${KEYID} Old`, `VALIDSIG ${FPR} 2020-01-01 1 0 4 0 22 8 01 ${FPR}`),
      'expired signature',
      `the signature by key ${KEYID} has expired`,
    ],
    ['GOODSIG without VALIDSIG', s('NEWSIG', `GOODSIG ${KEYID} Test`), 'unusable signature', `signature by key ${KEYID} without VALIDSIG`],
    [
      'a second signed message appended (gpgv ERROR)',
      s(plaintext, 'NEWSIG', ...good, 'ERROR proc_pkt.plaintext 89_BAD_DATA'),
      'gpgv error',
      'gpgv reported an error (proc_pkt.plaintext 89_BAD_DATA)',
    ],
    ['two PLAINTEXT packets', s(plaintext, 'NEWSIG', ...good, plaintext), 'gpgv error', 'the file holds more than one signed message'],
  ])('rejects %s', (_name, status, problem, message) => {
    const v = interpretStatus(status);
    expect(v).toMatchObject({ ok: false, problem, message: expect.stringContaining(message) });
  });

  it('ignores human-readable lines mixed into the status stream', () => {
    const v = interpretStatus(`gpgv: Good signature from "x"\n${s('NEWSIG', `BADSIG ${KEYID} x`)}`);
    expect(v.ok).toBe(false);
  });
});

describe('gpgv command lines', () => {
  it('builds the clearsigned check with status on fd 1, every keyring and an output file', () => {
    expect(clearsignedCommand(['/k/a.gpg', '/k/b.gpg'], '/s/InRelease', '/t/Release')).toEqual({
      command: 'gpgv',
      args: ['--status-fd', '1', '--keyring', '/k/a.gpg', '--keyring', '/k/b.gpg', '--output', '/t/Release', '/s/InRelease'],
    });
  });

  it('builds the detached check with the signature before the data', () => {
    expect(detachedCommand(['/k/a.gpg'], '/s/Release.gpg', '/s/Release')).toEqual({
      command: 'gpgv',
      args: ['--status-fd', '1', '--keyring', '/k/a.gpg', '/s/Release.gpg', '/s/Release'],
    });
  });
});
