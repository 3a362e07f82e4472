// Blobs of one repository, by digest (OCI Distribution API): HEAD, GET into
// a file verified on the way, and upload (cross-repository mount where the
// registry offers it, else one PUT for a small blob and PATCH chunks for a
// large one). Every answer is bounded in size and time; no error carries a
// secret (failure() redacts).
import { createHash } from 'node:crypto';
import { constants, createReadStream, openSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { StepError } from '../errors.js';
import { openNoFollow, UnexpectedLinkError } from '../fs/safe.js';
import { FetchError, type FetchSettings, streamToFile } from '../net/fetch.js';
import { failure, header, type Opened, registryErrorOf, registrySend, type Session } from './http.js';

/** The OCI empty descriptor's blob, `{}`: the config of an artifact that needs none. */
export const EMPTY_JSON = Buffer.from('{}');
export const EMPTY_DESCRIPTOR = {
  mediaType: 'application/vnd.oci.empty.v1+json',
  digest: `sha256:${createHash('sha256').update(EMPTY_JSON).digest('hex')}`,
  size: EMPTY_JSON.length,
} as const;

/** Blobs up to this size are uploaded in one PUT; larger ones in chunks of it. */
export const DEFAULT_CHUNK_BYTES = 16 * 1024 * 1024;
/** Error answers are read only this far. */
const MAX_ERROR_BYTES = 64 * 1024;

/** A registry problem, with whether trying again may help (network, 429, 5xx). */
export class RegistryError extends StepError {
  override name = 'RegistryError';
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
    /** The registry's own error codes, when it answered with them. */
    readonly codes: readonly string[] = [],
  ) {
    super(message);
  }
}

/** A blob whose bytes are not the ones its digest names: never used, never retried. */
export class BlobMismatchError extends Error {
  override name = 'BlobMismatchError';
}

/** Any error of a registry call as a RegistryError (failure() errors are network trouble when they say "cannot reach"). */
export function asRegistryError(err: unknown): RegistryError | BlobMismatchError {
  if (err instanceof RegistryError || err instanceof BlobMismatchError) return err;
  if (err instanceof FetchError) return new RegistryError(err.message, err.retryable);
  const message = (err as Error)?.message ?? String(err);
  return new RegistryError(message, /cannot reach|timed out|reading the answer/.test(message));
}

async function errorText(res: Opened): Promise<{ said: string; codes: string[] }> {
  let text = '';
  try {
    for await (const chunk of res.body) {
      text += (chunk as Buffer).toString('utf8');
      if (text.length > MAX_ERROR_BYTES) break;
    }
  } catch {
    // The status says enough.
  }
  res.body.on('error', () => undefined);
  res.body.destroy();
  return registryErrorOf(text);
}

/** The error for an unexpected status, with the registry's own words. */
export async function statusError(s: Session, what: string, res: Opened): Promise<RegistryError> {
  const code = res.statusCode;
  const { said, codes } = await errorText(res);
  const message = failure(s, `${what}: HTTP ${code}${said ? ` (${said})` : ''}`).message;
  return new RegistryError(message, code === 429 || code >= 500, code, codes);
}

async function dump(res: Opened): Promise<void> {
  await res.body.dump().catch(() => undefined);
}

const digestOf = (sha256: string) => `sha256:${sha256}`;

/** The blob's size when the repository has it, undefined when it does not. */
export async function headBlob(s: Session, sha256: string): Promise<number | undefined> {
  const res = await registrySend(s, { method: 'HEAD', url: `blobs/${digestOf(sha256)}` });
  if (res.statusCode === 404) {
    await dump(res);
    return undefined;
  }
  if (res.statusCode !== 200) throw await statusError(s, `HEAD of blob ${digestOf(sha256)}`, res);
  await dump(res);
  const length = Number(header(res, 'content-length'));
  return Number.isSafeInteger(length) ? length : -1;
}

/**
 * GET the blob into `dest` (created or truncated, never through a link),
 * checking its length and SHA256 on the way: 'missing' when the repository
 * has no such blob; a BlobMismatchError when its bytes are other ones.
 */
export async function pullBlob(
  s: Session,
  blob: { sha256: string; size: number },
  dest: string,
  pace: Pick<FetchSettings, 'timeoutMs' | 'minBytesPerSecond'>,
  onBytes?: (n: number) => void,
): Promise<'ok' | 'missing'> {
  const res = await registrySend(s, { method: 'GET', url: `blobs/${digestOf(blob.sha256)}` });
  if (res.statusCode === 404) {
    await dump(res);
    return 'missing';
  }
  if (res.statusCode !== 200) throw await statusError(s, `GET of blob ${digestOf(blob.sha256)}`, res);
  const declared = header(res, 'content-length');
  if (declared !== undefined && Number(declared) !== blob.size) {
    // Abort the body; undici reports the abort as an 'error' event nobody else listens to.
    res.body.on('error', () => undefined);
    res.body.destroy();
    throw new BlobMismatchError(`the registry announces ${declared} bytes for blob ${digestOf(blob.sha256)}, expected ${blob.size}`);
  }
  let got: { bytes: number; sha256: string };
  try {
    got = await streamToFile(res.body, dest, { bytes: blob.size, problem: `blob longer than the expected ${blob.size} bytes` }, onBytes, pace);
  } catch (err) {
    if (err instanceof FetchError && !err.retryable) throw new BlobMismatchError(`blob ${digestOf(blob.sha256)}: ${err.message}`);
    // A local problem (a link where the file goes) is not the registry's.
    if (err instanceof UnexpectedLinkError) throw err;
    throw asRegistryError(err);
  }
  if (got.bytes !== blob.size) throw new RegistryError(`blob ${digestOf(blob.sha256)} truncated: got ${got.bytes} of ${blob.size} bytes`, true);
  if (got.sha256 !== blob.sha256) throw new BlobMismatchError(`blob ${digestOf(blob.sha256)} has other bytes: they hash to sha256:${got.sha256.slice(0, 16)}…`);
  return 'ok';
}

