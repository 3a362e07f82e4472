// The cache's manifests: one OCI image manifest per lock (and per target for
// its pinned artifacts), an artifact of g3-composer's own artifactType whose
// layers are the cached files, each a blob named by its SHA256 and titled by
// its place in the cache (`section/file`). A manifest is what keeps its blobs
// alive through the registry's garbage collection, and what `cache status`
// reads to say what the registry holds. The bytes are canonical (sorted, no
// time in them), so every host pushing the same lock pushes the same manifest.
import { createHash } from 'node:crypto';
import { EMPTY_DESCRIPTOR, RegistryError, statusError } from './blobs.js';
import { failure, header, registryGet, registrySend, type Session } from './http.js';

export const CACHE_ARTIFACT_TYPE = 'application/vnd.g3-composer.cache.v1';
export const CACHE_FILE_MEDIA_TYPE = 'application/vnd.g3-composer.file.v1';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const TITLE = 'org.opencontainers.image.title';
/** The spec lets registries refuse manifests over 4 MiB. */
const MAX_MANIFEST = 4 * 1024 * 1024;
const HEX64 = /^[0-9a-f]{64}$/;

/** One cached file: its place in the cache and the blob holding it. */
export interface CacheEntry {
  /** `section/file`, as the cache names it. */
  name: string;
  sha256: string;
  size: number;
}

/** The tag of a lock's manifest: `lock-<sha256 of the lock file>`. */
export function lockTag(lockSha256: string): string {
  return `lock-${lockSha256}`;
}

/** The tag of a snapshot's manifest: `<kind>-<key>` (chroot or installed, and the key its inputs give). */
export function snapshotTag(kind: string, key: string): string {
  return `${kind}-${key}`;
}

/** The tag of a target's pinned artifacts: `files-<sha256 of their canonical list>`. */
export function filesTag(entries: readonly CacheEntry[]): string {
  const text = canonical(entries)
    .map((e) => `${e.sha256} ${e.size} ${e.name}`)
    .join('\n');
  return `files-${createHash('sha256').update(text).digest('hex')}`;
}

function canonical(entries: readonly CacheEntry[]): CacheEntry[] {
  const seen = new Map<string, CacheEntry>();
  for (const e of entries) seen.set(`${e.name}\0${e.sha256}`, e);
  return [...seen.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.sha256 < b.sha256 ? -1 : 1));
}

/** The manifest's bytes: the empty config, one layer per entry, `annotations` on the manifest. */
export function cacheManifest(entries: readonly CacheEntry[], annotations: Record<string, string>): Buffer {
  const doc = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: CACHE_ARTIFACT_TYPE,
    config: EMPTY_DESCRIPTOR,
    layers: canonical(entries).map((e) => ({
      mediaType: CACHE_FILE_MEDIA_TYPE,
      digest: `sha256:${e.sha256}`,
      size: e.size,
      annotations: { [TITLE]: e.name },
    })),
    annotations: Object.fromEntries(Object.entries(annotations).sort(([a], [b]) => (a < b ? -1 : 1))),
  };
  return Buffer.from(JSON.stringify(doc));
}

/** The entries a manifest lists; a document that is not one of ours is refused. */
export function parseCacheManifest(s: Session, what: string, bytes: Buffer): CacheEntry[] {
  let doc: { artifactType?: unknown; layers?: unknown };
  try {
    doc = JSON.parse(bytes.toString('utf8')) as typeof doc;
  } catch {
    throw failure(s, `${what} is not JSON`);
  }
  if (doc?.artifactType !== CACHE_ARTIFACT_TYPE || !Array.isArray(doc.layers))
    throw failure(s, `${what} is not a g3-composer cache manifest (artifactType ${JSON.stringify(String(doc?.artifactType)).slice(0, 80)})`);
  const out: CacheEntry[] = [];
  for (const l of doc.layers as Array<{ digest?: unknown; size?: unknown; annotations?: Record<string, unknown> }>) {
    const hex = typeof l?.digest === 'string' && l.digest.startsWith('sha256:') ? l.digest.slice(7) : '';
    const name = l?.annotations?.[TITLE];
    if (!HEX64.test(hex) || !Number.isSafeInteger(l.size) || (l.size as number) < 0 || typeof name !== 'string')
      throw failure(s, `${what} has a layer without a sha256 digest, size and title`);
    out.push({ name, sha256: hex, size: l.size as number });
  }
  return out;
}

/** The entries of the manifest tagged `tag`, undefined when the repository has none. */
export async function getCacheManifest(s: Session, tag: string): Promise<CacheEntry[] | undefined> {
  const reply = await registryGet(s, `manifests/${tag}`, [OCI_MANIFEST], MAX_MANIFEST);
  if (reply.status === 404) return undefined;
  if (reply.status !== 200) {
    const code = reply.status;
    throw new RegistryError(failure(s, `reading manifest ${tag}: HTTP ${code}`).message, code === 429 || code >= 500, code);
  }
  // The registry names the bytes it sent; a digest that differs means they changed on the way.
  const announced = header(reply, 'docker-content-digest');
  const computed = `sha256:${createHash('sha256').update(reply.body).digest('hex')}`;
  if (announced?.startsWith('sha256:') && announced !== computed) throw failure(s, `manifest ${tag} does not match its Docker-Content-Digest ${announced}`);
  return parseCacheManifest(s, `manifest ${tag}`, reply.body);
}

/** PUT the manifest under `tag`; its blobs (and the empty config) must already be there. */
export async function putCacheManifest(s: Session, tag: string, bytes: Buffer): Promise<string> {
  const res = await registrySend(s, {
    method: 'PUT',
    url: `manifests/${tag}`,
    headers: { 'content-type': OCI_MANIFEST, 'content-length': String(bytes.length) },
    body: () => bytes,
  });
  if (res.statusCode !== 201) throw await statusError(s, `pushing manifest ${tag}`, res);
  await res.body.dump().catch(() => undefined);
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}
