// Blob HEAD, GET and upload against a small fake OCI registry on 127.0.0.1
// that keeps blobs by digest, speaks the upload protocol (POST, PATCH with
// Content-Range, PUT ?digest=, cross-repository mount), records every request
// and can be told to fail, to want Basic credentials or to tamper with blobs.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RegistryTier } from '../../src/cache/registry-tier.js';
import { StepError } from '../../src/errors.js';
import type { CacheEvent } from '../../src/log/events.js';
import { UnexpectedLinkError } from '../../src/fs/safe.js';
import { defaultFetchSettings, FetchError } from '../../src/net/fetch.js';
import {
  asRegistryError,
  BlobMismatchError,
  EMPTY_DESCRIPTOR,
  EMPTY_JSON,
  headBlob,
  pullBlob,
  pushBlob,
  pushBytes,
  RegistryError,
} from '../../src/registry/blobs.js';
import { cacheManifest, getCacheManifest, putCacheManifest } from '../../src/registry/cache-manifest.js';
import type { Credentials } from '../../src/registry/credentials.js';
import type { Session } from '../../src/registry/http.js';
import { rejectionOf } from '../support/failure.js';
import { useRegistryServers } from './registry-servers.js';
import { useTempDirs } from './tmpdir.js';

const tempDir = useTempDirs('g3-blobs-unit-');
const servers = useRegistryServers();

const REPO = 'team/cache';
const PASSWORD = 'S3cret pa55"word';
const CREDS: Credentials = { username: 'bob', password: PASSWORD, from: 'REGISTRY_*' };
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const hex = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');
const PACE = { timeoutMs: 5000, minBytesPerSecond: 0 };

interface Seen {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  bytes: number;
}

