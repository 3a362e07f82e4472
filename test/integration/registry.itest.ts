// Pushing to and reading from a real registry (Debian's docker-registry on
// 127.0.0.1) through the real daemon, with and without htpasswd auth. The
// image is imported from a one-file tarball: nothing is pulled.
import { randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type DockerClient, detectClient } from '../../src/docker/client.js';
import { Docker } from '../../src/docker/docker.js';
import { StepError } from '../../src/errors.js';
import { run, setCommandTrace } from '../../src/exec.js';
import { remoteImage } from '../../src/registry/client.js';
import type { Credentials } from '../../src/registry/credentials.js';
import { closeRegistryConnections } from '../../src/registry/http.js';
import { type PushEvent, pushImage } from '../../src/registry/push.js';
import { parseRef } from '../../src/registry/ref.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { useTempDirs } from '../unit/tmpdir.js';

const tempDir = useTempDirs('g3-registry-itest-');
const unique = `${process.pid}-${randomBytes(3).toString('hex')}`;
const USER = 'g3-pusher';
const PASSWORD = `Pw-${randomBytes(9).toString('base64url')}!$"`;
const CREDS: Credentials = { username: USER, password: PASSWORD, from: 'REGISTRY_*' };
const LABELS = { 'org.g3.inputs': `inputs-${unique}`, 'org.g3.test': 'registry' };

let client: DockerClient;
let secured: TestRegistry;
let open: TestRegistry;
let localRef: string;
const names: string[] = [];
const traced: string[] = [];

beforeAll(async () => {
  client = await detectClient();
  [secured, open] = await Promise.all([startRegistry({ auth: { username: USER, password: PASSWORD } }), startRegistry()]);
  const dir = await tempDir();
  await writeFile(path.join(dir, 'hello.txt'), `hello ${unique}\n`);
  const tar = path.join(os.tmpdir(), `g3-registry-itest-${unique}.tar`);
  await run({ command: 'tar', args: ['-C', dir, '-cf', tar, 'hello.txt'] });
  localRef = `g3-registry-itest:${unique}`;
  names.push(localRef);
  await new Docker(client).importTar(
    tar,
    localRef,
    Object.entries(LABELS).map(([k, v]) => `LABEL ${k}=${v}`),
  );
  await run({ command: 'rm', args: ['-f', tar] });
  setCommandTrace((line) => traced.push(line));
});

