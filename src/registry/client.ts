// Reads what a registry holds under an image reference: the manifest's digest
// and the image config's labels and creation time. Accepts Docker schema 2
// and OCI manifests, and indexes (manifest lists), from which it takes
// linux/amd64. Every document is checked against the digest that named it.
import { createHash } from 'node:crypto';
import { UserError } from '../errors.js';
import type { Credentials } from './credentials.js';
import { failure, header, type Reply, registryErrorText, registryGet, type Session } from './http.js';
import { formatRef, type ImageRef, manifestReference } from './ref.js';

export interface RemoteImage {
  /** Digest of the manifest the reference points at (an index's own digest when it is one). */
  digest: string;
  labels: Record<string, string>;
  created?: string;
}

export interface RemoteOptions {
  credentials?: Credentials;
  /** Limit for each HTTP request. */
  timeoutMs: number;
  /** The platform taken from an index; default linux/amd64. */
  platform?: { os: string; architecture: string };
}

export const MEDIA = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
} as const;

const ACCEPT = [MEDIA.ociIndex, MEDIA.dockerList, MEDIA.ociManifest, MEDIA.dockerManifest];
const INDEXES: string[] = [MEDIA.ociIndex, MEDIA.dockerList];
const MANIFESTS: string[] = [MEDIA.ociManifest, MEDIA.dockerManifest];
/** The spec lets registries refuse manifests over 4 MiB; configs are smaller still in practice. */
const MAX_MANIFEST = 4 * 1024 * 1024;
const MAX_CONFIG = 8 * 1024 * 1024;
/** An index inside an index is allowed once; deeper nesting is refused rather than followed. */
const MAX_DEPTH = 2;

interface Descriptor {
  mediaType?: string;
  digest?: string;
  platform?: { os?: string; architecture?: string; variant?: string };
}

interface Document {
  schemaVersion?: number;
  mediaType?: string;
  manifests?: Descriptor[];
  config?: Descriptor;
}

/** `algorithm:hex` of bytes, for the algorithms references may use. */
function digestOf(bytes: Buffer, algorithm: string): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

/** Throw unless `bytes` hash to `expected` (registry or transport corruption, or a lying server). */
function verify(s: Session, what: string, bytes: Buffer, expected: string): void {
  const algorithm = expected.split(':')[0] ?? '';
  if (algorithm !== 'sha256' && algorithm !== 'sha512') throw failure(s, `${what} is named by ${expected}, a digest algorithm we do not check`);
  const got = digestOf(bytes, algorithm);
  if (got !== expected) throw failure(s, `${what} does not match its digest: expected ${expected}, got ${got}`);
}

/** Whether a reply means "no such manifest or repository" (an answer, not a failure). */
function isUnknown(reply: Reply): boolean {
  if (reply.status === 404) return true;
  try {
    const doc = JSON.parse(reply.body.toString('utf8')) as { errors?: { code?: string }[] };
    return reply.status < 500 && (doc.errors ?? []).some((e) => e.code === 'MANIFEST_UNKNOWN' || e.code === 'NAME_UNKNOWN');
  } catch {
    return false;
  }
}

/** The registry's own error text (its `errors` array), or the start of the body. */
function registryMessage(reply: Reply): string {
  return registryErrorText(reply.body.toString('utf8'));
}

function parse(s: Session, what: string, bytes: Buffer): Document {
  try {
    const doc = JSON.parse(bytes.toString('utf8')) as unknown;
    if (doc && typeof doc === 'object' && !Array.isArray(doc)) return doc as Document;
  } catch {
    // reported below
  }
  throw failure(s, `${what} is not a JSON object`);
}

function mediaTypeOf(reply: Reply, doc: Document): string {
  return doc.mediaType ?? (header(reply, 'content-type') ?? '').split(';')[0]?.trim() ?? '';
}

