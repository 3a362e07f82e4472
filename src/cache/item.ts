// Refreshing one item through the tiers: local → shared → registry → origin, with
// verification before every use and write-back to the shared tier.
import { lstat, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Artifact } from '../catalogue/types.js';
import { ignoreNotFound, realDirsTo, UnexpectedLinkError } from '../fs/safe.js';
import type { Emit, Tier } from '../log/events.js';
import { ensureDirFor, placeCopy, publish, removeQuietly, sweepTemps, tempPathFor } from '../fs/atomic.js';
import { track, untrack } from '../fs/cleanup.js';
import { download, type FetchSettings } from '../net/fetch.js';
import { hashFile } from '../fs/hash.js';
import { acquireLock, type Lock, tryAcquireLock } from '../fs/lock.js';
import { dropStamp, identityOf, writeStamp } from './stamp.js';
import { type ItemPaths, itemPaths } from './tiers.js';
import { verifyFile } from './verify.js';
import { redactSecrets, redactUrl } from '../text/untrusted.js';
import type { Gate } from '../pool.js';
import type { RegistryTier } from './registry-tier.js';

export interface EngineContext {
  localRoot: string;
  sharedRoot?: string;
  sharedReadOnly?: boolean;
  offline: boolean;
  /** Ignore stamps and rehash everything. */
  verify: boolean;
  lockStaleMs: number;
  fetch: FetchSettings;
  emit: Emit;
  /** The registry tier, between shared and origin; undefined when none is set (or --offline). */
  registry?: RegistryTier;
  /**
   * The transfer slots (`workers` of them): a download holds one from its
   * request to its last byte, a registry pull for its whole length. Checks,
   * locks, fsyncs and stamps run outside them. Without it, nothing limits transfers here.
   */
  transfers?: Gate;
}

export interface ItemResult {
  item: string;
  from?: Tier;
  /** missing: offline and not cached; failed: every URL failed. */
  status: 'ok' | 'missing' | 'failed';
  bytes: number;
  placed?: 'link' | 'copy';
  writtenBack: boolean;
  failures: Array<{ url: string; reason: string }>;
  corrupt: Array<{ tier: 'local' | 'shared' | 'registry'; reason: string }>;
  /** Why the local copy was unusable, seen before the lock was taken. */
  localProblem?: string;
}

/** The display name of an artifact. */
export function itemName(a: Artifact): string {
  return `${a.section}/${a.file}`;
}

/** Bring one artifact into the local tier, verified. */
export async function refreshItem(a: Artifact, ctx: EngineContext): Promise<ItemResult> {
  const started = performance.now();
  const r: ItemResult = { item: itemName(a), status: 'ok', bytes: 0, writtenBack: false, failures: [], corrupt: [] };
  const local = itemPaths(ctx.localRoot, a.section, a.file);
  const shared = ctx.sharedRoot ? itemPaths(ctx.sharedRoot, a.section, a.file) : undefined;
  const done = (from: Tier, detail?: string) => {
    r.from = from;
    ctx.emit({ type: 'item-done', item: r.item, from, bytes: r.bytes, seconds: (performance.now() - started) / 1000, detail });
    return r;
  };

  if (await localIsGood(a, local, ctx, r, false)) {
    await writeBack(a, local, shared, ctx, r);
    return done('local', r.writtenBack ? 'written back to shared' : undefined);
  }

  // A verified shared copy needs no lock: files there are only ever replaced
  // by an atomic rename of another verified file.
  if (shared && (await fromShared(a, local, shared, ctx, r, false))) {
    if (r.localProblem) noteCorrupt(r, ctx, 'local', r.localProblem); // the bad local copy was replaced
    return done('shared', r.placed === 'link' ? 'hardlinked' : 'copied');
  }

  // Not usable locally: take the item's lock (in the shared tier when there is
  // one, so builders on other hosts single-flight too) and look again.
  const lockTier = shared && !ctx.sharedReadOnly ? shared : local;
  const lock = await acquireItemLock(lockTier, r.item, ctx);
  try {
    if (await localIsGood(a, local, ctx, r, true)) return done('local', 'filled meanwhile by another builder');
    if (shared && (await fromShared(a, local, shared, ctx, r, true))) return done('shared', r.placed === 'link' ? 'hardlinked' : 'copied');
    if (ctx.registry && (await fromRegistry(a, local, ctx, r))) {
      if (shared && !ctx.sharedReadOnly) await writeBack(a, local, shared, ctx, r, lock);
      return done('registry');
    }
    if (ctx.offline) {
      r.status = 'missing';
      ctx.emit({ type: 'item-missing', item: r.item, reason: 'not in any cache tier, and --offline forbids downloading' });
      return r;
    }
    await sweepTemps(path.dirname(local.file), a.file, ctx.lockStaleMs);
    if (!(await fromOrigin(a, local, ctx, r))) {
      r.status = 'failed';
      ctx.emit({ type: 'item-failed', item: r.item, reason: r.failures.map((f) => `${f.url}: ${f.reason}`).join('; ') });
      return r;
    }
    if (shared && !ctx.sharedReadOnly) await writeBack(a, local, shared, ctx, r, lock);
    return done('origin');
  } finally {
    await lock.release();
  }
}