const servers: Server[] = [];
afterEach(async () => {
  await closeRegistryConnections();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

afterAll(async () => {
  setCommandTrace(undefined);
  if (client && names.length) await run({ command: client.bin, args: ['rmi', ...names] }, { reject: false });
  await Promise.all([secured?.stop(), open?.stop()]);
});

/** An HTTP server on a free 127.0.0.1 port, closed after the test; gives its host:port. */
async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Push with a private temp root, so the test can see that the DOCKER_CONFIG made there is gone. */
async function push(targets: string[], credentials?: Credentials) {
  const root = await tempDir();
  const events: PushEvent[] = [];
  names.push(...targets.map((t) => (parseRef(t).tag ? t : `${t}:latest`)));
  const outcome = await pushImage({
    client,
    localRef,
    targets: targets.map((t) => parseRef(t)),
    credentials,
    emit: (e) => events.push(e),
    tempRoot: root,
    timeoutMs: 10_000,
  }).then(
    (result) => ({ result, error: undefined }),
    (error: unknown) => ({ result: undefined, error }),
  );
  return { ...outcome, events, leftovers: await readdir(root) };
}

describe('push to a registry with htpasswd auth', () => {
  it('pushes with valid credentials; the registry then serves the labels, and the digest push returned', async () => {
    const target = `${secured.host}/g3/os-image:${unique}`;
    const { result, error, leftovers } = await push([target], CREDS);
    expect(error).toBeUndefined();
    expect(leftovers).toEqual([]);
    const digest = result?.pushed[0]?.digest;
    expect(result?.pushed).toEqual([{ ref: target, digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) }]);
    const remote = await remoteImage(parseRef(target), { credentials: CREDS, timeoutMs: 10_000 });
    expect(remote?.digest).toBe(digest);
    expect(remote?.labels).toEqual(LABELS);
    expect(remote?.created).toMatch(/^\d{4}-\d\d-\d\dT/);
    // Pinned by the digest, the same image is found again.
    expect((await remoteImage(parseRef(`${secured.host}/g3/os-image@${digest}`), { credentials: CREDS, timeoutMs: 10_000 }))?.labels).toEqual(LABELS);
  });

  it('leaves no credential in the user docker config', async () => {
    const config = await readFile(path.join(os.homedir(), '.docker', 'config.json'), 'utf8').catch(() => '');
    expect(config).not.toContain(secured.host);
    expect(config).not.toContain(Buffer.from(`${USER}:${PASSWORD}`).toString('base64'));
  });

  it('fails with a wrong password, naming the registry, with the password nowhere and the private config removed', async () => {
    const wrong: Credentials = { ...CREDS, password: `wrong-${PASSWORD}` };
    const { error, events, leftovers } = await push([`${secured.host}/g3/os-image:wrong-${unique}`], wrong);
    expect(error).toBeInstanceOf(StepError);
    const step = error as StepError;
    expect(step.message).toMatch(
      new RegExp(
        `^logging in to registry ${secured.host.replace(/\./g, '\\.')} as ${USER} \\(from REGISTRY_\\*\\) failed \\(exit code 1\\): .*401 Unauthorized`,
      ),
    );
    const everything = JSON.stringify([step.message, step.details, String(step.cause), events, traced]);
    for (const secret of [wrong.password, PASSWORD, Buffer.from(`${USER}:${wrong.password}`).toString('base64')]) expect(everything).not.toContain(secret);
    expect(leftovers).toEqual([]);
  });

  it('fails without credentials, saying which variables to set', async () => {
    const { error, leftovers } = await push([`${secured.host}/g3/os-image:anon-${unique}`]);
    expect(error).toBeInstanceOf(StepError);
    expect((error as StepError).message).toMatch(
      new RegExp(
        `^pushing ${secured.host.replace(/\./g, '\\.')}/g3/os-image:anon-${unique} to registry ${secured.host.replace(/\./g, '\\.')} failed \\(exit code 1\\): .*`,
      ),
    );
    expect((error as StepError).message).toMatch(/set REGISTRY_USERNAME and REGISTRY_PASSWORD$/);
    expect(leftovers).toEqual([]);
    await expect(remoteImage(parseRef(`${secured.host}/g3/os-image:${unique}`), { timeoutMs: 10_000 })).rejects.toThrow(
      /registry wants credentials; set REGISTRY_USERNAME and REGISTRY_PASSWORD/,
    );
  });

  it("sends no Authorization to an origin the registry redirects a blob to, nor answers that origin's Basic challenge", async () => {
    const target = `g3/os-image:redirect-${unique}`;
    expect((await push([`${secured.host}/${target}`], CREDS)).error).toBeUndefined();
    const collected: (string | undefined)[] = [];
    const asked: (string | undefined)[] = [];
    // The collector stands for blob storage that asks for a login: it must never see one.
    const collector = await listen((req, res) => {
      collected.push(req.headers.authorization);
      res.writeHead(401, { 'www-authenticate': 'Basic realm="storage"', 'content-type': 'application/json' }).end('{}');
    });
    // The front is the registry as the client sees it: the real registry behind it, config blobs redirected.
    const front = await listen((req, res) => {
      asked.push(req.headers.authorization);
      if (/\/blobs\//.test(req.url ?? '')) return void res.writeHead(307, { location: `http://${collector}/blob` }).end();
      const up = httpRequest(
        { host: '127.0.0.1', port: Number(secured.host.split(':')[1]), method: req.method, path: req.url, headers: { ...req.headers, host: secured.host } },
        (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        },
      );
      req.pipe(up);
    });
    const err = await remoteImage(parseRef(`${front}/${target}`), { credentials: CREDS, timeoutMs: 10_000 }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(collected).toEqual([undefined]);
    // The registry's own challenge was answered (the manifest came through with the credentials)...
    expect(asked).toContain(`Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`);
    // ... and the collector's refused by name.
    expect(err?.message).toMatch(
      new RegExp(
        `HTTP 401 from http://${collector.replace(/\./g, '\\.')}, where the registry redirected blobs/sha256:[0-9a-f]{64}; credentials go only to the registry itself`,
      ),
    );
    expect(String(err?.message)).not.toContain(PASSWORD);
  });

  it('reads nothing for a tag or repository the registry does not have', async () => {
    expect(await remoteImage(parseRef(`${secured.host}/g3/os-image:never-${unique}`), { credentials: CREDS, timeoutMs: 10_000 })).toBeUndefined();
    expect(await remoteImage(parseRef(`${secured.host}/g3/nothing-here:1`), { credentials: CREDS, timeoutMs: 10_000 })).toBeUndefined();
  });
});

describe('startRegistry', () => {
  it('fails loudly, naming the package, when docker-registry is missing', async () => {
    const saved = process.env['PATH'];
    process.env['PATH'] = await tempDir();
    try {
      await expect(startRegistry()).rejects.toThrow(/docker-registry is not installed.*apt-get install docker-registry/);
    } finally {
      process.env['PATH'] = saved;
    }
  });
});

describe('push to a registry without auth', () => {
  it('pushes without credentials and the digest matches what the registry serves', async () => {
    const target = `${open.host}/g3/open-image:${unique}`;
    const { result, error, leftovers } = await push([target]);
    expect(error).toBeUndefined();
    expect(leftovers).toEqual([]);
    const remote = await remoteImage(parseRef(target), { timeoutMs: 10_000 });
    expect(result?.pushed).toEqual([{ ref: target, digest: remote?.digest }]);
    expect(remote?.labels).toEqual(LABELS);
  });

  it('pushes to several registries in one call, logging in to each once', async () => {
    traced.length = 0;
    const targets = [`${secured.host}/g3/multi`, `${secured.host}/g3/multi:v2-${unique}`, `${open.host}/g3/multi:${unique}`];
    const { result, error } = await push(targets, CREDS);
    expect(error).toBeUndefined();
    expect(result?.pushed.map((p) => p.ref)).toEqual([
      `${secured.host}/g3/multi:latest`,
      `${secured.host}/g3/multi:v2-${unique}`,
      `${open.host}/g3/multi:${unique}`,
    ]);
    const logins = traced.filter((l) => / login /.test(l)).map((l) => l.replace(/^\$ \S+ login (\S+).*$/, '$1'));
    expect(logins).toEqual([secured.host, open.host]);
    expect(traced.filter((l) => / logout /.test(l))).toHaveLength(2);
    expect(traced.join('\n')).not.toContain(PASSWORD);
  });
});
