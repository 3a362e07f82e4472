// Integration tests for the fault-injecting test origin (in-process and CLI mode).
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Origin, type OriginOptions, startOrigin } from './origin.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const CLI = fileURLToPath(new URL('./origin-cli.ts', import.meta.url));

let dir: string;
const origins: Origin[] = [];
const children: ChildProcess[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'g3-origin-'));
});

afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await Promise.all(origins.splice(0).map((o) => o.close()));
  await rm(dir, { recursive: true, force: true });
});

/** Start an origin that is closed after the test. */
async function origin(
  files: Record<string, Buffer> = {},
  lifetimeMs?: number,
  shape: Pick<OriginOptions, 'latencyMs' | 'rateBytesPerSecond'> = {},
): Promise<Origin> {
  const o = await startOrigin({ files, dir, lifetimeMs, ...shape });
  origins.push(o);
  return o;
}

/** GET a URL and collect whatever arrives; body errors are captured, not thrown. */
async function get(url: string) {
  const res = await request(url);
  const chunks: Buffer[] = [];
  let error: unknown;
  try {
    for await (const c of res.body) chunks.push(c as Buffer);
  } catch (err) {
    error = err;
  }
  return { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks), error };
}

/** Send a raw request path (no client-side URL normalisation) and return the status. */
function rawStatus(port: number, path: string): Promise<number> {
  return new Promise((ok, fail) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume();
      ok(res.statusCode ?? 0);
    });
    req.on('error', fail);
    req.end();
  });
}

describe('origin: normal service', () => {
  it('serves memory and dir files with GET and HEAD, counts GETs, 404s unknown paths', { timeout: 20_000 }, async () => {
    const mem = randomBytes(5000);
    const disk = randomBytes(3 * 1024 * 1024 + 17);
    await writeFile(join(dir, 'disk.bin'), disk);
    const o = await origin({ '/tools/a.bin': mem });
    expect(o.url).toBe(`http://127.0.0.1:${o.port}`);

    const a = await get(`${o.url}/tools/a.bin`);
    expect(a.status).toBe(200);
    expect(a.headers['content-type']).toBe('application/octet-stream');
    expect(a.headers['content-length']).toBe('5000');
    expect(a.body.equals(mem)).toBe(true);

    const d = await get(`${o.url}/disk.bin`);
    expect(d.headers['content-length']).toBe(String(disk.length));
    expect(d.body.equals(disk)).toBe(true);

    const head = await request(`${o.url}/disk.bin`, { method: 'HEAD' });
    expect(head.statusCode).toBe(200);
    expect(head.headers['content-length']).toBe(String(disk.length));
    await head.body.dump();

    expect((await get(`${o.url}/nope`)).status).toBe(404);
    o.setFile('/later.bin', Buffer.from('hi'));
    expect((await get(`${o.url}/later.bin`)).body.toString()).toBe('hi');

    expect(o.requests('/tools/a.bin')).toBe(1);
    expect(o.requests('/disk.bin')).toBe(1); // HEAD is not counted
    expect(o.requests('/nope')).toBe(1);
    expect(o.totalRequests()).toBe(4);
    expect(o.requestTimes('/disk.bin')).toHaveLength(1);
    expect(o.requestTimes('/tools/a.bin')[0]).toBeLessThanOrEqual(o.requestTimes('/disk.bin')[0] as number);
    o.resetCounts();
    expect(o.totalRequests()).toBe(0);
    expect(o.requests('/tools/a.bin')).toBe(0);
    expect(o.requestTimes('/tools/a.bin')).toEqual([]);
  });

  it('keeps connections alive', { timeout: 10_000 }, async () => {
    const o = await origin({ '/k': Buffer.from('keep') });
    const agent = new HttpAgent({ keepAlive: true, maxSockets: 1 });
    const once = () =>
      new Promise<boolean>((ok, fail) => {
        const req = httpRequest(`${o.url}/k`, { agent }, (res) => {
          res.resume();
          res.on('end', () => ok(req.reusedSocket));
        });
        req.on('error', fail);
        req.end();
      });
    expect(await once()).toBe(false);
    expect(await once()).toBe(true);
    agent.destroy();
  });

  it("rejects '..' segments with 400", { timeout: 10_000 }, async () => {
    await writeFile(join(dir, 'ok.bin'), 'ok');
    const o = await origin();
    expect(await rawStatus(o.port, '/../etc/passwd')).toBe(400);
    expect(await rawStatus(o.port, '/a/%2e%2e/%2e%2e/etc/passwd')).toBe(400);
    expect(await rawStatus(o.port, '/a/..%2F..%2Fetc/passwd')).toBe(400);
    expect(await rawStatus(o.port, '/ok.bin')).toBe(200);
  });
});

