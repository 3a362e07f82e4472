// pushImage against a stand-in docker CLI (a shell script that records its
// arguments, stdin and DOCKER_CONFIG), so secrets handling can be checked
// call by call without a daemon or a registry.
import { createHash } from 'node:crypto';
import { access, chmod, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useRegistryServers } from './registry-servers.js';
import type { DockerClient } from '../../src/docker/client.js';
import { StepError, UserError } from '../../src/errors.js';
import type { Credentials } from '../../src/registry/credentials.js';
import { loginCommand, logoutCommand, pushCommand, repoDigestsCommand } from '../../src/registry/push-commands.js';
import { type PushEvent, pushImage } from '../../src/registry/push.js';
import { parseRef } from '../../src/registry/ref.js';
import { useTempDirs } from './tmpdir.js';

const tempDir = useTempDirs('g3-push-unit-');
const PASSWORD = 'Pa55 w0rd"$x';
const CREDS: Credentials = { username: 'bob', password: PASSWORD, from: 'REGISTRY_*' };
const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

// Records each call; `fail-login` and `fail-push` files make those steps fail (login echoing its stdin, as a careless tool might).
const FAKE_DOCKER = `#!/bin/sh
dir=$(dirname "$0")
printf 'CALL %s | config=%s mode=%s\\n' "$*" "$DOCKER_CONFIG" "$(stat -c %a "$DOCKER_CONFIG")" >> "$dir/calls.log"
case "$1" in
  login)
    pw=$(cat)
    printf 'STDIN %s\\n' "$pw" >> "$dir/calls.log"
    if [ -f "$dir/fail-login" ]; then echo "Error response from daemon: login attempt failed with status: 401 Unauthorized (tried $pw)" >&2; exit 1; fi
    echo '{"auths":{}}' > "$DOCKER_CONFIG/config.json"
    echo "Login Succeeded" ;;
  push)
    if [ -f "$dir/fail-push" ]; then echo "unauthorized: authentication required" >&2; exit 1; fi
    echo "The push refers to repository [$2]" ;;
  image) cat "$dir/repodigests" ;;
  logout)
    if [ -f "$dir/fail-logout" ]; then echo "error removing credentials: permission denied" >&2; exit 1; fi ;;
esac
exit 0
`;

async function fakeClient(repoDigests: string[]): Promise<{ client: DockerClient; dir: string; calls: () => Promise<string[]> }> {
  const dir = await tempDir();
  const bin = path.join(dir, 'docker');
  await writeFile(bin, FAKE_DOCKER);
  await chmod(bin, 0o755);
  await writeFile(path.join(dir, 'repodigests'), JSON.stringify(repoDigests));
  const calls = async () => (await readFile(path.join(dir, 'calls.log'), 'utf8').catch(() => '')).trim().split('\n').filter(Boolean);
  return { client: { bin, mode: 'buildkit', version: '20.10.24' }, dir, calls };
}

/** The docker subcommand of each call, and `stdin` where the fake read it. */
function steps(lines: string[]): string[] {
  return lines.map((l) => (l.startsWith('STDIN') ? 'stdin' : (l.split(' ')[1] ?? '')));
}

/** The DOCKER_CONFIG each call saw, and its mode. */
function configsOf(lines: string[]): Set<string> {
  return new Set(lines.filter((l) => l.startsWith('CALL')).map((l) => l.replace(/^.*\| /, '')));
}

const servers = useRegistryServers();

describe('push command lines', () => {
  const client: DockerClient = { bin: '/usr/bin/docker', mode: 'buildkit', version: '20.10.24' };
  it.each([
    [loginCommand(client, '127.0.0.1:5000', 'bob'), ['login', '127.0.0.1:5000', '--username', 'bob', '--password-stdin']],
    [logoutCommand(client, '127.0.0.1:5000'), ['logout', '127.0.0.1:5000']],
    [pushCommand(client, '127.0.0.1:5000/a:1'), ['push', '127.0.0.1:5000/a:1']],
    [repoDigestsCommand(client, '127.0.0.1:5000/a:1'), ['image', 'inspect', '--format', '{{json .RepoDigests}}', '127.0.0.1:5000/a:1']],
  ])('runs %j', (cmd, args) => {
    expect(cmd).toEqual({ command: '/usr/bin/docker', args });
  });
});

