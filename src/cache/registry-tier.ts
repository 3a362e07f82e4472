// The registry tier: an OCI repository between the shared folder and the
// origin. Lookups are by the SHA256 the lock or catalogue already holds; what
// comes from it is verified before it is used; what this run verified is
// pushed back, then the manifest that lists it. A registry that is down, slow,
// full or refuses gets one warning and is left alone for the rest of the run:
// the next tier takes over, and nothing fails because of it.
import { setTimeout as delay } from 'node:timers/promises';
import type { Artifact } from '../catalogue/types.js';
import pRetry, { AbortError } from 'p-retry';
import { StepError, UserError } from '../errors.js';
import type { Emit } from '../log/events.js';
import { type FetchSettings, maxBytesOf } from '../net/fetch.js';
import { mapPool } from '../pool.js';
import { asRegistryError, BlobMismatchError, EMPTY_JSON, type PushOutcome, headBlob, pullBlob, pushBlob, pushBytes, RegistryError } from '../registry/blobs.js';
import { type CacheEntry, cacheManifest, getCacheManifest, putCacheManifest, snapshotTag } from '../registry/cache-manifest.js';
import { credentialsFromEnv } from '../registry/credentials.js';
import { closeRegistryConnections, type Session } from '../registry/http.js';
import { isLoopback, parseRef } from '../registry/ref.js';
import { escapeInline } from '../text/untrusted.js';

export interface RegistryTierOptions {
  /** `host[:port]/repository`. */
  ref: string;
  /** Registries allowed over plain HTTP though not on loopback. */
  insecure: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  fetch: FetchSettings;
  workers: number;
  emit: Emit;
  /** Blobs up to this size go in one PUT, larger ones in chunks of it. */
  chunkBytes?: number;
}

/** How often a manifest refused for a blob the registry lost meanwhile is sent (blobs pushed again between). */
const MANIFEST_ATTEMPTS = 4;

export type PullResult = { state: 'ok' } | { state: 'missing' } | { state: 'bad'; reason: string };

/** What the tier did in one run, for reports. */
export interface RegistryStats {
  repository: string;
  /** Why it was not used (down, refused), when it was not. */
  unusable: string | null;
  /** Why nothing was pushed, when pushing failed. */
  pushFailed: string | null;
  pulled: number;
  bytesPulled: number;
  pushed: number;
  bytesPushed: number;
  mounted: number;
  /** Blobs the registry had already (HEAD). */
  present: number;
  manifests: string[];
}

/** The reference checked: a repository without tag or digest. */
export function parseCacheRegistry(ref: string): { registry: string; repository: string } {
  const parsed = parseRef(ref, 'cache_registry');
  if (parsed.registry === undefined || parsed.tag !== undefined || parsed.digest !== undefined)
    throw new UserError(
      `cache_registry ${JSON.stringify(escapeInline(ref))} must be host[:port]/repository, without tag or digest`,
      'e.g. G3_CACHE_REGISTRY=127.0.0.1:5000/g3-cache or --cache-registry registry.lan:5000/team/g3-cache',
    );
  return { registry: parsed.registry, repository: parsed.repository };
}

export class RegistryTier {
  readonly session: Session;
  readonly stats: RegistryStats;
  private readonly manifests = new Map<string, Promise<CacheEntry[] | undefined>>();

  constructor(private readonly o: RegistryTierOptions) {
    const { registry, repository } = parseCacheRegistry(o.ref);
    const insecure = !isLoopback(registry) && o.insecure.includes(registry);
    this.session = { registry, repository, credentials: credentialsFromEnv(o.env), timeoutMs: o.fetch.timeoutMs, insecure };
    this.stats = {
      repository: `${registry}/${repository}`,
      unusable: null,
      pushFailed: null,
      pulled: 0,
      bytesPulled: 0,
      pushed: 0,
      bytesPushed: 0,
      mounted: 0,
      present: 0,
      manifests: [],
    };
  }

  /** Limits for each request and body, as for downloads. */
  get fetchSettings(): FetchSettings {
    return this.o.fetch;
  }

  get usable(): boolean {
    return this.stats.unusable === null;
  }