/** Milliseconds `fn` takes. */
async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

describe('origin: shaped like a distant mirror', () => {
  it('answers every request (GET, HEAD, 404, injected status) at least the latency later', { timeout: 20_000 }, async () => {
    const o = await origin({ '/a': Buffer.from('a'), '/e': Buffer.from('e') }, undefined, { latencyMs: 150 });
    o.fault('/e', { kind: 'status', status: 503 }, 1);
    const head = async () => (await request(`${o.url}/a`, { method: 'HEAD' })).body.dump();
    // Timers never fire early; 1 ms allows for the two clocks' rounding.
    for (const fn of [() => get(`${o.url}/a`), head, () => get(`${o.url}/none`), () => get(`${o.url}/e`)]) expect(await timed(fn)).toBeGreaterThanOrEqual(149);
    expect((await get(`${o.url}/a`)).body.toString()).toBe('a');
    expect(o.requests('/a')).toBe(2);
    expect(o.requests('/e')).toBe(1);
  });

  it('sends a body over one connection at no more than the rate, and gives each connection its own rate', { timeout: 30_000 }, async () => {
    const rate = 2_000_000;
    const data = randomBytes(1_000_000);
    const o = await origin({ '/big': data }, undefined, { rateBytesPerSecond: rate });
    // The bucket starts with a burst of 20 ms of the rate; the rest is paced.
    const least = ((data.length - rate * 0.02) / rate) * 1000;
    let got: Awaited<ReturnType<typeof get>> | undefined;
    expect(await timed(async () => (got = await get(`${o.url}/big`)))).toBeGreaterThanOrEqual(least);
    expect(got?.body.equals(data)).toBe(true);

    // Two connections at once: each is paced on its own, so together they take about as long as one, not twice.
    const agents = [new HttpAgent({ keepAlive: false }), new HttpAgent({ keepAlive: false })];
    const one = (agent: HttpAgent) =>
      new Promise<number>((ok, fail) => {
        const t0 = performance.now();
        let n = 0;
        httpRequest(`${o.url}/big`, { agent }, (res) => {
          res.on('data', (c: Buffer) => {
            n += c.length;
          });
          res.on('end', () => ok(n === data.length ? performance.now() - t0 : -1));
        })
          .on('error', fail)
          .end();
      });
    const both = await timed(async () => {
      const each = await Promise.all(agents.map(one));
      for (const ms of each) expect(ms).toBeGreaterThanOrEqual(least);
    });
    expect(both).toBeLessThan(2 * least);
    for (const a of agents) a.destroy();
  });

  it('shares one bucket between requests on one keep-alive connection', { timeout: 30_000 }, async () => {
    const rate = 2_000_000;
    const data = randomBytes(500_000);
    const o = await origin({ '/half': data }, undefined, { rateBytesPerSecond: rate });
    const agent = new HttpAgent({ keepAlive: true, maxSockets: 1 });
    const fetchOnce = () =>
      new Promise<boolean>((ok, fail) => {
        const req = httpRequest(`${o.url}/half`, { agent }, (res) => {
          res.resume();
          res.on('end', () => ok(req.reusedSocket));
        });
        req.on('error', fail);
        req.end();
      });
    let reused: boolean[] = [];
    const ms = await timed(async () => {
      reused = [await fetchOnce(), await fetchOnce()];
    });
    expect(reused).toEqual([false, true]);
    expect(ms).toBeGreaterThanOrEqual(((2 * data.length - rate * 0.02) / rate) * 1000);
    agent.destroy();
  });
});

