// The verdict on a gpgv run, decided from its machine-readable `[GNUPG:]`
// status lines only: human text and exit codes are not reliable (gpgv exits 0
// for a signature by an expired key, and non-zero when one of several
// signatures has a key we do not hold).

/** Why a signed file is not accepted. */
export type SignatureProblem =
  | 'no signature'
  | 'bad signature'
  | 'unknown key'
  | 'expired key'
  | 'revoked key'
  | 'expired signature'
  | 'unusable signature'
  | 'gpgv error';

export type SignatureVerdict =
  | { ok: true; fingerprint: string; keyId: string; ignored: string[] }
  | { ok: false; problem: SignatureProblem; message: string; keyId?: string };

interface SigGroup {
  result?: string;
  args: string[];
  validsig?: string[];
  noPubkey?: string;
}

const RESULTS = new Set(['GOODSIG', 'BADSIG', 'EXPSIG', 'EXPKEYSIG', 'REVKEYSIG', 'ERRSIG']);

/** Decide whether gpgv's status output shows a good signature by a key in the keyrings. */
export function interpretStatus(statusText: string): SignatureVerdict {
  const groups: SigGroup[] = [];
  const errors: string[] = [];
  let plaintexts = 0;
  let current: SigGroup | undefined;
  for (const raw of statusText.split('\n')) {
    const m = /^\[GNUPG:\] (\S+)(?: (.*))?$/.exec(raw.trimEnd());
    if (!m) continue;
    const keyword = m[1] as string;
    const args = (m[2] ?? '').split(' ').filter(Boolean);
    if (keyword === 'NEWSIG') {
      current = { args: [] };
      groups.push(current);
    } else if (RESULTS.has(keyword)) {
      // Without NEWSIG (older gpgv), a second result starts a second signature.
      if (!current || current.result) {
        current = { args: [] };
        groups.push(current);
      }
      current.result = keyword;
      current.args = args;
    } else if (keyword === 'VALIDSIG' && current) {
      current.validsig = args;
    } else if (keyword === 'NO_PUBKEY' && current) {
      current.noPubkey = args[0];
    } else if (keyword === 'PLAINTEXT') {
      plaintexts++;
    } else if (keyword === 'ERROR') {
      errors.push(args.join(' '));
    }
  }
  // Any error (e.g. a second signed message appended to the first) voids the file.
  if (errors.length > 0) return { ok: false, problem: 'gpgv error', message: `gpgv reported an error (${errors.join('; ')})` };
  if (plaintexts > 1) return { ok: false, problem: 'gpgv error', message: 'the file holds more than one signed message' };
  // A signature that does not match the text means tampering, whatever else is there.
  const bad = groups.find((g) => g.result === 'BADSIG');
  if (bad)
    return {
      ok: false,
      problem: 'bad signature',
      message: `bad signature (key ${bad.args[0] ?? '?'}): the file was changed after signing`,
      keyId: bad.args[0],
    };
  const good = groups.find((g) => g.result === 'GOODSIG' && g.validsig);
  if (good?.validsig) {
    const ignored = groups.filter((g) => g !== good).map((g) => describe(g).message);
    // VALIDSIG field 10 is the primary key's fingerprint; older versions stop at field 1.
    const fingerprint = good.validsig[9] ?? good.validsig[0] ?? '';
    return { ok: true, fingerprint, keyId: good.args[0] ?? fingerprint.slice(-16), ignored };
  }
  const first = groups.find((g) => g.result);
  if (!first) return { ok: false, problem: 'no signature', message: 'no signature' };
  return { ok: false, ...describe(first) };
}

function describe(g: SigGroup): { problem: SignatureProblem; message: string; keyId?: string } {
  const keyId = g.args[0];
  switch (g.result) {
    case 'EXPKEYSIG':
      return { problem: 'expired key', message: `signed by expired key ${keyId}`, keyId };
    case 'REVKEYSIG':
      return { problem: 'revoked key', message: `signed by revoked key ${keyId}`, keyId };
    case 'EXPSIG':
      return { problem: 'expired signature', message: `the signature by key ${keyId} has expired`, keyId };
    case 'ERRSIG': {
      // ERRSIG field 6 is the reason: 9 = no public key, 4 = unsupported algorithm.
      if (g.noPubkey || g.args[5] === '9') return { problem: 'unknown key', message: `signed by unknown key ${keyId}`, keyId };
      return { problem: 'unusable signature', message: `cannot check the signature by key ${keyId} (gpgv reason ${g.args[5] ?? '?'})`, keyId };
    }
    case 'GOODSIG':
      return { problem: 'unusable signature', message: `signature by key ${keyId} without VALIDSIG`, keyId };
    default:
      return { problem: 'unusable signature', message: `unexpected gpgv result ${g.result ?? 'none'}`, keyId };
  }
}