  /** Give up on the registry for this run, with one warning. */
  private giveUp(err: unknown): void {
    if (this.stats.unusable !== null) return;
    this.stats.unusable = asRegistryError(err).message;
    this.o.emit({ type: 'warning', message: `cache registry ${this.stats.repository} not used for the rest of this run: ${this.stats.unusable}` });
  }

  /** `fn` with the download retries for network trouble, 429 and 5xx. */
  private async retrying<T>(fn: () => Promise<T>): Promise<T> {
    const f = this.o.fetch;
    return pRetry(
      async () => {
        try {
          return await fn();
        } catch (err) {
          const e = asRegistryError(err);
          if (e instanceof BlobMismatchError || !e.retryable) throw new AbortError(e);
          throw e;
        }
      },
      { retries: f.retries, factor: 2, minTimeout: f.minBackoffMs, maxTimeout: 30_000, randomize: true },
    ).catch((err: unknown) => {
      throw err instanceof AbortError ? err.originalError : err;
    });
  }

  /** What the manifest tagged `tag` lists (undefined: none, or the registry is unusable). */
  async listed(tag: string): Promise<CacheEntry[] | undefined> {
    if (!this.usable) return undefined;
    let p = this.manifests.get(tag);
    if (!p) {
      p = this.retrying(() => getCacheManifest(this.session, tag)).catch((err: unknown) => {
        this.giveUp(err);
        return undefined;
      });
      this.manifests.set(tag, p);
    }
    return p;
  }

  /** Fetch `a`'s blob into `dest`, verified; a registry that fails is given up on (the result is then 'missing'). */
  async pull(a: Artifact, dest: string, onBytes?: (n: number) => void): Promise<PullResult> {
    if (!this.usable) return { state: 'missing' };
    try {
      // A catalogue entry without a size takes the registry's; the SHA256 still decides.
      const size = a.size ?? (await this.retrying(() => headBlob(this.session, a.sha256)));
      if (size === undefined || size < 0) return { state: 'missing' };
      // A size the registry named (a snapshot's manifest, a HEAD) is bounded like any download.
      if (size > maxBytesOf(this.o.fetch)) return { state: 'bad', reason: `${size} bytes, more than the largest download allowed (max_download_mib)` };
      const got = await this.retrying(() => pullBlob(this.session, { sha256: a.sha256, size }, dest, this.o.fetch, onBytes));
      if (got === 'missing') return { state: 'missing' };
      this.stats.pulled++;
      this.stats.bytesPulled += size;
      return { state: 'ok' };
    } catch (err) {
      if (err instanceof BlobMismatchError) return { state: 'bad', reason: err.message };
      // A local problem is not the registry's: it stops the item, as it would with any tier.
      if (!(err instanceof StepError)) throw err;
      this.giveUp(err);
      return { state: 'missing' };
    }
  }

  /**
   * Push every file (each verified by this run) the registry lacks, then the
   * manifest tagged `tag` that lists them; nothing when the manifest already
   * lists exactly these entries. A failure is one warning: the run goes on.
   */
  async pushBack(tag: string, files: ReadonlyArray<{ file: string; entry: CacheEntry }>, annotations: Record<string, string>): Promise<boolean> {
    if (!this.usable || this.stats.pushFailed !== null || files.length === 0) return false;
    const want = new Set(files.map((f) => `${f.entry.name}\0${f.entry.sha256}`));
    const have = await this.listed(tag);
    if (have && have.length === want.size && have.every((e) => want.has(`${e.name}\0${e.sha256}`))) return true;
    if (!this.usable) return false;
    try {
      await this.retrying(() => pushBytes(this.session, EMPTY_JSON));
      // One blob per digest, though two names may share one.
      const unique = [...new Map(files.map((f) => [f.entry.sha256, f])).values()];
      const pushAll = (again: boolean) =>
        mapPool(unique, this.o.workers, (f) =>
          this.retrying(() => pushBlob(this.session, f.file, f.entry, { chunkBytes: this.o.chunkBytes })).then((r) =>
            again && r === 'exists' ? r : this.count(r, f.entry.size),
          ),
        );
      await pushAll(false);
      const manifest = cacheManifest(
        files.map((f) => f.entry),
        annotations,
      );
      const digest = await this.putManifest(tag, manifest, () => pushAll(true));
      this.stats.manifests.push(`${tag}@${digest}`);
      this.manifests.set(tag, Promise.resolve(files.map((f) => f.entry)));
      return true;
    } catch (err) {
      const e = asRegistryError(err);
      this.stats.pushFailed = e.message;
      this.o.emit({ type: 'warning', message: `could not push to the cache registry ${this.stats.repository}: ${e.message}` });
      return false;
    }
  }

