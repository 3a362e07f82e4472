// SHA-crypt password hashes: the `$5$` (SHA-256) and `$6$` (SHA-512) formats that
// glibc and libxcrypt read from /etc/shadow, written from Ulrich Drepper's public
// specification "Unix crypt using SHA-256 and SHA-512". Images must be bit-identical
// when built twice from the same template and lock, so we cannot let chpasswd draw
// a random salt: we hash here, with a salt derived from the build inputs.
//
// Why a derived salt is acceptable: the password remains the only secret. A salt was
// never secret (it sits in clear text next to the hash); its job is to make equal
// passwords hash differently on different systems and for different users, so one
// precomputed table or one cracked hash does not unlock them all. derivedSalt keeps
// that: the salt differs per image (the seed is a digest of lock and template) and per
// user. Its limit, which is the point: two builds of the same image for the same user
// share the salt, so an unchanged password gives an unchanged hash.
import { createHash, createHmac } from 'node:crypto';
import { InternalError, UserError } from '../../errors.js';

export type ShaCryptAlgo = 'sha256' | 'sha512';

/** Rounds used when none are given; the `rounds=` field is then left out. */
export const ROUNDS_DEFAULT = 5000;
/** Bounds from the specification; values outside are clamped to them. */
export const ROUNDS_MIN = 1000;
export const ROUNDS_MAX = 999_999_999;
/** crypt uses at most 16 salt characters and ignores the rest. */
export const SALT_MAX = 16;
// libxcrypt (Debian's libcrypt) refuses passphrases of 512 bytes or more, so a longer
// password would give a hash no login could ever match.
const PASSWORD_MAX_BYTES = 511;

// The crypt base-64 alphabet: value 0 is '.', 63 is 'z'.
const ALPHABET = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const SALT_CHARS = /^[./0-9A-Za-z]*$/;
const PREFIX: Record<ShaCryptAlgo, string> = { sha256: '$5$', sha512: '$6$' };

/**
 * SHA-crypt a password for /etc/shadow with a given salt (first 16 characters used).
 * Without `rounds`: `$6$salt$hash`, 5000 rounds. With `rounds`, even 5000:
 * `$6$rounds=N$salt$hash`, N clamped to 1000..999999999. That is the specification's
 * and glibc's rule: the field appears whenever it was asked for, showing the rounds used.
 */
export function shaCrypt(algo: ShaCryptAlgo, password: string, salt: string, rounds?: number): string {
  if (!Object.hasOwn(PREFIX, algo)) throw new UserError(`unknown SHA-crypt algorithm "${algo}"`, 'Use sha256 or sha512.');
  const used = salt.slice(0, SALT_MAX);
  checkSalt(salt);
  const pw = passwordBytes(password);
  const count = effectiveRounds(rounds);
  const hash = encode(digestRounds(algo, pw, Buffer.from(used, 'ascii'), count));
  const roundsField = rounds === undefined ? '' : `rounds=${count}$`;
  return `${PREFIX[algo]}${roundsField}${used}$${hash}`;
}

/** A 16-character salt fixed by a build seed and a user name, so rebuilt images hash alike. */
export function derivedSalt(seed: string, user: string): string {
  if (seed === '') throw new InternalError('derivedSalt needs a non-empty seed (a digest of lock and template)');
  const mac = createHmac('sha256', seed).update(`g3-salt:${user}`).digest();
  // 256 is a multiple of 64, so the low six bits of each byte are uniform.
  let out = '';
  for (let i = 0; i < SALT_MAX; i++) out += ALPHABET[(mac[i] ?? 0) & 63];
  return out;
}

// '$' would end the salt field, ':' the shadow field and a newline the shadow line;
// libxcrypt also refuses any other character outside the alphabet.
function checkSalt(salt: string): void {
  if (SALT_CHARS.test(salt)) return;
  const bad = [...salt].find((c) => !SALT_CHARS.test(c)) ?? '';
  throw new UserError(
    `password salt ${JSON.stringify(salt)} contains ${JSON.stringify(bad)}, which crypt salts may not contain`,
    'Use only the characters . / 0-9 A-Z a-z (at most 16 are used).',
  );
}