/** A fake registry: blobs keyed `<repo>@<digest>`, manifests `<repo>:<tag>`. */
async function fakeRegistry() {
  const uploads = new Map<string, { repo: string; parts: Buffer[]; size: number }>();
  let fault: { status: number; left: number; method?: string; said: string } | undefined;
  const fake = {
    host: '',
    seen: [] as Seen[],
    blobs: new Map<string, Buffer>(),
    manifests: new Map<string, Buffer>(),
    /** POST ?mount= of a digest held in any repository answers 201. */
    mountable: false,
    /** GET of a blob answers other bytes of the same length. */
    tamper: false,
    /**
     * Manifest PUTs to refuse as a filesystem registry does while another
     * pusher rewrites a blob's link: the manifest's first layer is lost from
     * the repository and the answer is 400 DIGEST_INVALID + MANIFEST_BLOB_UNKNOWN.
     */
    loseBlobOnManifest: 0,
    /** The Authorization header every request must carry (else 401 with a Basic challenge). */
    requireAuth: undefined as string | undefined,
    /** Answer `status` to the next `times` requests (of `method` only, when given). */
    fail(status: number, times: number, method?: string, said = `injected HTTP ${status}`) {
      fault = { status, left: times, method, said };
    },
    blob: (digest: string, repo = REPO) => fake.blobs.get(`${repo}@${digest}`),
    requests: (method?: string) => fake.seen.filter((r) => !method || r.method === method),
  };
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = req.method ?? '';
    fake.seen.push({ method, path: url.pathname, query: url.searchParams, headers: req.headers, bytes: body.length });
    const send = (status: number, headers: Record<string, string | number> = {}, data?: Buffer | string) => {
      res.writeHead(status, headers);
      res.end(method === 'HEAD' ? undefined : data);
    };
    const ociError = (status: number, code: string, message: string, headers: Record<string, string> = {}) =>
      send(status, { 'content-type': 'application/json', ...headers }, JSON.stringify({ errors: [{ code, message }] }));
    const challenge = { 'www-authenticate': 'Basic realm="x"' };
    if (fake.requireAuth && req.headers.authorization !== fake.requireAuth) return ociError(401, 'UNAUTHORIZED', 'authentication required', challenge);
    if (fault && fault.left > 0 && (!fault.method || fault.method === method)) {
      fault.left--;
      return ociError(fault.status, 'INJECTED', fault.said, fault.status === 401 ? challenge : {});
    }
    const m = /^\/v2\/(.+?)\/(blobs\/uploads|blobs|manifests)\/(.*)$/.exec(url.pathname);
    if (!m) return ociError(404, 'NAME_UNKNOWN', 'no route');
    const [, repo = '', kind, rest = ''] = m;
    const uploadAt = (uuid: string, size: number) => ({ location: `/v2/${repo}/blobs/uploads/${uuid}?_state=${size}`, range: `0-${Math.max(0, size - 1)}` });
    if (kind === 'blobs' && (method === 'GET' || method === 'HEAD')) {
      const blob = fake.blob(rest, repo);
      if (!blob) return ociError(404, 'BLOB_UNKNOWN', 'blob unknown');
      const data = fake.tamper ? Buffer.from(blob.map((b) => b ^ 0xff)) : blob;
      return send(200, { 'content-length': blob.length, 'docker-content-digest': rest, 'content-type': 'application/octet-stream' }, data);
    }
    if (kind === 'blobs/uploads' && method === 'POST' && rest === '') {
      const mount = url.searchParams.get('mount');
      const source = mount && fake.mountable ? [...fake.blobs].find(([k]) => k.endsWith(`@${mount}`))?.[1] : undefined;
      if (mount && source) {
        fake.blobs.set(`${repo}@${mount}`, source);
        return send(201, { location: `/v2/${repo}/blobs/${mount}`, 'docker-content-digest': mount });
      }
      const uuid = randomUUID();
      uploads.set(uuid, { repo, parts: [], size: 0 });
      return send(202, { ...uploadAt(uuid, 0), 'docker-upload-uuid': uuid });
    }
    const up = kind === 'blobs/uploads' ? uploads.get(rest) : undefined;
    if (up && method === 'PATCH') {
      const start = Number(String(req.headers['content-range'] ?? '').split('-')[0]);
      if (start !== up.size) return ociError(416, 'BLOB_UPLOAD_INVALID', `range starts at ${start}, have ${up.size}`);
      up.parts.push(body);
      up.size += body.length;
      return send(202, uploadAt(rest, up.size));
    }
    if (up && method === 'PUT') {
      const all = Buffer.concat([...up.parts, body]);
      const digest = url.searchParams.get('digest');
      if (digest !== `sha256:${hex(all)}`) return ociError(400, 'DIGEST_INVALID', `provided digest ${digest} does not match uploaded content`);
      uploads.delete(rest);
      fake.blobs.set(`${repo}@${digest}`, all);
      return send(201, { location: `/v2/${repo}/blobs/${digest}`, 'docker-content-digest': digest });
    }
    if (kind === 'blobs/uploads') return ociError(404, 'BLOB_UPLOAD_UNKNOWN', 'upload unknown');
    if (kind === 'manifests' && method === 'PUT' && fake.loseBlobOnManifest > 0) {
      fake.loseBlobOnManifest--;
      const lost = (JSON.parse(body.toString('utf8')) as { layers: { digest: string }[] }).layers[0]?.digest ?? '';
      fake.blobs.delete(`${repo}@${lost}`);
      return send(
        400,
        { 'content-type': 'application/json' },
        JSON.stringify({
          errors: [
            { code: 'DIGEST_INVALID', message: 'provided digest did not match uploaded content' },
            { code: 'MANIFEST_BLOB_UNKNOWN', message: 'blob unknown to registry', detail: lost },
          ],
        }),
      );
    }
    if (kind === 'manifests' && method === 'PUT') {
      fake.manifests.set(`${repo}:${rest}`, body);
      return send(201, { 'docker-content-digest': `sha256:${hex(body)}` });
    }
    const manifest = kind === 'manifests' && method === 'GET' ? fake.manifests.get(`${repo}:${rest}`) : undefined;
    if (manifest)
      return send(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'docker-content-digest': `sha256:${hex(manifest)}` }, manifest);
    return ociError(404, 'MANIFEST_UNKNOWN', 'manifest unknown');
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}
type Fake = Awaited<ReturnType<typeof fakeRegistry>>;

const session = (fake: Fake, extra: Partial<Session> = {}): Session => ({ registry: fake.host, repository: REPO, timeoutMs: 5000, ...extra });

/** A file of `size` random bytes, and the blob it is. */
async function blobFile(size: number): Promise<{ file: string; bytes: Buffer; blob: { sha256: string; size: number } }> {
  const bytes = randomBytes(size);
  const file = path.join(await tempDir(), 'blob');
  await writeFile(file, bytes);
  return { file, bytes, blob: { sha256: hex(bytes), size } };
}