describe('origin: faults', () => {
  it('injects statuses, 429 with Retry-After, and `times` limits the fault', { timeout: 10_000 }, async () => {
    const data = randomBytes(2048);
    const o = await origin({ '/f': data });
    o.fault('/f', { kind: 'status', status: 503 }, 2);
    expect((await get(`${o.url}/f`)).status).toBe(503);
    expect((await get(`${o.url}/f`)).status).toBe(503);
    const ok = await get(`${o.url}/f`);
    expect(ok.status).toBe(200);
    expect(ok.body.equals(data)).toBe(true);

    o.fault('/f', { kind: 'status', status: 429, retryAfter: '1' }, 1);
    const limited = await get(`${o.url}/f`);
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('1');

    // Without `times` the fault lasts until clearFaults().
    o.fault('/f', { kind: 'status', status: 500 });
    for (let i = 0; i < 3; i++) expect((await get(`${o.url}/f`)).status).toBe(500);
    o.clearFaults();
    expect((await get(`${o.url}/f`)).status).toBe(200);

    // A 404 fault works even though the file exists; faults queue in order.
    o.fault('/f', { kind: 'status', status: 404 }, 1);
    o.fault('/f', { kind: 'truncate' }, 1);
    expect((await get(`${o.url}/f`)).status).toBe(404);
    expect((await get(`${o.url}/f`)).error).toBeDefined();
    expect((await get(`${o.url}/f`)).body.equals(data)).toBe(true);
    expect(o.requests('/f')).toBe(11);
    expect(o.totalRequests()).toBe(11);
  });

  it('reset: half the body then a connection error', { timeout: 10_000 }, async () => {
    const data = randomBytes(256 * 1024);
    await writeFile(join(dir, 'big.bin'), data);
    const o = await origin();
    o.fault('/big.bin', { kind: 'reset' }, 1);
    const r = await get(`${o.url}/big.bin`).catch((error: unknown) => ({ error, body: Buffer.alloc(0) }));
    expect(r.error).toBeDefined();
    expect(r.body.length).toBeLessThan(data.length);
    expect((await get(`${o.url}/big.bin`)).body.equals(data)).toBe(true);
    expect(o.requests('/big.bin')).toBe(2);
  });

  it('truncate: correct Content-Length, half the body, clean close', { timeout: 10_000 }, async () => {
    const data = randomBytes(100_000);
    const o = await origin({ '/t': data });
    o.fault('/t', { kind: 'truncate' }, 1);
    const r = await get(`${o.url}/t`);
    expect(r.headers['content-length']).toBe('100000');
    expect(r.error).toBeDefined();
    expect(r.body.length).toBe(50_000);
    expect(r.body.equals(data.subarray(0, 50_000))).toBe(true);
  });

  it('stall: ~1 KiB, silence, then the socket dies', { timeout: 10_000 }, async () => {
    const o = await origin({ '/s': randomBytes(64 * 1024) });
    o.fault('/s', { kind: 'stall', ms: 400 }, 1);
    const t0 = Date.now();
    const r = await get(`${o.url}/s`);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(350);
    expect(r.error).toBeDefined();
    expect(r.body.length).toBe(1024);
  });

  it('close() ends a stall in progress instead of waiting for it', { timeout: 30_000 }, async () => {
    const o = await startOrigin({ files: { '/s': randomBytes(64 * 1024) } });
    // Longer than the test may run: close() only returns in time if it cuts the stall short.
    o.fault('/s', { kind: 'stall', ms: 10 * 60_000 });
    const res = await request(`${o.url}/s`);
    await o.close();
    await expect(res.body.arrayBuffer()).rejects.toBeDefined();
  });

  it('hold: headers and the first bytes, a signal, then the rest on release', { timeout: 30_000 }, async () => {
    const data = randomBytes(200_000);
    const o = await origin({ '/h': data, '/other': Buffer.from('x') });
    o.fault('/h', { kind: 'hold', bytes: 70_000 }, 1);
    const res = await request(`${o.url}/h`);
    expect(res.headers['content-length']).toBe('200000');
    expect(await o.held('/h')).toEqual(['/h']);
    expect(o.holding()).toEqual(['/h']);
    // Exactly the held bytes arrive, and no more until the release.
    const chunks: Buffer[] = [];
    const it = res.body[Symbol.asyncIterator]();
    let got = 0;
    while (got < 70_000) {
      const next = await it.next();
      if (next.done) break;
      chunks.push(next.value as Buffer);
      got += (next.value as Buffer).length;
    }
    expect(got).toBe(70_000);
    expect(o.release('/other')).toBe(0);
    expect(o.release('/h')).toBe(1);
    for (let next = await it.next(); !next.done; next = await it.next()) chunks.push(next.value as Buffer);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
    expect(o.holding()).toEqual([]);
    // `times` used up: the next GET is served whole at once.
    expect((await get(`${o.url}/h`)).body.equals(data)).toBe(true);
    expect(o.requests('/h')).toBe(2);
  });

  it('hold: counts held requests per path, and releases by itself after maxMs', { timeout: 30_000 }, async () => {
    const data = randomBytes(10_000);
    const o = await origin({ '/a': data, '/b': data });
    o.fault('/a', { kind: 'hold', bytes: 0 });
    o.fault('/b', { kind: 'hold', bytes: 5000, maxMs: 50 });
    const waitA = o.held('/a', 2);
    const b = get(`${o.url}/b`);
    const a1 = get(`${o.url}/a`);
    expect(await o.held('/b')).toEqual(['/b']);
    expect((await b).body.equals(data)).toBe(true);
    const a2 = get(`${o.url}/a`);
    expect(await waitA).toEqual(['/a', '/a']);
    expect(await o.held(undefined, 3)).toHaveLength(3);
    expect(o.holding().sort()).toEqual(['/a', '/a']);
    expect(o.release()).toBe(2);
    for (const r of await Promise.all([a1, a2])) expect(r.body.equals(data)).toBe(true);
  });

  it('hold: close() ends held requests and fails a wait that cannot be met', { timeout: 30_000 }, async () => {
    const o = await startOrigin({ files: { '/h': randomBytes(64 * 1024) } });
    o.fault('/h', { kind: 'hold', bytes: 1024 });
    const res = await request(`${o.url}/h`);
    await o.held('/h');
    const never = o.held('/h', 2);
    await o.close();
    await expect(never).rejects.toThrow(/origin closed/);
    await expect(res.body.arrayBuffer()).rejects.toBeDefined();
    await expect(o.held('/h')).rejects.toThrow(/closed/);
  });

  it('wrong-bytes: right length, flipped content', { timeout: 10_000 }, async () => {
    const data = randomBytes(10_000);
    const o = await origin({ '/w': data });
    o.fault('/w', { kind: 'wrong-bytes' }, 1);
    const r = await get(`${o.url}/w`);
    expect(r.error).toBeUndefined();
    expect(r.body.length).toBe(data.length);
    expect(r.body.equals(data)).toBe(false);
    expect(r.body[0]).toBe((data[0] ?? 0) ^ 0xff);
  });

  it('wrong-length: Content-Length too big by 1000, then close', { timeout: 10_000 }, async () => {
    const data = randomBytes(10_000);
    const o = await origin({ '/l': data });
    o.fault('/l', { kind: 'wrong-length' }, 1);
    const r = await get(`${o.url}/l`);
    expect(r.headers['content-length']).toBe('11000');
    expect(r.error).toBeDefined();
    expect(r.body.equals(data)).toBe(true);
  });

  it('slow: correct body, throttled', { timeout: 10_000 }, async () => {
    const data = randomBytes(30_000);
    const o = await origin({ '/slow': data });
    o.fault('/slow', { kind: 'slow', bytesPerSecond: 50_000 }, 1);
    const t0 = Date.now();
    const r = await get(`${o.url}/slow`);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(500);
    expect(r.error).toBeUndefined();
    expect(r.body.equals(data)).toBe(true);
  });

  it('stops by itself when its lifetime ends', { timeout: 10_000 }, async () => {
    const o = await origin({ '/x': Buffer.from('x') }, 200);
    await o.closed;
    await expect(request(`${o.url}/x`)).rejects.toBeDefined();
  });
});

