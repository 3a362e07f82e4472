// remoteImage against small HTTP servers on 127.0.0.1 that speak enough of
// the Distribution API: manifests, indexes, blobs, Basic and Bearer auth.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { useRegistryServers } from './registry-servers.js';
import { StepError, UserError } from '../../src/errors.js';
import { MEDIA, remoteImage } from '../../src/registry/client.js';
import type { Credentials } from '../../src/registry/credentials.js';
import { closeRegistryConnections } from '../../src/registry/http.js';
import { parseRef } from '../../src/registry/ref.js';
import { rejectionOf } from '../support/failure.js';

const sha = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;
const CREDS: Credentials = { username: 'alice', password: 'pa55-w0rd!', from: 'REGISTRY_*' };
const BASIC = `Basic ${Buffer.from('alice:pa55-w0rd!').toString('base64')}`;

interface Reply {
  status?: number;
  type?: string;
  body: string;
  headers?: Record<string, string>;
}
type Handler = (req: IncomingMessage, url: URL) => Reply | undefined | Promise<Reply | undefined>;

const servers = useRegistryServers();

/** A server on 127.0.0.1 whose handler answers by path (404 when it returns undefined); records every request. */
async function serve(handler: Handler): Promise<{ host: string; seen: { path: string; authorization?: string; accept?: string }[] }> {
  const seen: { path: string; authorization?: string; accept?: string }[] = [];
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    seen.push({ path: url.pathname + url.search, authorization: req.headers.authorization, accept: req.headers.accept });
    const r = (await handler(req, url)) ?? {
      status: 404,
      type: 'application/json',
      body: JSON.stringify({ errors: [{ code: 'NOT_FOUND', message: 'no route' }] }),
    };
    res.writeHead(r.status ?? 200, { 'content-type': r.type ?? 'application/json', ...r.headers });
    res.end(r.body);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { host: `127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

/** An image: its config, a manifest naming it, and the routes that serve both. */
function image(labels: Record<string, string>, type: string = MEDIA.dockerManifest) {
  const config = JSON.stringify({ created: '2026-01-02T03:04:05Z', architecture: 'amd64', os: 'linux', config: { Labels: labels } });
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: type,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
    layers: [],
  });
  return { config, manifest, digest: sha(manifest), type };
}

/** Routes for repository `team/os` serving `images` by digest and `tags` by name. */
function routes(tags: Record<string, { body: string; type: string }>, images: ReturnType<typeof image>[]): Handler {
  return (_req, url) => {
    const m = /^\/v2\/team\/os\/(manifests|blobs)\/(.+)$/.exec(url.pathname);
    if (!m) return url.pathname === '/v2/' ? { body: '{}' } : undefined;
    const [, kind, ref] = m;
    if (kind === 'blobs') {
      const img = images.find((i) => sha(i.config) === ref);
      return img ? { type: 'application/octet-stream', body: img.config } : { status: 404, body: JSON.stringify({ errors: [{ code: 'BLOB_UNKNOWN' }] }) };
    }
    const tagged = tags[ref ?? ''];
    if (tagged) return { type: tagged.type, body: tagged.body, headers: { 'docker-content-digest': sha(tagged.body) } };
    const img = images.find((i) => i.digest === ref);
    if (img) return { type: img.type, body: img.manifest };
    return { status: 404, body: JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }) };
  };
}

const failureOf = (p: Promise<unknown>) => rejectionOf(p, StepError);

describe('remoteImage reads manifests and configs', () => {
  it.each([
    ['a Docker schema 2 manifest', MEDIA.dockerManifest],
    ['an OCI image manifest', MEDIA.ociManifest],
  ])('reads labels, creation time and digest from %s', async (_what, type) => {
    const img = image({ 'org.g3.inputs': 'abc' }, type);
    const { host, seen } = await serve(routes({ '1.0': { body: img.manifest, type } }, [img]));
    const got = await remoteImage(parseRef(`${host}/team/os:1.0`), { timeoutMs: 5000 });
    expect(got).toEqual({ digest: img.digest, labels: { 'org.g3.inputs': 'abc' }, created: '2026-01-02T03:04:05Z' });
    expect(seen[0]?.accept).toContain(MEDIA.ociIndex);
    expect(seen[0]?.accept).toContain(MEDIA.dockerManifest);
  });

  it.each([
    ['an OCI index', MEDIA.ociIndex],
    ['a Docker manifest list', MEDIA.dockerList],
  ])('takes linux/amd64 from %s and reports the index digest', async (_what, type) => {
    const arm = image({ arch: 'arm64' });
    const amd = image({ arch: 'amd64' });
    const index = JSON.stringify({
      schemaVersion: 2,
      mediaType: type,
      manifests: [
        { mediaType: arm.type, digest: arm.digest, size: 1, platform: { os: 'linux', architecture: 'arm64' } },
        { mediaType: amd.type, digest: amd.digest, size: 1, platform: { os: 'linux', architecture: 'amd64' } },
      ],
    });
    const { host } = await serve(routes({ latest: { body: index, type } }, [arm, amd]));
    const got = await remoteImage(parseRef(`${host}/team/os`), { timeoutMs: 5000 });
    expect(got).toEqual({ digest: sha(index), labels: { arch: 'amd64' }, created: '2026-01-02T03:04:05Z' });
  });

  it('refuses an index without linux/amd64, naming what it has', async () => {
    const arm = image({});
    const index = JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.ociIndex,
      manifests: [{ digest: arm.digest, platform: { os: 'linux', architecture: 'arm64' } }],
    });
    const { host } = await serve(routes({ '1': { body: index, type: MEDIA.ociIndex } }, [arm]));
    const err = await failureOf(remoteImage(parseRef(`${host}/team/os:1`), { timeoutMs: 5000 }));
    expect(err.message).toBe(`registry ${host}, repository team/os: manifest 1 is an index without a linux/amd64 image (it has: linux/arm64)`);
  });

  it('reads a manifest pinned by digest and gives no labels for a config without any', async () => {
    const img = image({});
    const cfg = JSON.stringify({ config: { Labels: null } });
    const bare = {
      ...img,
      config: cfg,
      manifest: JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociManifest, config: { digest: sha(cfg) }, layers: [] }),
    };
    const pinned = { ...bare, digest: sha(bare.manifest), type: MEDIA.ociManifest };
    const { host } = await serve(routes({}, [pinned]));
    expect(await remoteImage(parseRef(`${host}/team/os@${pinned.digest}`), { timeoutMs: 5000 })).toEqual({ digest: pinned.digest, labels: {} });
  });

  it.each([
    ['an unknown tag', 'team/os:nope'],
    ['an unknown repository', 'other/repo:1'],
  ])('gives undefined for %s', async (_what, name) => {
    const img = image({});
    const { host } = await serve((req, url) =>
      url.pathname.startsWith('/v2/other/')
        ? { status: 404, body: JSON.stringify({ errors: [{ code: 'NAME_UNKNOWN', message: 'repository name not known to registry' }] }) }
        : routes({ '1': { body: img.manifest, type: img.type } }, [img])(req, url),
    );
    expect(await remoteImage(parseRef(`${host}/${name}`), { timeoutMs: 5000 })).toBeUndefined();
  });
});

describe('remoteImage authenticates', () => {
  const img = image({ a: 'b' });
  const open = routes({ '1': { body: img.manifest, type: img.type } }, [img]);

  it('retries with Basic credentials when challenged for them', async () => {
    const { host, seen } = await serve((req, url) =>
      req.headers.authorization === BASIC
        ? open(req, url)
        : { status: 401, headers: { 'www-authenticate': 'Basic realm="test"' }, body: '{"errors":[{"code":"UNAUTHORIZED"}]}' },
    );
    expect(await remoteImage(parseRef(`${host}/team/os:1`), { credentials: CREDS, timeoutMs: 5000 })).toMatchObject({ digest: img.digest, labels: { a: 'b' } });
    // The header that worked is reused for the config blob: no second challenge.
    expect(seen.map((s) => s.authorization)).toEqual([undefined, BASIC, BASIC]);
  });

  it('fetches a Bearer token from the realm with the credentials, for the scope asked', async () => {
    let host = '';
    const server = await serve((req, url) => {
      if (url.pathname === '/token') {
        expect(url.searchParams.get('service')).toBe('fake-registry');
        expect(url.searchParams.get('scope')).toBe('repository:team/os:pull');
        return req.headers.authorization === BASIC ? { body: JSON.stringify({ token: 'tok-123' }) } : { status: 401, body: '{}' };
      }
      if (req.headers.authorization === 'Bearer tok-123') return open(req, url);
      return {
        status: 401,
        headers: { 'www-authenticate': `Bearer realm="http://${host}/token",service="fake-registry",scope="repository:team/os:pull"` },
        body: '{}',
      };
    });
    host = server.host;
    expect(await remoteImage(parseRef(`${host}/team/os:1`), { credentials: CREDS, timeoutMs: 5000 })).toMatchObject({ digest: img.digest, labels: { a: 'b' } });
    expect(server.seen.map((s) => s.path)).toEqual([
      '/v2/team/os/manifests/1',
      '/token?service=fake-registry&scope=repository%3Ateam%2Fos%3Apull',
      '/v2/team/os/manifests/1',
      `/v2/team/os/blobs/${sha(img.config)}`,
    ]);
  });

  it('gets an anonymous Bearer token (access_token) without credentials and asks for pull scope when none is named', async () => {
    let host = '';
    const server = await serve((req, url) => {
      if (url.pathname === '/token') return req.headers.authorization ? { status: 400, body: '{}' } : { body: JSON.stringify({ access_token: 'anon' }) };
      if (req.headers.authorization === 'Bearer anon') return open(req, url);
      return { status: 401, headers: { 'www-authenticate': `Bearer realm="http://${host}/token"` }, body: '{}' };
    });
    host = server.host;
    expect(await remoteImage(parseRef(`${host}/team/os:1`), { timeoutMs: 5000 })).toMatchObject({ labels: { a: 'b' } });
    expect(server.seen[1]?.path).toBe('/token?scope=repository%3Ateam%2Fos%3Apull');
  });

  it.each([
    [
      'Basic, wrong password',
      'Basic realm="x"',
      { ...CREDS, password: 'wrong-Pa55' },
      /HTTP 401 after authenticating: the credentials from REGISTRY_\* \(user alice\) were rejected/,
    ],
    ['Basic, no credentials', 'Basic realm="x"', undefined, /HTTP 401: the registry wants credentials; set REGISTRY_USERNAME and REGISTRY_PASSWORD/],
    [
      'Bearer, wrong password',
      'Bearer realm="TOKEN"',
      { ...CREDS, password: 'wrong-Pa55' },
      /the token service http:\/\/127\.0\.0\.1:\d+\/token answered HTTP 401: the credentials from REGISTRY_\* \(user alice\) were rejected/,
    ],
    ['an unknown scheme', 'Negotiate abc', CREDS, /HTTP 401 with no Basic or Bearer challenge/],
  ])('fails clearly on %s, without the password', async (_what, challenge, credentials, message) => {
    let host = '';
    const server = await serve((req, url) => {
      if (url.pathname === '/token') return req.headers.authorization === BASIC ? { body: '{"token":"t"}' } : { status: 401, body: '{}' };
      if (req.headers.authorization === BASIC || req.headers.authorization === 'Bearer t') return open(req, url);
      return { status: 401, headers: { 'www-authenticate': challenge.replace('TOKEN', `http://${host}/token`) }, body: '{}' };
    });
    host = server.host;
    const err = await failureOf(remoteImage(parseRef(`${host}/team/os:1`), { credentials, timeoutMs: 5000 }));
    expect(err.message).toMatch(new RegExp(`^registry ${host.replace(/\./g, '\\.')}, repository team/os: `));
    expect(err.message).toMatch(message);
    expect(`${err.message} ${String(err.cause)}`).not.toContain('wrong-Pa55');
    expect(`${err.message} ${String(err.cause)}`).not.toContain(Buffer.from('alice:wrong-Pa55').toString('base64'));
  });

  it('refuses to send credentials to a token service on another host over plain HTTP', async () => {
    const { host, seen } = await serve(() => ({ status: 401, headers: { 'www-authenticate': 'Bearer realm="http://tokens.example.test/token"' }, body: '{}' }));
    const err = await failureOf(remoteImage(parseRef(`${host}/team/os:1`), { credentials: CREDS, timeoutMs: 5000 }));
    expect(err.message).toBe(
      `registry ${host}, repository team/os: refusing to send credentials to the token service http://tokens.example.test over plain HTTP`,
    );
    expect(seen).toHaveLength(1);
  });

  it('does not send the Authorization header to another origin a blob redirects to', async () => {
    const storage = await serve((_req, url) => (url.pathname === '/blob' ? { type: 'application/octet-stream', body: img.config } : undefined));
    const { host } = await serve((req, url) => {
      if (req.headers.authorization !== BASIC) return { status: 401, headers: { 'www-authenticate': 'Basic realm="x"' }, body: '{}' };
      if (url.pathname.includes('/blobs/')) return { status: 307, headers: { location: `http://${storage.host}/blob` }, body: '' };
      return open(req, url);
    });
    expect(await remoteImage(parseRef(`${host}/team/os:1`), { credentials: CREDS, timeoutMs: 5000 })).toMatchObject({ labels: { a: 'b' } });
    expect(storage.seen).toEqual([{ path: '/blob', authorization: undefined, accept: 'application/json, */*' }]);
  });
});