describe('pushImage', () => {
  it('logs in once per registry with the password on stdin only, in a private DOCKER_CONFIG it removes, and logs out', async () => {
    const fake = await fakeClient([`127.0.0.1:5000/team/os@${D1}`, `127.0.0.1:6000/os@${D2}`]);
    const events: PushEvent[] = [];
    const targets = ['127.0.0.1:5000/team/os:1.0', '127.0.0.1:5000/team/os', '127.0.0.1:6000/os:1.0'].map((t) => parseRef(t));
    const result = await pushImage({ client: fake.client, localRef: 'sha256:abc', targets, credentials: CREDS, emit: (e) => events.push(e) });

    expect(result.pushed).toEqual([
      { ref: '127.0.0.1:5000/team/os:1.0', digest: D1 },
      { ref: '127.0.0.1:5000/team/os:latest', digest: D1 },
      { ref: '127.0.0.1:6000/os:1.0', digest: D2 },
    ]);
    const lines = await fake.calls();
    expect(lines.map((l) => l.replace(/ \|.*$/, ''))).toEqual([
      'CALL login 127.0.0.1:5000 --username bob --password-stdin',
      `STDIN ${PASSWORD}`,
      'CALL login 127.0.0.1:6000 --username bob --password-stdin',
      `STDIN ${PASSWORD}`,
      'CALL tag sha256:abc 127.0.0.1:5000/team/os:1.0',
      'CALL push 127.0.0.1:5000/team/os:1.0',
      'CALL image inspect --format {{json .RepoDigests}} 127.0.0.1:5000/team/os:1.0',
      'CALL tag sha256:abc 127.0.0.1:5000/team/os:latest',
      'CALL push 127.0.0.1:5000/team/os:latest',
      'CALL image inspect --format {{json .RepoDigests}} 127.0.0.1:5000/team/os:latest',
      'CALL tag sha256:abc 127.0.0.1:6000/os:1.0',
      'CALL push 127.0.0.1:6000/os:1.0',
      'CALL image inspect --format {{json .RepoDigests}} 127.0.0.1:6000/os:1.0',
      'CALL logout 127.0.0.1:5000',
      'CALL logout 127.0.0.1:6000',
    ]);
    // The password only ever reached docker on stdin.
    expect(lines.filter((l) => l.includes(PASSWORD)).every((l) => l.startsWith('STDIN'))).toBe(true);
    // One private configuration directory for the calls that need it (tag runs with the caller's), gone afterwards.
    const configs = [...configsOf(lines.filter((l) => !l.startsWith('CALL tag')))];
    expect(configs).toHaveLength(1);
    const [, dir, mode] = /^config=(\S+) mode=(\d+)$/.exec(configs[0] ?? '') ?? [];
    expect(mode).toBe('700');
    expect(dir?.startsWith(os.tmpdir())).toBe(true);
    expect(await exists(dir ?? '/')).toBe(false);
    expect(JSON.stringify(events)).not.toContain(PASSWORD);
    expect(events.filter((e) => e.type === 'info').map((e) => e.message)).toContain(`pushed 127.0.0.1:6000/os:1.0 (${D2})`);
  });

  it('pushes without logging in when no credentials are given', async () => {
    const fake = await fakeClient([`127.0.0.1:5000/os@${D1}`]);
    const result = await pushImage({ client: fake.client, localRef: 'img', targets: [parseRef('127.0.0.1:5000/os:1')], emit: () => undefined });
    expect(result.pushed).toEqual([{ ref: '127.0.0.1:5000/os:1', digest: D1 }]);
    expect(steps(await fake.calls())).toEqual(['tag', 'push', 'image']);
  });

  it('fails a refused login with the registry named and the password redacted, logs out and removes the config', async () => {
    const fake = await fakeClient([]);
    await writeFile(path.join(fake.dir, 'fail-login'), '');
    const events: PushEvent[] = [];
    const err = await pushImage({
      client: fake.client,
      localRef: 'img',
      targets: [parseRef('127.0.0.1:5000/os:1')],
      credentials: CREDS,
      emit: (e) => events.push(e),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepError);
    const step = err as StepError;
    expect(step.message).toBe(
      'logging in to registry 127.0.0.1:5000 as bob (from REGISTRY_*) failed (exit code 1): Error response from daemon: login attempt failed with status: 401 Unauthorized (tried ***); check REGISTRY_USERNAME and REGISTRY_PASSWORD',
    );
    expect(JSON.stringify([step.message, step.details, events])).not.toContain(PASSWORD);
    const lines = await fake.calls();
    expect(steps(lines)).toEqual(['login', 'stdin', 'logout']);
    const dir = /config=(\S+)/.exec(lines[0] ?? '')?.[1] ?? '/';
    expect(await exists(dir)).toBe(false);
  });

  it.each([
    ['with credentials', CREDS, /; the registry refused the credentials from REGISTRY_\* \(user bob\)/, ['login', 'stdin', 'tag', 'push', 'logout']],
    ['without credentials', undefined, /; the registry wants credentials: set REGISTRY_USERNAME and REGISTRY_PASSWORD$/, ['tag', 'push']],
  ])('fails a refused push %s with the ref and the registry error, and logs out', async (_what, credentials, advice, expected) => {
    const fake = await fakeClient([]);
    await writeFile(path.join(fake.dir, 'fail-push'), '');
    const err = await pushImage({ client: fake.client, localRef: 'img', targets: [parseRef('127.0.0.1:5000/os:1')], credentials, emit: () => undefined }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StepError);
    expect((err as StepError).message).toMatch(
      /^pushing 127\.0\.0\.1:5000\/os:1 to registry 127\.0\.0\.1:5000 failed \(exit code 1\): unauthorized: authentication required/,
    );
    expect((err as StepError).message).toMatch(advice);
    const lines = await fake.calls();
    expect(steps(lines)).toEqual(expected);
    expect(await exists(/config=(\S+)/.exec(lines.find((l) => l.includes('CALL push')) ?? '')?.[1] ?? '/')).toBe(false);
  });

  it('reports a logout that fails as a warning and still removes the private config', async () => {
    const fake = await fakeClient([`127.0.0.1:5000/os@${D1}`]);
    await writeFile(path.join(fake.dir, 'fail-logout'), '');
    const events: PushEvent[] = [];
    const result = await pushImage({
      client: fake.client,
      localRef: 'img',
      targets: [parseRef('127.0.0.1:5000/os:1')],
      credentials: CREDS,
      emit: (e) => events.push(e),
    });
    expect(result.pushed).toEqual([{ ref: '127.0.0.1:5000/os:1', digest: D1 }]);
    expect(events.filter((e) => e.type === 'warning').map((e) => e.message)).toEqual([
      'logging out of 127.0.0.1:5000 failed (error removing credentials: permission denied); removing the private docker config that holds the login',
    ]);
    const dir = /config=(\S+)/.exec((await fake.calls())[0] ?? '')?.[1] ?? '/';
    expect(await exists(dir)).toBe(false);
  });

  it('asks the registry for the digest when the image has several in that repository', async () => {
    const config = JSON.stringify({ config: { Labels: { a: 'b' } } });
    const cfgDigest = `sha256:${createHash('sha256').update(config).digest('hex')}`;
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { digest: cfgDigest },
      layers: [],
    });
    const server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/vnd.docker.distribution.manifest.v2+json' });
      res.end(req.url?.includes('/blobs/') ? config : manifest);
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    const fake = await fakeClient([`${host}/os@${D1}`, `${host}/os@${D2}`]);
    const result = await pushImage({ client: fake.client, localRef: 'img', targets: [parseRef(`${host}/os:1`)], emit: () => undefined, timeoutMs: 5000 });
    expect(result.pushed).toEqual([{ ref: `${host}/os:1`, digest: `sha256:${createHash('sha256').update(manifest).digest('hex')}` }]);
  });

  it.each([
    [['os:1'], /refusing to push os:1: it names no registry/],
    [[`127.0.0.1:5000/os@${D1}`], /cannot push to 127\.0\.0\.1:5000\/os@sha256:1+: a digest names existing content/],
    [[], /nothing to push/],
  ])('refuses targets %j before running docker', async (targets, message) => {
    const fake = await fakeClient([]);
    const err = await pushImage({
      client: fake.client,
      localRef: 'img',
      targets: targets.map((t) => parseRef(t)),
      credentials: CREDS,
      emit: () => undefined,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toMatch(message);
    expect(await fake.calls()).toEqual([]);
  });
});
