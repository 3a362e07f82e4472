// The cache's manifests: canonical bytes, the tags that name them, parsing
// that refuses what is not ours, and GET/PUT against a small manifest server
// on 127.0.0.1 that records what it is sent.
import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { StepError } from '../../src/errors.js';
import { EMPTY_DESCRIPTOR, RegistryError } from '../../src/registry/blobs.js';
import {
  CACHE_ARTIFACT_TYPE,
  type CacheEntry,
  cacheManifest,
  filesTag,
  getCacheManifest,
  lockTag,
  parseCacheManifest,
  putCacheManifest,
  snapshotTag,
} from '../../src/registry/cache-manifest.js';
import type { Session } from '../../src/registry/http.js';
import { rejectionOf } from '../support/failure.js';
import { useRegistryServers } from './registry-servers.js';

const servers = useRegistryServers();

const hex = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const TAG = /^[\w][\w.-]{0,127}$/;
const A: CacheEntry = { name: 'debs/a_1.0_amd64.deb', sha256: hex('a'), size: 10 };
const B: CacheEntry = { name: 'debs/b_2.0_amd64.deb', sha256: hex('b'), size: 20 };
const C: CacheEntry = { name: 'indexes/Packages.xz', sha256: hex('c'), size: 30 };
const OFFLINE: Session = { registry: '127.0.0.1:1', repository: 'team/cache', timeoutMs: 1000 };

type Doc = {
  artifactType: string;
  mediaType: string;
  schemaVersion: number;
  config: unknown;
  layers: { mediaType: string; digest: string; size: number; annotations: Record<string, string> }[];
  annotations: Record<string, string>;
};
const docOf = (bytes: Buffer) => JSON.parse(bytes.toString('utf8')) as Doc;

describe('cacheManifest', () => {
  it('gives the same bytes whatever the order of the entries and annotations', () => {
    const one = cacheManifest([A, B, C], { 'org.example.lock': 'x', 'org.example.arch': 'amd64' });
    const two = cacheManifest([C, A, B], { 'org.example.arch': 'amd64', 'org.example.lock': 'x' });
    expect(two.equals(one)).toBe(true);
    expect(docOf(one).layers.map((l) => l.annotations['org.opencontainers.image.title'])).toEqual([A.name, B.name, C.name]);
    expect(Object.keys(docOf(one).annotations)).toEqual(['org.example.arch', 'org.example.lock']);
  });

  it('collapses duplicate entries', () => {
    const once = cacheManifest([A, B], {});
    expect(cacheManifest([B, A, B, A], {}).equals(once)).toBe(true);
    expect(docOf(once).layers).toHaveLength(2);
  });

  it('is an OCI image manifest of the cache artifactType with the empty config and one titled layer per entry', () => {
    const doc = docOf(cacheManifest([B, A], { 'org.example': 'y' }));
    expect(doc.schemaVersion).toBe(2);
    expect(doc.mediaType).toBe(OCI_MANIFEST);
    expect(doc.artifactType).toBe('application/vnd.g3-composer.cache.v1');
    expect(CACHE_ARTIFACT_TYPE).toBe(doc.artifactType);
    expect(doc.config).toEqual({ mediaType: 'application/vnd.oci.empty.v1+json', digest: EMPTY_DESCRIPTOR.digest, size: 2 });
    expect(doc.layers).toEqual([
      { mediaType: 'application/vnd.g3-composer.file.v1', digest: `sha256:${A.sha256}`, size: 10, annotations: { 'org.opencontainers.image.title': A.name } },
      { mediaType: 'application/vnd.g3-composer.file.v1', digest: `sha256:${B.sha256}`, size: 20, annotations: { 'org.opencontainers.image.title': B.name } },
    ]);
    expect(doc.annotations).toEqual({ 'org.example': 'y' });
  });

  it('keeps two blobs under one name, and one blob under two names', () => {
    const other = { ...A, sha256: hex('a2') };
    const alias = { ...A, name: 'debs/alias.deb' };
    expect(docOf(cacheManifest([A, other, alias], {})).layers.map((l) => [l.annotations['org.opencontainers.image.title'], l.digest])).toEqual([
      ['debs/a_1.0_amd64.deb', `sha256:${[A.sha256, other.sha256].sort()[0]}`],
      ['debs/a_1.0_amd64.deb', `sha256:${[A.sha256, other.sha256].sort()[1]}`],
      ['debs/alias.deb', `sha256:${A.sha256}`],
    ]);
  });
});