// Never put the password itself in a message: errors reach logs.
function passwordBytes(password: string): Buffer {
  if (password.includes('\0'))
    throw new UserError('the password contains a NUL character, which crypt cannot hash', 'Remove the NUL character from the password.');
  const bytes = Buffer.from(password, 'utf8');
  if (bytes.length > PASSWORD_MAX_BYTES) {
    throw new UserError(`the password is ${bytes.length} bytes long; the image's libcrypt accepts at most ${PASSWORD_MAX_BYTES}`, 'Use a shorter password.');
  }
  return bytes;
}

/** The rounds SHA-crypt runs for a requested count: the default when none, else clamped to the bounds. */
export function effectiveRounds(rounds?: number): number {
  if (rounds === undefined) return ROUNDS_DEFAULT;
  if (!Number.isSafeInteger(rounds) || rounds < 0) {
    throw new UserError(
      `rounds must be a whole number of 0 or more, got ${rounds}`,
      `Use a value from ${ROUNDS_MIN} to ${ROUNDS_MAX}, or leave it out for ${ROUNDS_DEFAULT}.`,
    );
  }
  return Math.min(ROUNDS_MAX, Math.max(ROUNDS_MIN, rounds));
}

// `length` bytes made of `block` repeated (the P and S sequences of the specification).
function repeatTo(block: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let at = 0; at < length; at += block.length) block.copy(out, at, 0, Math.min(block.length, length - at));
  return out;
}

// The specification's steps 1-21; the step numbers are in the comments.
function digestRounds(algo: ShaCryptAlgo, pw: Buffer, salt: Buffer, rounds: number): Buffer {
  const alternate = createHash(algo).update(pw).update(salt).update(pw).digest(); // 4-8: digest B
  const a = createHash(algo).update(pw).update(salt); // 1-3: digest A
  a.update(repeatTo(alternate, pw.length)); // 9-10: B once per password block, then its first bytes
  for (let n = pw.length; n > 0; n >>= 1) a.update(n & 1 ? alternate : pw); // 11: bits of the length, low first
  let c = a.digest(); // 12

  const dp = createHash(algo); // 13-15: the password once per password byte
  for (let i = 0; i < pw.length; i++) dp.update(pw);
  const pSeq = repeatTo(dp.digest(), pw.length); // 16
  const ds = createHash(algo); // 17-19: the salt 16 + A[0] times
  for (let i = 0; i < 16 + (c[0] ?? 0); i++) ds.update(salt);
  const sSeq = repeatTo(ds.digest(), salt.length); // 20

  for (let i = 0; i < rounds; i++) {
    // 21: odd and even rounds swap the order; multiples of 3 skip S, of 7 skip P.
    const h = createHash(algo).update(i & 1 ? pSeq : c);
    if (i % 3 !== 0) h.update(sSeq);
    if (i % 7 !== 0) h.update(pSeq);
    c = h.update(i & 1 ? c : pSeq).digest();
  }
  return c;
}

// Step 22: the digest's bytes go out in groups of three, in an order the specification
// lists byte by byte. Group k takes bytes k, k+n, k+2n (n = 10 for SHA-256, 21 for
// SHA-512), rotated by k mod 3: to the right for SHA-256, to the left for SHA-512.
// The bytes left over (30-31, or 63) end the string. Six bits per character, low first.
function encode(digest: Buffer): string {
  const byte = (i: number): number => digest[i] ?? 0;
  const n = digest.length === 32 ? 10 : 21;
  let out = '';
  for (let k = 0; k < n; k++) {
    const triple = [k, k + n, k + 2 * n];
    const r = k % 3;
    const shift = digest.length === 32 ? (3 - r) % 3 : r;
    const [x = 0, y = 0, z = 0] = [...triple.slice(shift), ...triple.slice(0, shift)];
    out += chars((byte(x) << 16) | (byte(y) << 8) | byte(z), 4);
  }
  out += digest.length === 32 ? chars((byte(31) << 8) | byte(30), 3) : chars(byte(63), 2);
  return out;
}

function chars(value: number, count: number): string {
  let out = '';
  for (let i = 0; i < count; i++, value >>= 6) out += ALPHABET[value & 63];
  return out;
}
