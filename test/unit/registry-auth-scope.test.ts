// Where registry credentials may go: the registry's own origin and the token
// service its own 401 challenge names, over HTTPS unless both are on loopback.
// A challenge from an origin the registry redirected to gets nothing.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { StepError } from '../../src/errors.js';
import { remoteImage } from '../../src/registry/client.js';
import type { Credentials } from '../../src/registry/credentials.js';
import { realmProblem } from '../../src/registry/http.js';
import { parseRef } from '../../src/registry/ref.js';
import { useRegistryServers } from './registry-servers.js';
import { rejectionOf } from '../support/failure.js';

const CREDS: Credentials = { username: 'alice', password: 'pa55-w0rd!', from: 'REGISTRY_*' };
const BASIC = `Basic ${Buffer.from('alice:pa55-w0rd!').toString('base64')}`;

const servers = useRegistryServers();

interface Seen {
  path: string;
  authorization?: string;
}

interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

/** A server on 127.0.0.1 answering with `reply(path)`; records every request. */
async function serve(reply: (path: string, req: IncomingMessage) => Answer): Promise<{ host: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? '/';
    seen.push({ path, authorization: req.headers.authorization });
    const r = reply(path, req);
    res.writeHead(r.status, { 'content-type': 'application/json', ...r.headers });
    res.end(r.body ?? '{}');
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { host: `127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const failureOf = (p: Promise<unknown>) => rejectionOf(p, StepError);

describe('a 401 from an origin the registry redirected to', () => {
  it.each([
    ['a Basic challenge', (_host: string) => 'Basic realm="give me your password"'],
    ['a Bearer challenge naming its own token service', (host: string) => `Bearer realm="http://${host}/token",service="x"`],
  ])('is not answered: %s gets no credentials, and the error names that origin', async (_what, challenge) => {
    let otherHost = '';
    const other = await serve((path) =>
      path.startsWith('/token') ? { status: 200, body: '{"token":"t"}' } : { status: 401, headers: { 'www-authenticate': challenge(otherHost) } },
    );
    otherHost = other.host;
    const registry = await serve(() => ({ status: 307, headers: { location: `http://${other.host}/elsewhere` } }));
    const err = await failureOf(remoteImage(parseRef(`${registry.host}/team/os:1`), { credentials: CREDS, timeoutMs: 5000 }));
    expect(other.seen).toEqual([{ path: '/elsewhere', authorization: undefined }]);
    expect(registry.seen.map((s) => s.authorization)).toEqual([undefined]);
    expect(err.message).toBe(
      `registry ${registry.host}, repository team/os: HTTP 401 from http://${other.host}, where the registry redirected manifests/1; credentials go only to the registry itself and the token service its own challenge names`,
    );
  });

  it("still answers the registry's own challenge and follows its redirects without the header", async () => {
    const storage = await serve(() => ({ status: 200, body: '{}' }));
    const registry = await serve(
      (_path, req): Answer =>
        req.headers.authorization === BASIC
          ? { status: 307, headers: { location: `http://${storage.host}/m` } }
          : { status: 401, headers: { 'www-authenticate': 'Basic realm="r"' } },
    );
    // The redirected-to answer is no manifest: the point is who saw which header.
    await failureOf(remoteImage(parseRef(`${registry.host}/team/os:1`), { credentials: CREDS, timeoutMs: 5000 }));
    expect(registry.seen.map((s) => s.authorization)).toEqual([undefined, BASIC]);
    expect(storage.seen.map((s) => s.authorization)).toEqual([undefined]);
  });
});

describe('realmProblem', () => {
  it.each([
    ['registry.example.test', 'https://auth.example.test/token', undefined],
    ['127.0.0.1:5000', 'http://127.0.0.1:5001/token', undefined],
    ['localhost:5000', 'http://[::1]:5001/token', undefined],
    ['127.0.0.1:5000', 'http://tokens.example.test/token', 'refusing to send credentials to the token service http://tokens.example.test over plain HTTP'],
    [
      'registry.example.test',
      'http://127.0.0.1:5001/token',
      'refusing to send credentials to the token service http://127.0.0.1:5001 over plain HTTP: only a registry on loopback may name one that is not HTTPS',
    ],
    ['registry.example.test', 'https://u:p@auth.example.test/token', 'the token service https://auth.example.test is named with user info; refusing it'],
  ])('registry %s, realm %s: %s', (registry, realm, want) => {
    expect(realmProblem(registry, new URL(realm))).toBe(want);
  });
});

describe('registry errors carry no secret', () => {
  it('redacts token query values and user info of a realm it cannot use, and the password in any form', async () => {
    const { host, seen } = await serve(() => ({
      status: 401,
      headers: { 'www-authenticate': 'Bearer realm="ftp://u:pa55-w0rd!@127.0.0.1/t?token=s3cr3t&x=1"' },
    }));
    const err = await failureOf(remoteImage(parseRef(`${host}/team/os:1`), { credentials: CREDS, timeoutMs: 5000 }));
    expect(err.message).toBe(`registry ${host}, repository team/os: the Bearer challenge names no usable token realm ("ftp://***@127.0.0.1/t?token=***&x=1")`);
    expect(seen).toHaveLength(1);
  });

  it('refuses a realm with user info before sending anything to it', async () => {
    let host = '';
    const server = await serve((path) =>
      path.startsWith('/token')
        ? { status: 200, body: '{"token":"t"}' }
        : { status: 401, headers: { 'www-authenticate': `Bearer realm="http://x:s3cr3t@${host}/token"` } },
    );
    host = server.host;
    const err = await failureOf(remoteImage(parseRef(`${host}/team/os:1`), { credentials: CREDS, timeoutMs: 5000 }));
    expect(err.message).toBe(`registry ${host}, repository team/os: the token service http://${host} is named with user info; refusing it`);
    expect(server.seen.map((s) => s.path)).toEqual(['/v2/team/os/manifests/1']);
  });
});