async function acquireItemLock(tier: ItemPaths, item: string, ctx: EngineContext): Promise<Lock> {
  return acquireLock(tier.lock, {
    root: tier.root,
    staleMs: ctx.lockStaleMs,
    onWait: (o) => ctx.emit({ type: 'waiting', item, holder: o ? `pid ${o.pid} on ${o.host.split('/')[0]}` : 'another builder' }),
    onBreak: (o, why) => ctx.emit({ type: 'warning', message: `broke a stale lock on ${item}${o ? ` held by pid ${o.pid}` : ''}: ${why}` }),
  });
}

// Verify the local copy; a bad one is removed, but only while we hold the lock
// (another builder may be publishing a good file under that name right now).
async function localIsGood(a: Artifact, local: ItemPaths, ctx: EngineContext, r: ItemResult, locked: boolean): Promise<boolean> {
  const v = await verifyFile(local, a, { force: ctx.verify });
  if (v.state === 'ok') {
    r.bytes = v.size;
    return true;
  }
  if (v.state === 'bad' && locked) {
    noteCorrupt(r, ctx, 'local', v.reason);
    await removeEntry(local);
  } else if (v.state === 'bad') {
    r.localProblem = v.reason;
  }
  return false;
}

function noteCorrupt(r: ItemResult, ctx: EngineContext, tier: 'local' | 'shared' | 'registry', reason: string): void {
  r.corrupt.push({ tier, reason });
  ctx.emit({ type: 'corrupt', item: r.item, tier, reason });
}

async function removeEntry(p: ItemPaths): Promise<void> {
  if (await realDirsTo(p.root, p.file)) await rm(p.file, { force: true, recursive: true });
  await dropStamp(p.root, p.stamp);
}

// Shared → local. Link when on one filesystem (the verified inode itself);
// otherwise copy and check the copy's bytes before it gets its final name.
// Without the lock a bad shared copy is left for the locked pass to remove.
async function fromShared(a: Artifact, local: ItemPaths, shared: ItemPaths, ctx: EngineContext, r: ItemResult, locked: boolean): Promise<boolean> {
  const v = await verifyFile(shared, a, { force: ctx.verify, stamp: !ctx.sharedReadOnly });
  if (v.state === 'missing') return false;
  if (v.state === 'bad' && !locked) return false;
  if (v.state === 'bad') {
    noteCorrupt(r, ctx, 'shared', v.reason);
    if (!ctx.sharedReadOnly) await removeEntry(shared);
    return false;
  }
  try {
    r.placed = await placeCopy(shared.file, local.file, (tmp) => expectDigest(tmp, a), local.root);
  } catch (err) {
    if (err instanceof UnexpectedLinkError) throw err;
    if (!locked) return false;
    const reason = (err as Error).message;
    noteCorrupt(r, ctx, 'shared', reason);
    if (!ctx.sharedReadOnly) await removeEntry(shared);
    return false;
  }
  await stampNow(local, a);
  r.bytes = v.size;
  return true;
}