describe('EMPTY_DESCRIPTOR', () => {
  it('names the two bytes {} by their SHA256', () => {
    expect(EMPTY_JSON.toString()).toBe('{}');
    expect(EMPTY_DESCRIPTOR).toEqual({
      mediaType: 'application/vnd.oci.empty.v1+json',
      digest: `sha256:${hex('{}')}`,
      size: 2,
    });
    expect(EMPTY_DESCRIPTOR.digest).toBe('sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');
  });
});

describe('pushBlob', () => {
  it('uploads a blob up to chunkBytes in one PUT after a HEAD and a POST that asks for a mount', async () => {
    const fake = await fakeRegistry();
    const { file, bytes, blob } = await blobFile(10 * 1024);
    expect(await pushBlob(session(fake), file, blob, { chunkBytes: 64 * 1024 })).toBe('uploaded');

    expect(fake.seen.map((r) => r.method)).toEqual(['HEAD', 'POST', 'PUT']);
    const [head, post, put] = fake.seen;
    expect(head?.path).toBe(`/v2/${REPO}/blobs/sha256:${blob.sha256}`);
    expect(post?.path).toBe(`/v2/${REPO}/blobs/uploads/`);
    expect(post?.query.get('mount')).toBe(`sha256:${blob.sha256}`);
    expect(post?.query.has('from')).toBe(false);
    // The PUT goes to the Location (resolved against the registry), keeping its state and adding the digest.
    expect(put?.path).toMatch(new RegExp(`^/v2/${REPO}/blobs/uploads/[0-9a-f-]{36}$`));
    expect(put?.query.get('_state')).toBe('0');
    expect(put?.query.get('digest')).toBe(`sha256:${blob.sha256}`);
    expect(put?.headers['content-length']).toBe(String(bytes.length));
    expect(put?.headers['content-type']).toBe('application/octet-stream');
    expect(put?.bytes).toBe(bytes.length);
    expect(fake.blob(`sha256:${blob.sha256}`)?.equals(bytes)).toBe(true);
  });

  it('uploads a blob of exactly chunkBytes in one PUT, and an empty file too', async () => {
    const fake = await fakeRegistry();
    const exact = await blobFile(64 * 1024);
    expect(await pushBlob(session(fake), exact.file, exact.blob, { chunkBytes: 64 * 1024 })).toBe('uploaded');
    const empty = await blobFile(0);
    expect(await pushBlob(session(fake), empty.file, empty.blob, { chunkBytes: 64 * 1024 })).toBe('uploaded');
    expect(fake.requests('PATCH')).toHaveLength(0);
    expect(fake.requests('PUT').map((r) => r.bytes)).toEqual([64 * 1024, 0]);
    expect(fake.blob(`sha256:${exact.blob.sha256}`)?.equals(exact.bytes)).toBe(true);
    expect(fake.blob(`sha256:${hex('')}`)?.length).toBe(0);
  });

  it('uploads a larger blob in PATCH chunks with their Content-Range, then an empty PUT with the digest', async () => {
    const fake = await fakeRegistry();
    const size = 200 * 1024;
    const chunk = 64 * 1024;
    const { file, bytes, blob } = await blobFile(size);
    expect(await pushBlob(session(fake), file, blob, { chunkBytes: chunk })).toBe('uploaded');

    const patches = fake.requests('PATCH');
    expect(patches).toHaveLength(Math.ceil(size / chunk));
    expect(patches.map((r) => r.headers['content-range'])).toEqual(['0-65535', '65536-131071', '131072-196607', '196608-204799']);
    expect(patches.map((r) => r.bytes)).toEqual([chunk, chunk, chunk, size - 3 * chunk]);
    expect(patches.map((r) => r.headers['content-length'])).toEqual(patches.map((r) => String(r.bytes)));
    // Each request follows the Location the previous answer gave.
    expect(patches.map((r) => r.query.get('_state'))).toEqual(['0', '65536', '131072', '196608']);
    const puts = fake.requests('PUT');
    expect(puts).toHaveLength(1);
    expect(puts[0]?.bytes).toBe(0);
    expect(puts[0]?.headers['content-length']).toBe('0');
    expect(puts[0]?.query.get('_state')).toBe(String(size));
    expect(puts[0]?.query.get('digest')).toBe(`sha256:${blob.sha256}`);
    expect(fake.seen.map((r) => r.method)).toEqual(['HEAD', 'POST', 'PATCH', 'PATCH', 'PATCH', 'PATCH', 'PUT']);
    expect(fake.blob(`sha256:${blob.sha256}`)?.equals(bytes)).toBe(true);
  });

  it('answers exists when the HEAD finds the blob, and sends nothing else', async () => {
    const fake = await fakeRegistry();
    const { file, bytes, blob } = await blobFile(1000);
    fake.blobs.set(`${REPO}@sha256:${blob.sha256}`, bytes);
    expect(await pushBlob(session(fake), file, blob)).toBe('exists');
    expect(fake.seen.map((r) => r.method)).toEqual(['HEAD']);
  });

  it('answers mounted when the registry mounts the blob from another repository, uploading nothing', async () => {
    const fake = await fakeRegistry();
    fake.mountable = true;
    const { file, bytes, blob } = await blobFile(1000);
    fake.blobs.set(`other/repo@sha256:${blob.sha256}`, bytes);
    expect(await pushBlob(session(fake), file, blob, { mountFrom: 'other/repo' })).toBe('mounted');
    expect(fake.seen.map((r) => r.method)).toEqual(['HEAD', 'POST']);
    expect(fake.seen[1]?.query.get('mount')).toBe(`sha256:${blob.sha256}`);
    expect(fake.seen[1]?.query.get('from')).toBe('other/repo');
    expect(await headBlob(session(fake), blob.sha256)).toBe(1000);
  });

  it('uploads when the registry does not mount (202 to the mount POST)', async () => {
    const fake = await fakeRegistry();
    const { file, bytes, blob } = await blobFile(1000);
    fake.blobs.set(`other/repo@sha256:${blob.sha256}`, bytes);
    expect(await pushBlob(session(fake), file, blob, { mountFrom: 'other/repo' })).toBe('uploaded');
    expect(fake.blob(`sha256:${blob.sha256}`)?.equals(bytes)).toBe(true);
  });

  it('refuses a file that is a symbolic link, uploading none of it', async () => {
    const fake = await fakeRegistry();
    const { file, blob } = await blobFile(1000);
    const link = path.join(path.dirname(file), 'link');
    await symlink(file, link);
    await expect(pushBlob(session(fake), link, blob)).rejects.toBeInstanceOf(UnexpectedLinkError);
    expect(fake.requests('PUT')).toHaveLength(0);
    expect(fake.requests('PATCH')).toHaveLength(0);
    expect(fake.blob(`sha256:${blob.sha256}`)).toBeUndefined();
  });

  it('refuses a file whose size is not the declared one', async () => {
    const fake = await fakeRegistry();
    const { file, blob } = await blobFile(1000);
    const err = await rejectionOf(pushBlob(session(fake), file, { ...blob, size: 1001 }), BlobMismatchError);
    expect(err.message).toContain('1000 bytes, expected 1001');
    expect(fake.requests('PUT')).toHaveLength(0);
  });

  it('reports the registry refusing bytes that are not the digest (400 DIGEST_INVALID) as final, in its own words', async () => {
    const fake = await fakeRegistry();
    const { file, blob } = await blobFile(1000);
    const other = hex('something else');
    const err = await rejectionOf(pushBlob(session(fake), file, { sha256: other, size: blob.size }), RegistryError);
    expect(err.status).toBe(400);
    expect(err.retryable).toBe(false);
    expect(err.message).toContain(`completing the upload of blob sha256:${other}: HTTP 400 (DIGEST_INVALID: provided digest`);
    expect(err.message).toContain(`registry ${fake.host}, repository ${REPO}`);
    expect(fake.blobs.size).toBe(0);
  });

  it.each([
    [500, true],
    [429, true],
    [403, false],
    [413, false],
  ])('turns HTTP %i to the upload POST into a RegistryError (retryable %s)', async (status, retryable) => {
    const fake = await fakeRegistry();
    fake.fail(status, 1, 'POST');
    const { file, blob } = await blobFile(1000);
    const err = await rejectionOf(pushBlob(session(fake), file, blob), RegistryError);
    expect(err.status).toBe(status);
    expect(err.retryable).toBe(retryable);
    expect(err.message).toContain(`starting the upload of blob sha256:${blob.sha256}: HTTP ${status} (INJECTED: injected HTTP ${status})`);
    expect(fake.requests('PUT')).toHaveLength(0);
  });

  it('turns a failed chunk into a RegistryError naming its bytes', async () => {
    const fake = await fakeRegistry();
    fake.fail(503, 1, 'PATCH');
    const { file, blob } = await blobFile(100 * 1024);
    const err = await rejectionOf(pushBlob(session(fake), file, blob, { chunkBytes: 64 * 1024 }), RegistryError);
    expect(err.retryable).toBe(true);
    expect(err.message).toContain('uploading bytes 0-65535 of blob');
    expect(fake.requests('PUT')).toHaveLength(0);
  });

  it('lets two uploads of the same blob at once both succeed, leaving one copy', async () => {
    const fake = await fakeRegistry();
    const { file, bytes, blob } = await blobFile(150 * 1024);
    const outcomes = await Promise.all([1, 2].map(() => pushBlob(session(fake), file, blob, { chunkBytes: 64 * 1024 })));
    expect(outcomes.every((o) => o === 'uploaded' || o === 'exists')).toBe(true);
    expect(fake.blobs.size).toBe(1);
    expect(fake.blob(`sha256:${blob.sha256}`)?.equals(bytes)).toBe(true);
  });
});

