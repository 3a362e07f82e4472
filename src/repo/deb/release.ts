// The suite's Release file: fetched (InRelease, or Release + Release.gpg),
// checked with gpgv, kept in the store by digest, and checked for content
// (the suite asked for, Valid-Until, a sane Date).
import { readFile } from 'node:fs/promises';
import { FetchError } from '../../net/fetch.js';
import { parseRelease, type ReleaseInfo } from '../../deb/release.js';
import { StepError, UserError } from '../../errors.js';
import { kib, type LoadContext } from './context.js';
import { fetchUnknown } from './http.js';
import { verifyClearsigned, verifyDetached } from './signature.js';
import type { SignatureVerdict } from './status.js';
import type { SignedRelease } from './types.js';

/** A Release whose signature was checked (or accepted as trusted). */
export interface VerifiedRelease {
  signed: SignedRelease;
  info: ReleaseInfo;
  /** Primary key fingerprint; absent when accepted without a good signature. */
  signedBy?: string;
}

const ONE_DAY_MS = 24 * 60 * 60 * 1000;
const UNTRUSTED_HINT = 'Add the key that signs this repository to its keyrings; mark the repository trusted: true only if you accept unsigned metadata.';

/** Fetch the suite's signed Release into the store and verify it. */
export async function fetchRelease(ctx: LoadContext): Promise<VerifiedRelease> {
  const inRelease = await fetchToStore(ctx, `${ctx.base}/InRelease`);
  if (inRelease) return verifyStored(ctx, { kind: 'inline', ...inRelease });
  ctx.opts.emit({ type: 'warning', message: `${ctx.where}: no InRelease; using Release and Release.gpg` });
  const release = await fetchToStore(ctx, `${ctx.base}/Release`);
  if (!release) throw new UserError(`${ctx.where}: neither InRelease nor Release exists at ${ctx.base}/`, 'Check the repository URL and codename.');
  const signature = await fetchToStore(ctx, `${ctx.base}/Release.gpg`);
  if (signature) await ctx.store.recordSignature(release.sha256, signature);
  return verifyStored(ctx, { kind: 'detached', ...release, ...(signature ? { signature } : {}) });
}

/** Verify a signed Release that is in the store (offline and pinned runs, and after a fetch). */
export async function verifyStored(ctx: LoadContext, signed: SignedRelease): Promise<VerifiedRelease> {
  const file = await storedOrFail(ctx, signed, signed.kind === 'inline' ? 'InRelease' : 'Release');
  let verdict: SignatureVerdict;
  let text: string | undefined;
  if (signed.kind === 'inline') {
    const r = await verifyClearsigned(file, ctx.keyrings);
    verdict = r.verdict;
    // Unsigned text served as InRelease has no PLAINTEXT for gpgv to write; only a trusted repository gets this far with it.
    text = r.text ?? (verdict.ok ? undefined : await readFile(file, 'utf8'));
  } else {
    const sig = signed.signature ? await storedOrFail(ctx, signed.signature, 'Release.gpg') : undefined;
    verdict = sig ? await verifyDetached(sig, file, ctx.keyrings) : { ok: false, problem: 'no signature', message: 'no signature (no Release.gpg)' };
    text = await readFile(file, 'utf8');
  }
  const name = signed.kind === 'inline' ? 'InRelease' : 'Release';
  if (!verdict.ok) {
    if (!ctx.spec.trusted) throw new UserError(`${ctx.where}: ${verdict.message} on ${name}`, UNTRUSTED_HINT);
    ctx.opts.emit({ type: 'warning', message: `${ctx.where}: ${verdict.message} on ${name}; accepted because the repository is marked trusted` });
  } else {
    for (const note of verdict.ignored) ctx.opts.emit({ type: 'debug', message: `${ctx.where}: ${name} also carries a signature we cannot use (${note})` });
  }
  if (text === undefined) throw new StepError(`${ctx.where}: gpgv accepted ${name} but wrote no signed text`);
  const info = parseRelease(text, `${ctx.base}/${name}`);
  return { signed, info, ...(verdict.ok ? { signedBy: verdict.fingerprint } : {}) };
}

/** Content checks: the suite asked for, Valid-Until (unless `checkValidUntil` is false), the Date. */
export function checkRelease(ctx: LoadContext, info: ReleaseInfo, checkValidUntil = true): void {
  const want = ctx.spec.codename;
  if (info.codename !== want && info.suite !== want) {
    throw new UserError(
      `${ctx.where}: the Release served is for Codename ${info.codename ?? '(none)'}, Suite ${info.suite ?? '(none)'}, not ${want}`,
      'The mirror served another suite (misconfigured, or replaying old metadata); check the URL and codename, or use another mirror.',
    );
  }
  if (checkValidUntil && info.validUntil && info.validUntil.getTime() < ctx.now.getTime()) {
    const when = info.validUntil.toISOString();
    if (!ctx.opts.ignoreValidUntil) {
      throw new UserError(
        `${ctx.where}: metadata expired on ${when}`,
        'The mirror is stale or replays old metadata; use an up-to-date mirror, or ignore Valid-Until for a snapshot archive.',
      );
    }
    ctx.opts.emit({ type: 'warning', message: `${ctx.where}: metadata expired on ${when}; used anyway (Valid-Until ignored)` });
  }
  if (info.date && info.date.getTime() > ctx.now.getTime() + ONE_DAY_MS) {
    ctx.opts.emit({ type: 'warning', message: `${ctx.where}: the Release is dated ${info.date.toISOString()}, in the future; is this machine's clock right?` });
  }
}

/** Download a file of unknown digest into the store; undefined when the server has none. */
async function fetchToStore(ctx: LoadContext, url: string): Promise<{ sha256: string; size: number } | undefined> {
  const tmp = await ctx.store.tempBlob();
  let got: Awaited<ReturnType<typeof fetchUnknown>>;
  try {
    got = await fetchUnknown(url, tmp, ctx.opts.fetch);
  } catch (err) {
    await ctx.store.discard(tmp);
    const reason = err instanceof FetchError ? err.message : String(err);
    throw new StepError(`${ctx.where}: cannot fetch ${url}: ${reason}`, { cause: err });
  }
  if (got === 'missing') {
    await ctx.store.discard(tmp);
    return undefined;
  }
  // Stored before verification: the digest names the bytes, not their trust; only
  // the suite state (written after every check) says what was verified.
  await ctx.store.adopt(tmp, got);
  ctx.fetched++;
  ctx.opts.emit({ type: 'info', message: `fetched ${url} (${kib(got.size)})` });
  return got;
}

async function storedOrFail(ctx: LoadContext, want: { sha256: string; size?: number }, name: string): Promise<string> {
  const file = await ctx.store.find(want);
  if (file) return file;
  throw new UserError(
    `${ctx.where}: the stored ${name} (sha256 ${want.sha256}) is missing or corrupt`,
    'Run once online to fetch the repository metadata again.',
  );
}