// Registry → local: the blob named by the item's SHA256, checked on the way in
// and published only when its bytes are the right ones. A bad blob is reported
// and never used; the origin is asked next.
async function fromRegistry(a: Artifact, local: ItemPaths, ctx: EngineContext, r: ItemResult): Promise<boolean> {
  if (!ctx.registry?.usable) return false;
  await ensureDirFor(local.file, local.root);
  const tmp = tempPathFor(local.file);
  track(tmp);
  try {
    const registry = ctx.registry;
    const pull = () => registry.pull(a, tmp, (n) => ctx.emit({ type: 'bytes', n }));
    const got = ctx.transfers ? await ctx.transfers.run(pull) : await pull();
    if (got.state === 'bad') noteCorrupt(r, ctx, 'registry', got.reason);
    if (got.state !== 'ok') return false;
    await publish(tmp, local.file);
    await stampNow(local, a);
    r.bytes = a.size ?? 0;
    return true;
  } finally {
    await removeQuietly(tmp);
    untrack(tmp);
  }
}

async function fromOrigin(a: Artifact, local: ItemPaths, ctx: EngineContext, r: ItemResult): Promise<boolean> {
  await ensureDirFor(local.file, local.root);
  for (const url of a.urls) {
    const tmp = tempPathFor(local.file);
    track(tmp);
    try {
      const got = await download(url, tmp, a, ctx.fetch, (n) => ctx.emit({ type: 'bytes', n }), ctx.transfers);
      await publish(tmp, local.file);
      await stampNow(local, a);
      r.bytes = got.bytes;
      return true;
    } catch (err) {
      // The report and its events leave the process (JSON, the run log, CI): no token in them.
      const shown = redactUrl(url);
      const reason = redactSecrets((err as Error).message);
      r.failures.push({ url: shown, reason });
      if (a.urls.length > 1) ctx.emit({ type: 'retry', item: r.item, url: shown, reason });
    } finally {
      await removeQuietly(tmp);
      untrack(tmp);
    }
  }
  return false;
}

// Local → shared, when the shared tier lacks a verified copy. The check comes
// first and needs no lock, so a warm run takes none; without the lock in hand
// we then only try for it: if another builder holds it, it is filling the tier.
async function writeBack(a: Artifact, local: ItemPaths, shared: ItemPaths | undefined, ctx: EngineContext, r: ItemResult, held?: Lock): Promise<void> {
  if (!shared || ctx.sharedReadOnly) return;
  if (await sameInode(local.file, shared.file)) return;
  if (!held && (await verifyFile(shared, a, { force: ctx.verify })).state === 'ok') return;
  const lock = held ?? (await tryAcquireLock(shared.lock, { staleMs: ctx.lockStaleMs, root: shared.root }));
  if (!lock) return;
  try {
    // Under the lock, look again: another builder may have filled it meanwhile.
    const v = await verifyFile(shared, a, { force: ctx.verify });
    if (v.state === 'ok') return;
    if (v.state === 'bad') {
      noteCorrupt(r, ctx, 'shared', v.reason);
      await removeEntry(shared);
    }
    await placeCopy(local.file, shared.file, (tmp) => expectDigest(tmp, a), shared.root);
    await stampNow(shared, a);
    r.writtenBack = true;
  } catch (err) {
    ctx.emit({ type: 'warning', message: `could not write ${r.item} back to the shared cache: ${(err as Error).message}` });
  } finally {
    if (!held) await lock.release();
  }
}

async function sameInode(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([ignoreNotFound(lstat(a, { bigint: true })), ignoreNotFound(lstat(b, { bigint: true }))]);
  return !!x && !!y && x.ino === y.ino && x.dev === y.dev;
}

async function expectDigest(file: string, a: Artifact): Promise<void> {
  const d = await hashFile(file, { noFollow: true });
  if (d.sha256 !== a.sha256) throw new Error(`copy has sha256 ${d.sha256.slice(0, 16)}…, expected ${a.sha256.slice(0, 16)}…`);
}

// Called right after we verified the bytes ourselves.
async function stampNow(p: ItemPaths, a: Artifact): Promise<void> {
  try {
    await writeStamp(p.root, p.stamp, identityOf((await lstat(p.file, { bigint: true })) as never), a.sha256);
  } catch (err) {
    if (err instanceof UnexpectedLinkError) throw err;
    // Only costs a rehash next time.
  }
}