/** A part of a file as a request body: each attempt opens it afresh (never through a link) and the stream closes it. */
function fileBody(file: string, start: number, end: number): () => Readable {
  return () => createReadStream('', { fd: openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW), start, end });
}

/** Where an upload goes next: the Location header, resolved against the URL that answered. */
function nextLocation(s: Session, res: Opened, what: string): string {
  const location = header(res, 'location');
  if (!location) throw failure(s, `${what}: the registry gave no upload location`);
  return new URL(location, res.where).toString();
}

function withDigest(location: string, sha256: string): string {
  const u = new URL(location);
  u.searchParams.set('digest', digestOf(sha256));
  return u.toString();
}

export type PushOutcome = 'exists' | 'mounted' | 'uploaded';

/**
 * Upload the file `file` (whose bytes the caller verified to be `blob`) unless
 * the repository has it: a HEAD first, then a POST that asks for a mount of
 * the digest (registries that find it elsewhere answer 201), else a monolithic
 * PUT up to `chunkBytes` and PATCH chunks above. Two hosts uploading the same
 * blob at once both succeed: the registry keeps one copy by digest.
 */
export async function pushBlob(
  s: Session,
  file: string,
  blob: { sha256: string; size: number },
  o: { chunkBytes?: number; mountFrom?: string } = {},
): Promise<PushOutcome> {
  if ((await headBlob(s, blob.sha256)) !== undefined) return 'exists';
  const chunk = o.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  const mount = new URLSearchParams({ mount: digestOf(blob.sha256), ...(o.mountFrom ? { from: o.mountFrom } : {}) });
  const started = await registrySend(s, { method: 'POST', url: `blobs/uploads/?${mount}`, headers: { 'content-length': '0' } });
  if (started.statusCode === 201) {
    await dump(started);
    return 'mounted';
  }
  if (started.statusCode !== 202) throw await statusError(s, `starting the upload of blob ${digestOf(blob.sha256)}`, started);
  await dump(started);
  let location = nextLocation(s, started, 'starting an upload');
  const fh = await openNoFollow(file, 'r');
  try {
    const st = await fh.stat();
    if (st.size !== blob.size) throw new BlobMismatchError(`${file} is ${st.size} bytes, expected ${blob.size}`);
    const octets = { 'content-type': 'application/octet-stream' };
    if (blob.size > chunk) {
      for (let start = 0; start < blob.size; start += chunk) {
        const end = Math.min(start + chunk, blob.size) - 1;
        const res = await registrySend(s, {
          method: 'PATCH',
          url: location,
          headers: { ...octets, 'content-length': String(end - start + 1), 'content-range': `${start}-${end}` },
          body: fileBody(file, start, end),
        });
        if (res.statusCode !== 202) throw await statusError(s, `uploading bytes ${start}-${end} of blob ${digestOf(blob.sha256)}`, res);
        await dump(res);
        location = nextLocation(s, res, 'uploading a chunk');
      }
    }
    const whole = blob.size <= chunk;
    const res = await registrySend(s, {
      method: 'PUT',
      url: withDigest(location, blob.sha256),
      headers: { ...octets, 'content-length': String(whole ? blob.size : 0) },
      body: whole ? fileBody(file, 0, Math.max(0, blob.size - 1)) : () => Buffer.alloc(0),
    });
    if (res.statusCode !== 201) throw await statusError(s, `completing the upload of blob ${digestOf(blob.sha256)}`, res);
    await dump(res);
    return 'uploaded';
  } finally {
    await fh.close();
  }
}

/** Upload small bytes held in memory (the empty config, a manifest's own blobs) unless present. */
export async function pushBytes(s: Session, bytes: Buffer): Promise<PushOutcome> {
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if ((await headBlob(s, sha256)) !== undefined) return 'exists';
  const started = await registrySend(s, { method: 'POST', url: 'blobs/uploads/', headers: { 'content-length': '0' } });
  if (started.statusCode !== 202) throw await statusError(s, 'starting an upload', started);
  await dump(started);
  const res = await registrySend(s, {
    method: 'PUT',
    url: withDigest(nextLocation(s, started, 'starting an upload'), sha256),
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) },
    body: () => bytes,
  });
  if (res.statusCode !== 201) throw await statusError(s, `completing the upload of blob ${digestOf(sha256)}`, res);
  await dump(res);
  return 'uploaded';
}
