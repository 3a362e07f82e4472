import { describe, expect, it } from 'vitest';
import { derivedSalt, effectiveRounds, type ShaCryptAlgo, shaCrypt } from '../../src/compose/configure/shacrypt.js';
import { InternalError, UserError } from '../../src/errors.js';
import { run } from '../../src/exec.js';

// The test vectors of Ulrich Drepper's specification "Unix crypt using SHA-256 and
// SHA-512" (also glibc's crypt/sha256c-test.c and sha512c-test.c): [salt, rounds, password, expected].
// Two spaces after "encrypt." in the original (web copies often collapse them); "morethan" is one word there too.
const LONGER_TEXT = 'a very much longer text to encrypt.  This one even stretches over morethan one line.';

const SPEC_SHA256: [string, number | undefined, string, string][] = [
  ['saltstring', undefined, 'Hello world!', '$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5'],
  ['saltstringsaltstring', 10000, 'Hello world!', '$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA'],
  ['toolongsaltstring', 5000, 'This is just a test', '$5$rounds=5000$toolongsaltstrin$Un/5jzAHMgOGZ5.mWJpuVolil07guHPvOW8mGRcvxa5'],
  ['anotherlongsaltstring', 1400, LONGER_TEXT, '$5$rounds=1400$anotherlongsalts$Rx.j8H.h8HjEDGomFU8bDkXm3XIUnzyxf12oP84Bnq1'],
  ['short', 77777, 'we have a short salt string but not a short password', '$5$rounds=77777$short$JiO1O3ZpDAxGJeaDIuqCoEFysAe1mZNJRs3pw0KQRd/'],
  ['asaltof16chars..', 123456, 'a short string', '$5$rounds=123456$asaltof16chars..$gP3VQ/6X7UUEW3HkBn2w1/Ptq2jxPyzV/cZKmF/wJvD'],
  ['roundstoolow', 10, 'the minimum number is still observed', '$5$rounds=1000$roundstoolow$yfvwcWrQ8l/K0DAWyuPMDNHpIVlTQebY9l/gL972bIC'],
];

const SPEC_SHA512: [string, number | undefined, string, string][] = [
  ['saltstring', undefined, 'Hello world!', '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1'],
  [
    'saltstringsaltstring',
    10000,
    'Hello world!',
    '$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.',
  ],
  [
    'toolongsaltstring',
    5000,
    'This is just a test',
    '$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0',
  ],
  [
    'anotherlongsaltstring',
    1400,
    LONGER_TEXT,
    '$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1',
  ],
  [
    'short',
    77777,
    'we have a short salt string but not a short password',
    '$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0',
  ],
  [
    'asaltof16chars..',
    123456,
    'a short string',
    '$6$rounds=123456$asaltof16chars..$BtCwjqMJGx5hrJhZywWvt0RLE8uZ4oPwcelCjmw2kSYu.Ec6ycULevoBK25fs2xXgMNrCzIMVcgEJAstJeonj1',
  ],
  [
    'roundstoolow',
    10,
    'the minimum number is still observed',
    '$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHHrsX.',
  ],
];

const ALPHABET = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
// Salts of every length 1..16 (and two longer ones, which crypt truncates), spread over the alphabet.
const SALTS = [...Array.from({ length: 16 }, (_, i) => i + 1), 17, 24].map((len) =>
  Array.from({ length: len }, (_, j) => ALPHABET[(len * 7 + j * 5) % 64]).join(''),
);
const UTF8 = 'pässwörd € 日本語 😀';
const LONG = Array.from({ length: 200 }, (_, i) => ALPHABET[(i * 13) % 64]).join('');
// openssl passwd reads one password per line and cannot hash an empty one (it prints <NULL>).
const OPENSSL_PASSWORDS = ['a', 'Hello world!', 'p@ss w0rd:$!', UTF8, LONG];

async function available(command: string, args: string[]): Promise<boolean> {
  try {
    return (await run({ command, args }, { reject: false })).exitCode === 0;
  } catch {
    return false;
  }
}

const hasOpenssl = await available('openssl', ['version']);
// Python's crypt module calls the host's libcrypt (libxcrypt on Debian); removed in Python 3.13.
const hasPythonCrypt = await available('python3', ['-W', 'ignore', '-c', 'import crypt']);

describe('shaCrypt against the specification', () => {
  it.each(SPEC_SHA256)('sha256 salt %s rounds %s', (salt, rounds, password, expected) => {
    expect(shaCrypt('sha256', password, salt, rounds)).toBe(expected);
  });

  it.each(SPEC_SHA512)('sha512 salt %s rounds %s', (salt, rounds, password, expected) => {
    expect(shaCrypt('sha512', password, salt, rounds)).toBe(expected);
  });
});

describe.skipIf(!hasOpenssl)('shaCrypt against openssl passwd', () => {
  const cases = (['sha256', 'sha512'] as const).flatMap((algo) => SALTS.map((salt) => [algo, salt] as const));

  it.each(cases)('%s with salt %s matches for every password', async (algo, salt) => {
    const flag = algo === 'sha256' ? '-5' : '-6';
    const { stdout } = await run({ command: 'openssl', args: ['passwd', flag, '-salt', salt, '-stdin'] }, { input: `${OPENSSL_PASSWORDS.join('\n')}\n` });
    expect(OPENSSL_PASSWORDS.map((pw) => shaCrypt(algo, pw, salt))).toEqual(stdout.split('\n'));
  });
});

