// A real registry for tests: Debian's docker-registry (CNCF Distribution)
// on 127.0.0.1 with filesystem storage in a temp directory, optionally behind
// htpasswd auth. A missing docker-registry is an error, never a skip.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { stringify } from 'yaml';
import { run } from '../../src/exec.js';

export interface TestRegistry {
  /** `127.0.0.1:<port>`, the registry part of image references. */
  host: string;
  /** Its temp directory: config, htpasswd and storage. */
  dir: string;
  stop(): Promise<void>;
}

export interface RegistryOptions {
  auth?: { username: string; password: string };
}

const START_MS = 20_000;
const ATTEMPTS = 3;

/** A port free right now on 127.0.0.1 (another process may take it before the registry does: we retry then). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (!address || typeof address === 'string') throw new Error('could not read the port of a listening socket');
  return address.port;
}

/** One htpasswd line, bcrypt as Distribution requires; the password goes on stdin, not in an argument. */
async function htpasswdLine(username: string, password: string): Promise<string> {
  const r = await run({ command: 'htpasswd', args: ['-nBi', username] }, { input: password, package: 'apache2-utils' });
  return `${r.stdout.trim()}\n`;
}

function config(dir: string, port: number, auth: boolean): string {
  return stringify({
    version: 0.1,
    log: { level: 'warn', accesslog: { disabled: true } },
    storage: { filesystem: { rootdirectory: path.join(dir, 'data') }, delete: { enabled: true } },
    http: { addr: `127.0.0.1:${port}`, secret: `g3-test-${port}` },
    ...(auth && { auth: { htpasswd: { realm: 'g3-test', path: path.join(dir, 'htpasswd') } } }),
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const closed = new Promise((resolve) => child.once('close', resolve));
  child.kill('SIGTERM');
  const done = await Promise.race([closed.then(() => true), sleep(5000).then(() => false)]);
  if (!done) {
    child.kill('SIGKILL');
    await closed;
  }
}

/** Start the registry and resolve once its /v2/ endpoint answers. */
async function launch(dir: string, port: number, auth: boolean): Promise<ChildProcess> {
  const cfg = path.join(dir, `config-${port}.yml`);
  await writeFile(cfg, config(dir, port, auth));
  const child = spawn('docker-registry', ['serve', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (d: Buffer) => {
    output = (output + d.toString('utf8')).slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let failed: Error | undefined;
  child.once('error', (err: NodeJS.ErrnoException) => {
    failed =
      err.code === 'ENOENT'
        ? new Error(
            'docker-registry is not installed: the registry tests need it (apt-get install docker-registry apache2-utils, or run scripts/setup-host.sh)',
          )
        : err;
  });
  const deadline = Date.now() + START_MS;
  while (Date.now() < deadline) {
    if (failed) throw failed;
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`docker-registry exited (${child.exitCode ?? child.signalCode}) before answering:\n${output}`);
    const status = await request(`http://127.0.0.1:${port}/v2/`, { headersTimeout: 1000, bodyTimeout: 1000 }).then(
      async (res) => {
        await res.body.dump();
        return res.statusCode;
      },
      () => 0,
    );
    if (status === 200 || (auth && status === 401)) return child;
    await sleep(100);
  }
  await stopChild(child);
  throw new Error(`docker-registry did not answer on 127.0.0.1:${port} within ${START_MS / 1000} s:\n${output}`);
}

/** A running docker-registry on 127.0.0.1, with htpasswd auth when `auth` is given; stop() kills it and removes its files. */
export async function startRegistry(opts: RegistryOptions = {}): Promise<TestRegistry> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'g3-registry-'));
  try {
    if (opts.auth) await writeFile(path.join(dir, 'htpasswd'), await htpasswdLine(opts.auth.username, opts.auth.password));
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      try {
        const child = await launch(dir, port, opts.auth !== undefined);
        return {
          host: `127.0.0.1:${port}`,
          dir,
          stop: async () => {
            await stopChild(child);
            await rm(dir, { recursive: true, force: true });
          },
        };
      } catch (err) {
        // Only a lost race for the port is worth another try; a missing binary is not.
        if (attempt >= ATTEMPTS || !/address already in use/.test(String(err))) throw err;
      }
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