  /**
   * The snapshot `kind`/`key` into `dest`: the blob its manifest (tagged
   * `<kind>-<key>`) names, verified; undefined when there is none, it is
   * corrupt (a warning) or the registry fails (given up on).
   */
  async fetchSnapshot(kind: string, key: string, dest: string): Promise<{ sha256: string; size: number } | undefined> {
    const entry = (await this.listed(snapshotTag(kind, key)))?.[0];
    if (!entry) return undefined;
    const got = await this.pull(
      { section: 'snapshots', file: `${kind}-${key}`, sha256: entry.sha256, size: entry.size, urls: [], origin: { file: '', line: 0 } },
      dest,
    );
    if (got.state === 'bad')
      this.o.emit({ type: 'warning', message: `the cache registry's ${kind} snapshot ${key.slice(0, 16)}… is corrupt, not used: ${got.reason}` });
    if (got.state !== 'ok') return undefined;
    this.o.emit({ type: 'info', message: `${kind} snapshot ${key.slice(0, 16)}… fetched from the cache registry (${entry.size} bytes)` });
    return { sha256: entry.sha256, size: entry.size };
  }

  /** Push a verified snapshot and its manifest, unless the registry has this one already. */
  async pushSnapshot(kind: string, key: string, file: string, stamp: { sha256: string; size: number }): Promise<void> {
    const entry: CacheEntry = { name: `snapshots/${kind}-${key}`, sha256: stamp.sha256, size: stamp.size };
    await this.pushBack(snapshotTag(kind, key), [{ file, entry }], { 'org.g3-composer.snapshot': kind, 'org.g3-composer.key': key });
  }

  /** This tier as the composer's snapshot remote. */
  snapshots(): { fetch: RegistryTier['fetchSnapshot']; push: RegistryTier['pushSnapshot'] } {
    return { fetch: (k, key, dest) => this.fetchSnapshot(k, key, dest), push: (k, key, file, stamp) => this.pushSnapshot(k, key, file, stamp) };
  }

  /**
   * PUT a manifest whose blobs were just pushed. A registry that stores on a
   * filesystem writes a blob's link in place, so while another builder pushes
   * the same blob a manifest can be refused as naming a blob it lacks
   * (MANIFEST_BLOB_UNKNOWN, with DIGEST_INVALID for the half-written link):
   * then every blob is pushed again where it is missing and the manifest sent
   * once more, a few times, before it counts as a failure.
   */
  private async putManifest(tag: string, manifest: Buffer, pushAgain: () => Promise<unknown>): Promise<string> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.retrying(() => putCacheManifest(this.session, tag, manifest));
      } catch (err) {
        const e = asRegistryError(err);
        const blobsLost = e instanceof RegistryError && e.status === 400 && e.codes.includes('MANIFEST_BLOB_UNKNOWN');
        if (!blobsLost || attempt >= MANIFEST_ATTEMPTS) throw err;
        await delay(Math.min(this.o.fetch.minBackoffMs, 1000) * attempt);
        await pushAgain();
      }
    }
  }

  private count(r: PushOutcome, size: number): PushOutcome {
    if (r === 'exists') this.stats.present++;
    else if (r === 'mounted') this.stats.mounted++;
    else {
      this.stats.pushed++;
      this.stats.bytesPushed += size;
    }
    return r;
  }

  async close(): Promise<void> {
    await closeRegistryConnections();
  }
}

/** The registry tier the settings ask for, or undefined (none set, or --offline: no network at all). */
export function openRegistryTier(o: Omit<RegistryTierOptions, 'ref'> & { ref: string | undefined; offline: boolean }): RegistryTier | undefined {
  if (!o.ref || o.offline) return undefined;
  return new RegistryTier({ ...o, ref: o.ref });
}