describe('Basic authentication', () => {
  it('answers the Basic challenge with the credentials and reuses them for the whole upload and download', async () => {
    const fake = await fakeRegistry();
    fake.requireAuth = basic('bob', PASSWORD);
    const { file, bytes, blob } = await blobFile(100 * 1024);
    const s = session(fake, { credentials: CREDS });
    expect(await pushBlob(s, file, blob, { chunkBytes: 64 * 1024 })).toBe('uploaded');
    expect(fake.blob(`sha256:${blob.sha256}`)?.equals(bytes)).toBe(true);
    // Only the first HEAD went without; it was answered 401 and sent again.
    expect(fake.seen.map((r) => `${r.method} ${r.headers.authorization === fake.requireAuth}`)).toEqual([
      'HEAD false',
      'HEAD true',
      'POST true',
      'PATCH true',
      'PATCH true',
      'PUT true',
    ]);

    const dest = path.join(await tempDir(), 'pulled');
    expect(await pullBlob(session(fake, { credentials: CREDS }), blob, dest, PACE)).toBe('ok');
    expect((await readFile(dest)).equals(bytes)).toBe(true);
  });

  it('never shows the password when the registry rejects it', async () => {
    const fake = await fakeRegistry();
    fake.requireAuth = basic('bob', 'the-right-one');
    const { file, blob } = await blobFile(1000);
    const dest = path.join(await tempDir(), 'pulled');
    for (const attempt of [
      () => pushBlob(session(fake, { credentials: CREDS }), file, blob),
      () => pullBlob(session(fake, { credentials: CREDS }), blob, dest, PACE),
      () => headBlob(session(fake, { credentials: CREDS }), blob.sha256),
    ]) {
      const err = await rejectionOf(attempt(), StepError);
      expect(err.message).toContain('credentials from REGISTRY_* (user bob) were rejected');
      expect(err.message).not.toContain(PASSWORD);
      expect(err.message).not.toContain(basic('bob', PASSWORD).slice(6));
    }
    expect(fake.seen.filter((r) => r.headers.authorization === basic('bob', PASSWORD))).toHaveLength(3);
    expect(fake.blobs.size).toBe(0);
  });

  it('redacts the password from the registry words an error repeats', async () => {
    const fake = await fakeRegistry();
    fake.fail(403, 1, 'POST', `user bob with password ${PASSWORD} may not push`);
    const { file, blob } = await blobFile(1000);
    const err = await rejectionOf(pushBlob(session(fake, { credentials: CREDS }), file, blob), RegistryError);
    expect(err.message).toContain('user bob with password *** may not push');
    expect(err.message).not.toContain(PASSWORD);
  });

  it('says which variables to set when the registry wants credentials and there are none', async () => {
    const fake = await fakeRegistry();
    fake.fail(401, 1, 'HEAD');
    const err = await rejectionOf(headBlob(session(fake), hex('x')), StepError);
    expect(err.message).toContain('set REGISTRY_USERNAME and REGISTRY_PASSWORD');
  });
});