function pickPlatform(s: Session, what: string, doc: Document, want: { os: string; architecture: string }): string {
  const match = (doc.manifests ?? []).find((d) => d.platform?.os === want.os && d.platform?.architecture === want.architecture);
  if (!match?.digest) {
    const offered = (doc.manifests ?? []).map((d) => `${d.platform?.os ?? '?'}/${d.platform?.architecture ?? '?'}`).join(', ') || 'none';
    throw failure(s, `${what} is an index without a ${want.os}/${want.architecture} image (it has: ${offered})`);
  }
  return match.digest;
}

/** The labels and creation time in an image config blob. */
async function readConfig(s: Session, digest: string): Promise<Pick<RemoteImage, 'labels' | 'created'>> {
  const what = `image config ${digest}`;
  const reply = await registryGet(s, `blobs/${digest}`, ['application/json', '*/*'], MAX_CONFIG);
  if (reply.status !== 200) throw failure(s, `reading ${what} failed: HTTP ${reply.status} ${registryMessage(reply)}`);
  verify(s, what, reply.body, digest);
  const doc = parse(s, what, reply.body) as { created?: unknown; config?: { Labels?: Record<string, string> | null } };
  const labels = doc.config?.Labels ?? {};
  return { labels, ...(typeof doc.created === 'string' && { created: doc.created }) };
}

/** Follow `reference` through indexes down to an image manifest and read its config. */
async function resolve(s: Session, reference: string, opts: RemoteOptions, depth: number): Promise<RemoteImage | undefined> {
  const what = `manifest ${reference}`;
  const reply = await registryGet(s, `manifests/${reference}`, ACCEPT, MAX_MANIFEST);
  if (isUnknown(reply)) return undefined;
  if (reply.status !== 200) throw failure(s, `reading ${what} failed: HTTP ${reply.status} ${registryMessage(reply)}`);
  const pinned = reference.includes(':') ? reference : undefined;
  if (pinned) verify(s, what, reply.body, pinned);
  const computed = digestOf(reply.body, 'sha256');
  const announced = header(reply, 'docker-content-digest');
  if (announced?.startsWith('sha256:') && announced !== computed)
    throw failure(s, `${what} does not match the Docker-Content-Digest ${announced} (got ${computed})`);
  const digest = pinned ?? computed;
  const doc = parse(s, what, reply.body);
  const type = mediaTypeOf(reply, doc);
  if (INDEXES.includes(type) || (!type && Array.isArray(doc.manifests))) {
    if (depth >= MAX_DEPTH) throw failure(s, `${what} nests indexes more than ${MAX_DEPTH} deep`);
    const child = pickPlatform(s, what, doc, opts.platform ?? { os: 'linux', architecture: 'amd64' });
    const image = await resolve(s, child, opts, depth + 1);
    if (!image) throw failure(s, `${what} lists ${child}, which the registry does not have`);
    return { ...image, digest };
  }
  if (doc.schemaVersion === 1 || /distribution\.manifest\.v1\+/.test(type))
    throw failure(s, `${what} is a schema 1 manifest, which we do not read; push the image again with a current docker`);
  if (!MANIFESTS.includes(type) && !(type === '' && doc.config))
    throw failure(s, `${what} has media type ${JSON.stringify(type)}, not an image manifest or index`);
  if (!doc.config?.digest) throw failure(s, `${what} names no config blob`);
  return { digest, ...(await readConfig(s, doc.config.digest)) };
}

/** What the registry holds under `ref`: digest, labels and creation time; undefined when it has no such manifest or repository. */
export async function remoteImage(ref: ImageRef, opts: RemoteOptions): Promise<RemoteImage | undefined> {
  if (ref.registry === undefined) {
    throw new UserError(`the image reference ${formatRef(ref)} names no registry`, 'Write the registry host in front, e.g. 127.0.0.1:5000/team/image:tag.');
  }
  const session: Session = { registry: ref.registry, repository: ref.repository, credentials: opts.credentials, timeoutMs: opts.timeoutMs };
  return resolve(session, manifestReference(ref), opts, 0);
}