describe('parseCacheManifest', () => {
  const parse = (doc: unknown) => () => parseCacheManifest(OFFLINE, 'manifest lock-abc', Buffer.from(typeof doc === 'string' ? doc : JSON.stringify(doc)));
  const valid = () => docOf(cacheManifest([A, B], {}));

  it("reads back cacheManifest's entries, sorted and without duplicates", () => {
    expect(parseCacheManifest(OFFLINE, 'manifest lock-abc', cacheManifest([C, A, B, A], { x: 'y' }))).toEqual([A, B, C]);
    expect(parseCacheManifest(OFFLINE, 'manifest lock-abc', cacheManifest([], {}))).toEqual([]);
  });

  it.each([
    ['not JSON', '{"layers": [', /manifest lock-abc is not JSON/],
    ['JSON null', 'null', /manifest lock-abc is not a g3-composer cache manifest/],
    [
      'another artifactType',
      { ...valid(), artifactType: 'application/vnd.example+json' },
      /manifest lock-abc is not a g3-composer cache manifest \(artifactType "application\/vnd\.example\+json"\)/,
    ],
    ['no artifactType', { ...valid(), artifactType: undefined }, /manifest lock-abc is not a g3-composer cache manifest \(artifactType "undefined"\)/],
    ['layers that are not a list', { ...valid(), layers: {} }, /manifest lock-abc is not a g3-composer cache manifest/],
    [
      'a layer without a sha256 digest',
      { ...valid(), layers: [{ ...valid().layers[0], digest: `sha512:${'a'.repeat(128)}` }] },
      /manifest lock-abc has a layer without/,
    ],
    ['a layer with a short digest', { ...valid(), layers: [{ ...valid().layers[0], digest: 'sha256:abc' }] }, /manifest lock-abc has a layer without/],
    [
      'a layer with an upper-case digest',
      { ...valid(), layers: [{ ...valid().layers[0], digest: `sha256:${A.sha256.toUpperCase()}` }] },
      /has a layer without/,
    ],
    ['a negative size', { ...valid(), layers: [{ ...valid().layers[0], size: -1 }] }, /manifest lock-abc has a layer without/],
    ['a fractional size', { ...valid(), layers: [{ ...valid().layers[0], size: 1.5 }] }, /manifest lock-abc has a layer without/],
    ['a size as text', { ...valid(), layers: [{ ...valid().layers[0], size: '10' }] }, /manifest lock-abc has a layer without/],
    ['a missing title', { ...valid(), layers: [{ ...valid().layers[0], annotations: {} }] }, /manifest lock-abc has a layer without/],
    ['no annotations', { ...valid(), layers: [{ ...valid().layers[0], annotations: undefined }] }, /manifest lock-abc has a layer without/],
    ['a null layer', { ...valid(), layers: [null] }, /manifest lock-abc has a layer without/],
  ])('refuses %s, naming the manifest and the registry', (_what, doc, message) => {
    let err: unknown;
    try {
      parse(doc)();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StepError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).toMatch(/^registry 127\.0\.0\.1:1, repository team\/cache: manifest lock-abc /);
  });
});

describe('lockTag and filesTag', () => {
  it('tags a lock by its SHA256', () => {
    const sum = hex('lock file');
    expect(lockTag(sum)).toBe(`lock-${sum}`);
    expect(lockTag(sum)).toMatch(TAG);
  });

  it('tags a snapshot by its kind and key', () => {
    const key = hex('inputs');
    expect(snapshotTag('chroot', key)).toBe(`chroot-${key}`);
    expect(snapshotTag('installed', key)).toMatch(TAG);
  });

  it('tags a list of files by its canonical form: stable under reordering and duplicates, changed by any field', () => {
    const tag = filesTag([A, B, C]);
    expect(tag).toMatch(/^files-[0-9a-f]{64}$/);
    expect(tag).toMatch(TAG);
    expect(filesTag([C, B, A])).toBe(tag);
    expect(filesTag([C, A, B, A])).toBe(tag);
    expect(filesTag([A, B, { ...C, sha256: hex('c2') }])).not.toBe(tag);
    expect(filesTag([A, B, { ...C, size: 31 }])).not.toBe(tag);
    expect(filesTag([A, B, { ...C, name: 'indexes/Sources.xz' }])).not.toBe(tag);
    expect(filesTag([A, B])).not.toBe(tag);
    expect(filesTag([])).toMatch(TAG);
  });
});