describe('pullBlob', () => {
  it('writes the exact bytes to the destination and reports their progress', async () => {
    const fake = await fakeRegistry();
    const bytes = randomBytes(300 * 1024);
    const blob = { sha256: hex(bytes), size: bytes.length };
    fake.blobs.set(`${REPO}@sha256:${blob.sha256}`, bytes);
    const dest = path.join(await tempDir(), 'pulled');
    await writeFile(dest, 'old content that is longer than nothing');
    let progress = 0;
    expect(await pullBlob(session(fake), blob, dest, PACE, (n) => (progress += n))).toBe('ok');
    expect((await readFile(dest)).equals(bytes)).toBe(true);
    expect(progress).toBe(bytes.length);
    expect(fake.seen.map((r) => `${r.method} ${r.path}`)).toEqual([`GET /v2/${REPO}/blobs/sha256:${blob.sha256}`]);
  });

  it('answers missing for a digest the repository does not have, creating no file', async () => {
    const fake = await fakeRegistry();
    const dest = path.join(await tempDir(), 'pulled');
    expect(await pullBlob(session(fake), { sha256: hex('absent'), size: 6 }, dest, PACE)).toBe('missing');
    await expect(stat(dest)).rejects.toThrow(/ENOENT/);
  });

  it('refuses other bytes of the same length', async () => {
    const fake = await fakeRegistry();
    const bytes = randomBytes(4096);
    const blob = { sha256: hex(bytes), size: bytes.length };
    fake.blobs.set(`${REPO}@sha256:${blob.sha256}`, bytes);
    fake.tamper = true;
    const err = await rejectionOf(pullBlob(session(fake), blob, path.join(await tempDir(), 'pulled'), PACE), BlobMismatchError);
    expect(err.message).toContain(`blob sha256:${blob.sha256} has other bytes`);
  });

  it('refuses an answer whose Content-Length is not the expected size, before writing', async () => {
    const fake = await fakeRegistry();
    const bytes = randomBytes(4096);
    const blob = { sha256: hex(bytes), size: bytes.length };
    fake.blobs.set(`${REPO}@sha256:${blob.sha256}`, bytes);
    const dest = path.join(await tempDir(), 'pulled');
    for (const size of [4095, 4097]) {
      const err = await rejectionOf(pullBlob(session(fake), { ...blob, size }, dest, PACE), BlobMismatchError);
      expect(err.message).toContain(`announces 4096 bytes for blob sha256:${blob.sha256}, expected ${size}`);
    }
    await expect(stat(dest)).rejects.toThrow(/ENOENT/);
  });

  it('never writes through a symbolic link at the destination', async () => {
    const fake = await fakeRegistry();
    const bytes = randomBytes(100);
    const blob = { sha256: hex(bytes), size: bytes.length };
    fake.blobs.set(`${REPO}@sha256:${blob.sha256}`, bytes);
    const dir = await tempDir();
    const victim = path.join(dir, 'victim');
    await writeFile(victim, 'keep me');
    await symlink(victim, path.join(dir, 'pulled'));
    // (pullBlob reports the link as a RegistryError that is not retryable, not as the UnexpectedLinkError it was.)
    await expect(pullBlob(session(fake), blob, path.join(dir, 'pulled'), PACE)).rejects.toThrow(/pulled is a symbolic link where a file was expected/);
    expect(await readFile(victim, 'utf8')).toBe('keep me');
  });

  it('gives the connection back when the destination cannot be opened', async () => {
    // BUG (src/net/fetch.ts streamToFile): the destination is opened before the try/finally that
    // destroys the body, so a failed open leaves a large answer unread and its pooled connection
    // busy until the body timeout; four such failures exhaust the registry pool (4 connections).
    const fake = await fakeRegistry();
    const bytes = randomBytes(8 * 1024 * 1024);
    const blob = { sha256: hex(bytes), size: bytes.length };
    fake.blobs.set(`${REPO}@sha256:${blob.sha256}`, bytes);
    const s = session(fake, { timeoutMs: 3000 });
    const nowhere = path.join(await tempDir(), 'no-such-dir', 'pulled');
    for (let i = 0; i < 4; i++) await expect(pullBlob(s, blob, nowhere, PACE)).rejects.toThrow(/ENOENT/);
    const started = Date.now();
    expect(await headBlob(s, blob.sha256)).toBe(bytes.length);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('turns a server error into a retryable RegistryError', async () => {
    const fake = await fakeRegistry();
    fake.fail(502, 1, 'GET');
    const err = await rejectionOf(pullBlob(session(fake), { sha256: hex('x'), size: 1 }, path.join(await tempDir(), 'pulled'), PACE), RegistryError);
    expect([err.status, err.retryable]).toEqual([502, true]);
  });
});

describe('headBlob', () => {
  it('answers the size of a blob the repository has, undefined for one it has not', async () => {
    const fake = await fakeRegistry();
    const bytes = randomBytes(1234);
    fake.blobs.set(`${REPO}@sha256:${hex(bytes)}`, bytes);
    fake.blobs.set(`other/repo@sha256:${hex('elsewhere')}`, Buffer.from('elsewhere'));
    expect(await headBlob(session(fake), hex(bytes))).toBe(1234);
    expect(await headBlob(session(fake), hex('absent'))).toBeUndefined();
    expect(await headBlob(session(fake), hex('elsewhere'))).toBeUndefined();
    expect(fake.seen.map((r) => r.method)).toEqual(['HEAD', 'HEAD', 'HEAD']);
  });

  it('turns another status into a RegistryError', async () => {
    const fake = await fakeRegistry();
    fake.fail(403, 1);
    const err = await rejectionOf(headBlob(session(fake), hex('x')), RegistryError);
    expect([err.status, err.retryable]).toEqual([403, false]);
    expect(err.message).toContain(`HEAD of blob sha256:${hex('x')}: HTTP 403`);
  });
});

describe('pushBytes', () => {
  it('uploads the empty descriptor {} under its digest once, without asking for a mount', async () => {
    const fake = await fakeRegistry();
    expect(await pushBytes(session(fake), EMPTY_JSON)).toBe('uploaded');
    expect(fake.blob(EMPTY_DESCRIPTOR.digest)?.toString()).toBe('{}');
    expect(fake.seen.map((r) => r.method)).toEqual(['HEAD', 'POST', 'PUT']);
    expect(fake.seen[1]?.query.has('mount')).toBe(false);
    expect(fake.seen[2]?.query.get('digest')).toBe(EMPTY_DESCRIPTOR.digest);
    expect(await pushBytes(session(fake), EMPTY_JSON)).toBe('exists');
    expect(fake.requests('POST')).toHaveLength(1);
  });

  it('turns a refused upload into a RegistryError', async () => {
    const fake = await fakeRegistry();
    fake.fail(500, 1, 'PUT');
    const err = await rejectionOf(pushBytes(session(fake), Buffer.from('abc')), RegistryError);
    expect([err.status, err.retryable]).toEqual([500, true]);
    expect(err.message).toContain(`completing the upload of blob sha256:${hex('abc')}`);
  });
});

describe('a whole cache artifact', () => {
  it('pushes its blobs, the empty config and the manifest, and reads the entries back', async () => {
    const fake = await fakeRegistry();
    const a = await blobFile(2000);
    const b = await blobFile(90 * 1024);
    const s = session(fake);
    for (const f of [a, b]) expect(await pushBlob(s, f.file, f.blob, { chunkBytes: 64 * 1024 })).toBe('uploaded');
    expect(await pushBytes(s, EMPTY_JSON)).toBe('uploaded');
    const entries = [
      { name: 'debs/b.deb', ...b.blob },
      { name: 'debs/a.deb', ...a.blob },
    ];
    const bytes = cacheManifest(entries, { 'org.example': 'x' });
    expect(await putCacheManifest(s, 'lock-abc', bytes)).toBe(`sha256:${hex(bytes)}`);
    expect(fake.manifests.get(`${REPO}:lock-abc`)?.equals(bytes)).toBe(true);
    expect(await getCacheManifest(s, 'lock-abc')).toEqual([entries[1], entries[0]]);
    expect(fake.blobs.size).toBe(3);
  });
});

describe('RegistryTier.pushBack', () => {
  const tier = (fake: Fake, events: CacheEvent[]) =>
    new RegistryTier({
      ref: `${fake.host}/${REPO}`,
      insecure: [],
      env: {},
      fetch: { ...defaultFetchSettings, timeoutMs: 5000, retries: 1, minBackoffMs: 10 },
      workers: 2,
      emit: (e) => events.push(e),
    });
  const files = async () => {
    const a = await blobFile(3000);
    const b = await blobFile(5000);
    return [
      { file: a.file, entry: { name: 'debs/a.deb', ...a.blob } },
      { file: b.file, entry: { name: 'debs/b.deb', ...b.blob } },
    ];
  };

  it('pushes a blob again and resends the manifest when the registry lost the blob meanwhile (MANIFEST_BLOB_UNKNOWN)', async () => {
    const fake = await fakeRegistry();
    const events: CacheEvent[] = [];
    const t = tier(fake, events);
    const f = await files();
    fake.loseBlobOnManifest = 2;
    expect(await t.pushBack('lock-x', f, {})).toBe(true);

    // The fake loses the manifest's first layer, debs/a.deb.
    const lost = f[0]?.entry.sha256;
    const blobPuts = fake.requests('PUT').filter((r) => r.path.includes('/blobs/uploads/'));
    expect(blobPuts.filter((r) => r.query.get('digest') === `sha256:${lost}`)).toHaveLength(3);
    expect(fake.requests('PUT').filter((r) => r.path.endsWith('/manifests/lock-x'))).toHaveLength(3);
    expect(fake.manifests.has(`${REPO}:lock-x`)).toBe(true);
    for (const x of f) expect(fake.blob(`sha256:${x.entry.sha256}`)?.length).toBe(x.entry.size);
    expect(t.stats).toMatchObject({ pushFailed: null, pushed: 4, present: 0 });
    expect(events.filter((e) => e.type === 'warning')).toEqual([]);
  });

  it("gives up with one warning naming the registry's words after four refusals", async () => {
    const fake = await fakeRegistry();
    const events: CacheEvent[] = [];
    const t = tier(fake, events);
    fake.loseBlobOnManifest = 10;
    expect(await t.pushBack('lock-x', await files(), {})).toBe(false);
    expect(fake.requests('PUT').filter((r) => r.path.endsWith('/manifests/lock-x'))).toHaveLength(4);
    expect(t.stats.pushFailed).toContain('MANIFEST_BLOB_UNKNOWN: blob unknown to registry');
    expect(events.filter((e) => e.type === 'warning')).toHaveLength(1);
  });

  it('sends a manifest refused for another reason only once', async () => {
    const fake = await fakeRegistry();
    const t = tier(fake, []);
    const f = await files();
    // The blobs are there already, so the one PUT pushBack sends is the manifest's.
    for (const x of f) await pushBlob(session(fake), x.file, x.entry);
    expect(await pushBytes(session(fake), EMPTY_JSON)).toBe('uploaded');
    fake.fail(400, 1, 'PUT', 'manifest invalid');
    expect(await t.pushBack('lock-x', f, {})).toBe(false);
    expect(fake.requests('PUT').filter((r) => r.path.endsWith('/manifests/lock-x'))).toHaveLength(1);
    expect(t.stats.pushFailed).toContain('HTTP 400 (INJECTED: manifest invalid)');
  });
});

describe('RegistryError codes', () => {
  it("keeps the registry's error codes from its JSON answer, and none from another body", async () => {
    const fake = await fakeRegistry();
    fake.fail(400, 1, 'POST');
    const err = await rejectionOf(pushBytes(session(fake), Buffer.from('x')), RegistryError);
    expect(err.codes).toEqual(['INJECTED']);
    expect(new RegistryError('m', false, 400).codes).toEqual([]);
  });
});

describe('asRegistryError', () => {
  it('keeps registry and mismatch errors, and judges the rest by their words', () => {
    const reg = new RegistryError('x', true, 503);
    const mismatch = new BlobMismatchError('y');
    expect(asRegistryError(reg)).toBe(reg);
    expect(asRegistryError(mismatch)).toBe(mismatch);
    const fetched = asRegistryError(new FetchError('too slow', true));
    expect(fetched).toBeInstanceOf(RegistryError);
    expect([fetched.message, (fetched as RegistryError).retryable]).toEqual(['too slow', true]);
    expect((asRegistryError(new FetchError('refused', false)) as RegistryError).retryable).toBe(false);
    expect((asRegistryError(new StepError('registry r: cannot reach http://r (ECONNREFUSED)')) as RegistryError).retryable).toBe(true);
    expect((asRegistryError(new StepError('registry r: timed out')) as RegistryError).retryable).toBe(true);
    expect((asRegistryError(new StepError('registry r: not a cache manifest')) as RegistryError).retryable).toBe(false);
    expect(asRegistryError('plain text').message).toBe('plain text');
  });
});