describe('remoteImage fails with a StepError naming registry and repository', () => {
  it.each([
    [
      'a server error',
      () => ({ status: 500, body: '{"errors":[{"code":"UNKNOWN","message":"disk full"}]}' }),
      /reading manifest 1 failed: HTTP 500 UNKNOWN: disk full$/,
    ],
    ['a body that is not JSON', () => ({ type: MEDIA.dockerManifest, body: '<html>' }), /manifest 1 is not a JSON object$/],
    [
      'a manifest of another kind',
      () => ({ type: 'text/plain', body: '{"schemaVersion":2,"mediaType":"text/plain"}' }),
      /has media type "text\/plain", not an image manifest or index/,
    ],
    ['a schema 1 manifest', () => ({ type: 'application/vnd.docker.distribution.manifest.v1+prettyjws', body: '{"schemaVersion":1}' }), /schema 1 manifest/],
    [
      'a manifest that does not match its Docker-Content-Digest',
      () => ({ type: MEDIA.dockerManifest, body: '{}', headers: { 'docker-content-digest': sha('other') } }),
      /does not match the Docker-Content-Digest/,
    ],
    ['a manifest larger than 4 MiB', () => ({ type: MEDIA.dockerManifest, body: 'x'.repeat(4 * 1024 * 1024 + 1) }), /larger than 4194304 bytes/],
  ])('on %s', async (_what, reply, message) => {
    const { host } = await serve(reply);
    const err = await failureOf(remoteImage(parseRef(`${host}/team/os:1`), { timeoutMs: 5000 }));
    expect(err.message).toMatch(new RegExp(`^registry ${host.replace(/\./g, '\\.')}, repository team/os: `));
    expect(err.message).toMatch(message);
  });

  it('on a config blob whose bytes do not match its digest', async () => {
    const img = image({ a: 'b' });
    const { host } = await serve((req, url) =>
      url.pathname.includes('/blobs/') ? { body: img.config.replace('"b"', '"c"') } : routes({ '1': { body: img.manifest, type: img.type } }, [img])(req, url),
    );
    const err = await failureOf(remoteImage(parseRef(`${host}/team/os:1`), { timeoutMs: 5000 }));
    expect(err.message).toContain(`image config ${sha(img.config)} does not match its digest`);
  });

  it('when nothing listens on the port', async () => {
    const { host } = await serve(() => undefined);
    await closeRegistryConnections();
    for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
    const err = await failureOf(remoteImage(parseRef(`${host}/team/os:1`), { timeoutMs: 5000 }));
    expect(err.message).toBe(`registry ${host}, repository team/os: cannot reach http://${host} (ECONNREFUSED: connect ECONNREFUSED ${host})`);
  });

  it('when the server does not answer within the time limit', async () => {
    const { host } = await serve(() => new Promise(() => undefined));
    // No duration bound: the message says the time limit ended it, and the test's own timeout catches a hang.
    const err = await failureOf(remoteImage(parseRef(`${host}/team/os:1`), { timeoutMs: 300 }));
    expect(err.message).toMatch(/cannot reach http:\/\/127\.0\.0\.1:\d+ \(timed out\)$/);
  });
});

it('refuses a reference without a registry host', async () => {
  await expect(remoteImage(parseRef('team/os:1'), { timeoutMs: 1000 })).rejects.toBeInstanceOf(UserError);
});