interface Seen {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Manifests of `team/cache` by tag; `digestOf` overrides the Docker-Content-Digest it announces; `status` answers everything. */
async function manifestServer(o: { digestOf?: (body: Buffer) => string; status?: number } = {}) {
  const manifests = new Map<string, Buffer>();
  const seen: Seen[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    seen.push({ method: req.method ?? '', path: url.pathname, headers: req.headers, body });
    const tag = /^\/v2\/team\/cache\/manifests\/([\w][\w.-]*)$/.exec(url.pathname)?.[1];
    const error = (status: number, code: string) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code, message: `said ${code}` }] }));
    };
    if (o.status) return error(o.status, 'INJECTED');
    if (tag && req.method === 'PUT') {
      if (req.headers['content-type'] !== OCI_MANIFEST) return error(400, 'MANIFEST_INVALID');
      manifests.set(tag, body);
      res.writeHead(201, { 'docker-content-digest': `sha256:${hex(body)}` });
      return res.end();
    }
    const found = tag && req.method === 'GET' ? manifests.get(tag) : undefined;
    if (!found) return error(404, 'MANIFEST_UNKNOWN');
    res.writeHead(200, { 'content-type': OCI_MANIFEST, 'docker-content-digest': o.digestOf?.(found) ?? `sha256:${hex(found)}` });
    res.end(found);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const s: Session = { registry: `127.0.0.1:${(server.address() as AddressInfo).port}`, repository: 'team/cache', timeoutMs: 5000 };
  return { s, manifests, seen };
}

describe('getCacheManifest and putCacheManifest', () => {
  it('answers undefined for a tag the repository does not have', async () => {
    const { s, seen } = await manifestServer();
    expect(await getCacheManifest(s, lockTag(hex('absent')))).toBeUndefined();
    expect(seen.map((r) => `${r.method} ${r.path}`)).toEqual([`GET /v2/team/cache/manifests/lock-${hex('absent')}`]);
    expect(seen[0]?.headers.accept).toContain(OCI_MANIFEST);
  });

  it('puts the manifest under its tag as an OCI manifest and reads its entries back', async () => {
    const { s, manifests, seen } = await manifestServer();
    const tag = filesTag([A, B, C]);
    const bytes = cacheManifest([C, B, A], { 'org.example': 'z' });
    expect(await putCacheManifest(s, tag, bytes)).toBe(`sha256:${hex(bytes)}`);
    expect(seen[0]?.method).toBe('PUT');
    expect(seen[0]?.path).toBe(`/v2/team/cache/manifests/${tag}`);
    expect(seen[0]?.headers['content-length']).toBe(String(bytes.length));
    expect(manifests.get(tag)?.equals(bytes)).toBe(true);
    expect(await getCacheManifest(s, tag)).toEqual([A, B, C]);
  });

  it('refuses a manifest whose bytes are not the ones its Docker-Content-Digest names', async () => {
    const { s } = await manifestServer({ digestOf: () => `sha256:${hex('other bytes')}` });
    await putCacheManifest(s, 'lock-x', cacheManifest([A], {}));
    const err = await rejectionOf(getCacheManifest(s, 'lock-x'), StepError);
    expect(err.message).toContain(`manifest lock-x does not match its Docker-Content-Digest sha256:${hex('other bytes')}`);
  });

  it('refuses a document of the right digest that is not a cache manifest, naming its tag', async () => {
    const { s } = await manifestServer();
    await putCacheManifest(s, 'lock-y', Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, layers: [] })));
    await expect(getCacheManifest(s, 'lock-y')).rejects.toThrow(/manifest lock-y is not a g3-composer cache manifest/);
  });

  it.each([
    [500, true],
    [429, true],
    [403, false],
  ])('turns HTTP %i into a RegistryError (retryable %s) for both', async (status, retryable) => {
    const { s } = await manifestServer({ status });
    const got = await rejectionOf(getCacheManifest(s, 'lock-z'), RegistryError);
    expect([got.status, got.retryable]).toEqual([status, retryable]);
    expect(got.message).toContain('reading manifest lock-z: HTTP');
    const put = await rejectionOf(putCacheManifest(s, 'lock-z', cacheManifest([A], {})), RegistryError);
    expect([put.status, put.retryable]).toEqual([status, retryable]);
    expect(put.message).toContain(`pushing manifest lock-z: HTTP ${status} (INJECTED: said INJECTED)`);
  });
});