/** Spawn the CLI and wait for its single JSON announcement line. */
async function spawnCli(args: string[]): Promise<{ child: ChildProcess; url: string; pid: number; lines: string[] }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const lines: string[] = [];
  const rl = createInterface({ input: child.stdout! });
  const first = await new Promise<string>((ok, fail) => {
    rl.on('line', (l) => {
      lines.push(l);
      if (lines.length === 1) ok(l);
    });
    child.once('exit', (code) => fail(new Error(`origin-cli exited early (${code})`)));
  });
  const { url, pid } = JSON.parse(first) as { url: string; pid: number };
  return { child, url, pid, lines };
}

const exited = (c: ChildProcess) =>
  new Promise<number | null>((ok) => {
    if (c.exitCode !== null) ok(c.exitCode);
    else c.once('exit', (code) => ok(code));
  });

describe('origin: CLI mode', () => {
  it('prints its url, serves --dir, reports /__stats, exits on SIGTERM', { timeout: 30_000 }, async () => {
    const data = randomBytes(70_000);
    await writeFile(join(dir, 'c.bin'), data);
    const { child, url, pid, lines } = await spawnCli(['--dir', dir]);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(pid).toBe(child.pid);

    expect((await get(`${url}/c.bin`)).body.equals(data)).toBe(true);
    expect((await get(`${url}/missing`)).status).toBe(404);
    const stats = (await (await request(`${url}/__stats`)).body.json()) as {
      total: number;
      perPath: Record<string, number>;
    };
    expect(stats).toEqual({ total: 2, perPath: { '/c.bin': 1, '/missing': 1 } });

    child.kill('SIGTERM');
    expect(await exited(child)).toBe(0);
    expect(lines).toHaveLength(1);
  });

  it('shapes with --latency-ms and --rate-bytes, and keeps /__stats prompt and exact', { timeout: 30_000 }, async () => {
    const data = randomBytes(400_000);
    await writeFile(join(dir, 's.bin'), data);
    const { child, url } = await spawnCli(['--dir', dir, '--latency-ms', '100', '--rate-bytes', '1000000']);
    let got: Awaited<ReturnType<typeof get>> | undefined;
    // 100 ms of latency plus 400 kB at 1 MB/s, less the 20 kB burst.
    expect(await timed(async () => (got = await get(`${url}/s.bin`)))).toBeGreaterThanOrEqual(100 + 380 - 1);
    expect(got?.body.equals(data)).toBe(true);
    let stats: unknown;
    // /__stats is the benchmark's own channel: no latency there.
    expect(await timed(async () => (stats = await (await request(`${url}/__stats`)).body.json()))).toBeLessThan(100);
    expect(stats).toEqual({ total: 1, perPath: { '/s.bin': 1 } });
    child.kill('SIGTERM');
    expect(await exited(child)).toBe(0);
  });

  it('refuses a --rate-bytes of 0', { timeout: 30_000 }, async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, '--dir', dir, '--rate-bytes', '0'], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    expect(await exited(child)).toBe(1);
  });

  it('exits by itself when --lifetime ends', { timeout: 30_000 }, async () => {
    const { child } = await spawnCli(['--dir', dir, '--lifetime', '1']);
    expect(await exited(child)).toBe(0);
  });
});