describe.skipIf(!hasPythonCrypt)('shaCrypt against the host libcrypt (python3 crypt)', () => {
  // Lengths around the digest sizes exercise the block and length-bit steps; 511 bytes is libxcrypt's limit.
  const passwords = ['', 'Hello world!', UTF8, ...[31, 32, 33, 63, 64, 65, 511].map((n) => LONG.repeat(3).slice(0, n))];
  const settings: [ShaCryptAlgo, string, number | undefined][] = [
    ['sha256', '', undefined],
    ['sha512', '', undefined],
    ['sha256', 'saltstring', undefined],
    ['sha512', 'saltstring', undefined],
    ...(['sha256', 'sha512'] as const).flatMap((algo) => [1000, 5000, 10000].map((r): [ShaCryptAlgo, string, number] => [algo, 'r0unds/Salt.16ch', r])),
  ];
  const cases = settings.flatMap(([algo, salt, rounds]) => passwords.map((pw) => ({ algo, salt, rounds, pw })));

  it(`matches crypt(3) for ${cases.length} password, salt and rounds combinations`, async () => {
    const script = 'import crypt, json, sys\nprint(json.dumps([crypt.crypt(p, s) for p, s in json.load(sys.stdin)]))';
    const input = cases.map((c) => [c.pw, `${c.algo === 'sha256' ? '$5$' : '$6$'}${c.rounds === undefined ? '' : `rounds=${c.rounds}$`}${c.salt}`]);
    const { stdout } = await run({ command: 'python3', args: ['-W', 'ignore', '-c', script] }, { input: JSON.stringify(input) });
    expect(cases.map((c) => shaCrypt(c.algo, c.pw, c.salt, c.rounds))).toEqual(JSON.parse(stdout));
  });
});

describe('shaCrypt output rules', () => {
  it('leaves rounds= out when no rounds are given and writes it when 5000 is given explicitly', () => {
    const implicit = shaCrypt('sha512', 'secret', 'abcdefgh');
    const explicit = shaCrypt('sha512', 'secret', 'abcdefgh', 5000);
    expect(implicit).toMatch(/^\$6\$abcdefgh\$[./0-9A-Za-z]{86}$/);
    expect(explicit).toBe(implicit.replace('$6$', '$6$rounds=5000$'));
  });

  it('uses only the first 16 salt characters', () => {
    expect(shaCrypt('sha256', 'secret', 'abcdefghijklmnopqrstuvwxyz')).toBe(shaCrypt('sha256', 'secret', 'abcdefghijklmnop'));
  });

  it('gives the same hash on every call (no hidden randomness)', () => {
    expect(shaCrypt('sha512', UTF8, 'fixed')).toBe(shaCrypt('sha512', UTF8, 'fixed'));
  });

  it.each([
    [undefined, 5000],
    [0, 1000],
    [999, 1000],
    [1000, 1000],
    [654321, 654321],
    [999_999_999, 999_999_999],
    [1_000_000_000, 999_999_999],
    [Number.MAX_SAFE_INTEGER, 999_999_999],
  ])('runs rounds %s as %s', (asked, used) => {
    expect(effectiveRounds(asked)).toBe(used);
  });
});

describe('shaCrypt refuses input that would corrupt /etc/shadow or never verify', () => {
  it.each([
    ['a dollar sign', 'ab$cd'],
    ['a colon', 'ab:cd'],
    ['a newline', 'ab\ncd'],
    ['a carriage return', 'ab\rcd'],
    ['a space', 'ab cd'],
    ['a non-ASCII letter', 'abä'],
    ['a dollar sign past the 16th character', 'abcdefghijklmnop$'],
  ])('refuses a salt with %s', (_what, salt) => {
    expect(() => shaCrypt('sha512', 'secret', salt)).toThrow(UserError);
  });

  it.each([1.5, -1, Number.NaN, Number.POSITIVE_INFINITY])('refuses rounds %s', (rounds) => {
    expect(() => shaCrypt('sha256', 'secret', 'salt', rounds)).toThrow(UserError);
  });

  it.each([
    ['a NUL character', 'sec\0ret'],
    ['512 bytes (libxcrypt accepts at most 511)', 'ü'.repeat(256)],
  ])('refuses a password with %s without quoting it', (_what, password) => {
    let caught: unknown;
    try {
      shaCrypt('sha512', password, 'salt');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(UserError);
    expect((caught as Error).message).not.toContain(password);
  });

  it.each(['md5', 'constructor'])('refuses the unknown algorithm %s', (algo) => {
    expect(() => shaCrypt(algo as ShaCryptAlgo, 'secret', 'salt')).toThrow(`unknown SHA-crypt algorithm "${algo}"`);
  });
});

describe('derivedSalt', () => {
  // Pinned (computed separately with Python's hmac module): changing the derivation
  // would change every image's /etc/shadow.
  it.each([
    ['seed', 'root', 'KB.WAqDYTJulsr9h'],
    ['0123abcd', 'admin', 'WeZs.K84CPHYsSxb'],
  ])('derives a stable salt for seed %s and user %s', (seed, user, expected) => {
    expect(derivedSalt(seed, user)).toBe(expected);
    expect(derivedSalt(seed, user)).toMatch(/^[./0-9A-Za-z]{16}$/);
  });

  it('differs between users and between seeds', () => {
    const salts = new Set([derivedSalt('seed-a', 'root'), derivedSalt('seed-a', 'admin'), derivedSalt('seed-b', 'root'), derivedSalt('seed-b', 'admin')]);
    expect(salts.size).toBe(4);
  });

  it('is accepted by shaCrypt', () => {
    const salt = derivedSalt('seed', 'user');
    expect(shaCrypt('sha512', 'secret', salt)).toMatch(new RegExp(`^\\$6\\$${salt.replace(/[./]/g, '\\$&')}\\$[./0-9A-Za-z]{86}$`));
  });

  it('refuses an empty seed, which would give every image the same salts', () => {
    expect(() => derivedSalt('', 'root')).toThrow(InternalError);
  });
});
