// Loading one Debian repository's metadata: online (verify the newest signed
// Release, fetch what the store lacks, record the verified state), offline
// (re-verify the last verified state from the store) and pinned (exactly the
// digests a lock file names).
import { readFile } from 'node:fs/promises';
import { flushDirs } from '../../fs/atomic.js';
import type { PackageRecord } from '../../deb/types.js';
import { UserError } from '../../errors.js';
import { type LoadContext, makeContext } from './context.js';
import { obtainIndex, plainDigest, readIndex, refusedWarning, selectIndexes } from './indexes.js';
import { binaryKeyrings } from './keyrings.js';
import { checkRelease, fetchRelease, type VerifiedRelease, verifyStored } from './release.js';
import type { IndexRef, MetadataOptions, RefusedPackage, RepoMetadata, RepoPin, RepoSpec, SignedRelease } from './types.js';

/** Load the repository's packages from its newest verified metadata (or, offline, the last verified state). */
export async function loadRepository(spec: RepoSpec, opts: MetadataOptions): Promise<RepoMetadata> {
  const ctx = await prepare(spec, opts);
  if (opts.offline) return loadOffline(ctx);
  const rel = await fetchRelease(ctx);
  checkRelease(ctx, rel.info);
  const refs = selectIndexes(ctx, rel.info);
  const packages = await loadIndexes(ctx, rel, refs);
  // Written last: the state names only what passed every check.
  await ctx.store.writeState(spec.id, {
    version: 1,
    url: spec.url,
    codename: spec.codename,
    release: rel.signed,
    indexes: refs,
    verifiedAt: ctx.now.toISOString(),
  });
  await flushDirs();
  return result(ctx, rel, refs, packages, false);
}

/** Load exactly the pinned Release and indexes (locked, reproducible runs): from the store, else fetched and checked by digest. */
export async function loadRepositoryPinned(spec: RepoSpec, pin: RepoPin, opts: MetadataOptions): Promise<RepoMetadata> {
  const ctx = await prepare(spec, opts);
  const rel = await pinnedRelease(ctx, pin.releaseSha256);
  // The lock already chose this Release; an old Valid-Until is expected when rebuilding it later.
  checkRelease(ctx, rel.info, false);
  for (const ref of pin.indexes) {
    const listed = rel.info.sha256.get(ref.path);
    if (!listed || listed.sha256 !== ref.sha256 || listed.size !== ref.size) {
      throw new UserError(
        `${ctx.where}: the lock pins ${ref.path} (sha256 ${ref.sha256}), which the pinned Release does not list with that digest`,
        'The lock file is inconsistent; update the lock.',
      );
    }
  }
  const packages = await loadIndexes(ctx, rel, pin.indexes);
  await flushDirs();
  return result(ctx, rel, pin.indexes, packages, ctx.fetched === 0);
}

async function prepare(spec: RepoSpec, opts: MetadataOptions): Promise<LoadContext> {
  const ctx = makeContext(spec, opts);
  ctx.keyrings = await binaryKeyrings(spec.keyrings, opts.storeDir, ctx.where, spec.trusted);
  return ctx;
}

async function loadOffline(ctx: LoadContext): Promise<RepoMetadata> {
  const { spec } = ctx;
  const state = await ctx.store.readState(spec.id);
  if (!state || state.url !== spec.url || state.codename !== spec.codename) {
    throw new UserError(
      `no verified metadata for ${ctx.where} in ${ctx.store.dir}; run once online`,
      'Run without offline mode once so the metadata is fetched and verified.',
    );
  }
  // The store is a cache, not an authority: check the signature and expiry again.
  const rel = await verifyStored(ctx, state.release);
  checkRelease(ctx, rel.info);
  const refs = selectIndexes(ctx, rel.info);
  const packages = await loadIndexes(ctx, rel, refs);
  return result(ctx, rel, refs, packages, true);
}

/** The pinned Release from the store; online, fetched when absent, as long as the server still has that exact file. */
async function pinnedRelease(ctx: LoadContext, sha256: string): Promise<VerifiedRelease> {
  const file = await ctx.store.find({ sha256 });
  if (file) return verifyStored(ctx, await describeStored(ctx, file, sha256));
  if (ctx.opts.offline) {
    throw new UserError(
      `no verified metadata for ${ctx.where}: the pinned Release (sha256 ${sha256}) is not in ${ctx.store.dir}; run once online`,
      'Run without offline mode once, while the repository still serves that Release.',
    );
  }
  const rel = await fetchRelease(ctx);
  if (rel.signed.sha256 !== sha256) {
    throw new UserError(
      `${ctx.where}: the Release changed since the lock was written (locked sha256 ${sha256}, served ${rel.signed.sha256}) and the locked one is not in ${ctx.store.dir}`,
      'Update the lock, or restore the metadata store that holds the locked Release.',
    );
  }
  return rel;
}

/** How a stored Release was signed: a clearsigned file, or a Release with a recorded detached signature. */
async function describeStored(ctx: LoadContext, file: string, sha256: string): Promise<SignedRelease> {
  const data = await readFile(file);
  // Only picks the gpgv mode; the Release text itself always comes from gpgv's output.
  const inline = data.subarray(0, 64).toString('latin1').startsWith('-----BEGIN PGP SIGNED MESSAGE-----');
  if (inline) return { kind: 'inline', sha256, size: data.length };
  const signature = await ctx.store.signatureFor(sha256);
  return { kind: 'detached', sha256, size: data.length, ...(signature ? { signature } : {}) };
}

async function loadIndexes(ctx: LoadContext, rel: VerifiedRelease, refs: IndexRef[]): Promise<Loaded> {
  const packages: PackageRecord[] = [];
  const refused: RefusedPackage[] = [];
  for (const ref of refs) {
    const file = await obtainIndex(ctx, ref, rel.info.acquireByHash);
    const got = await readIndex(ctx, file, ref, plainDigest(rel.info, ref));
    for (const p of got.packages) packages.push(p);
    for (const r of got.refused) refused.push({ ...r, index: ref.path });
    const warning = refusedWarning(ctx, ref, got.refused);
    if (warning) ctx.opts.emit({ type: 'warning', message: warning });
  }
  return { packages, refused };
}

interface Loaded {
  packages: PackageRecord[];
  refused: RefusedPackage[];
}

function result(ctx: LoadContext, rel: VerifiedRelease, indexes: IndexRef[], loaded: Loaded, fromCache: boolean): RepoMetadata {
  const { info, signed } = rel;
  return {
    spec: ctx.spec,
    release: {
      sha256: signed.sha256,
      size: signed.size,
      ...(info.date ? { date: info.date.toISOString() } : {}),
      ...(info.validUntil ? { validUntil: info.validUntil.toISOString() } : {}),
      ...(rel.signedBy ? { signedBy: rel.signedBy } : {}),
      ...(info.suite ? { suite: info.suite } : {}),
      ...(info.codename ? { codename: info.codename } : {}),
    },
    indexes,
    packages: loaded.packages,
    refused: loaded.refused,
    fromCache,
  };
}
