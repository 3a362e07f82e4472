// Servers that attack the downloader: an endless body, a body dripped a few
// bytes at a time (each byte resets an idle timer), and redirects to
// link-local addresses where cloud metadata services hand out credentials.
// Real HTTP servers on 127.0.0.1, the real download code and the real CLI.
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeFetch, download, FetchError, type FetchSettings } from '../../src/net/fetch.js';
import { StepError } from '../../src/errors.js';
import { closeRegistryConnections, registryGet } from '../../src/registry/http.js';
import { fetchUnknown } from '../../src/repo/deb/http.js';
import { runBuilder } from '../support/project.js';
import { rejectionOf } from '../support/failure.js';

const SHA = 'e'.repeat(64);
const MIB = 1024 * 1024;
/** The most an endless body sends before the server gives up by itself. */
const ENDLESS_CAP = 48 * MIB;

const REDIRECTS: Record<string, string> = {
  '/to-metadata': 'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
  '/to-decimal': 'http://2852039166/latest/meta-data/',
  '/to-mapped': 'http://[::ffff:169.254.169.254]/latest/meta-data/',
  '/to-mapped-hex': 'http://[::ffff:a9fe:a9fe]/latest/meta-data/',
  '/to-fe80': 'http://[fe80::a9fe:a9fe]/latest/meta-data/',
};

let server: Server;
let base: string;
let dir: string;
const counts = new Map<string, number>();
const requests = (p: string) => counts.get(p) ?? 0;

/** Write `total` bytes in chunks of `chunk`, one every `everyMs`, stopping when the client leaves. */
async function trickle(res: ServerResponse, total: number, chunk: number, everyMs: number): Promise<void> {
  const data = Buffer.alloc(chunk, 0x61);
  for (let sent = 0; sent < total && !res.destroyed; sent += chunk) {
    if (!res.write(data)) {
      await new Promise<void>((ok) => {
        const done = () => {
          res.off('drain', done).off('close', done);
          ok();
        };
        res.on('drain', done).on('close', done);
      });
    }
    if (everyMs > 0) await sleep(everyMs, undefined, { ref: false });
  }
  res.end();
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'g3-hostile-'));
  server = createServer((req, res) => {
    const p = (req.url ?? '/').split('?')[0] ?? '/';
    counts.set(p, (counts.get(p) ?? 0) + 1);
    const to = REDIRECTS[p];
    if (to) {
      res.writeHead(302, { location: to, 'content-length': 0 }).end();
    } else if (p === '/endless' || p === '/dists/x/InRelease') {
      // No Content-Length: chunked, "until the server stops".
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      void trickle(res, ENDLESS_CAP, 64 * 1024, 0).catch(() => res.destroy());
    } else if (p === '/drip') {
      // Honest length, 16 bytes every 250 ms: never idle for long, far too slow.
      res.writeHead(200, { 'content-length': 4096 });
      void trickle(res, 4096, 16, 250).catch(() => res.destroy());
    } else {
      res.writeHead(404, { 'content-length': 0 }).end();
    }
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('no address');
  base = `http://127.0.0.1:${addr.port}`;
});

afterAll(async () => {
  await closeFetch();
  await closeRegistryConnections();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await rm(dir, { recursive: true, force: true });
});

const settings = (over: Partial<FetchSettings> = {}): FetchSettings => ({ timeoutMs: 5000, retries: 0, minBackoffMs: 10, maxRetryAfterMs: 1000, ...over });

const failure = (p: Promise<unknown>) => rejectionOf(p, Error);

describe('a download without a known size', () => {
  it('stops an endless body at the largest download allowed, without retrying', async () => {
    const dest = path.join(dir, 'endless');
    const err = await failure(download(`${base}/endless`, dest, { sha256: SHA }, settings({ maxBytes: 2 * MIB, retries: 2 })));
    expect(err).toBeInstanceOf(FetchError);
    expect(err.message).toMatch(/body longer than the largest download allowed, 2 MiB \(max_download_mib\)/);
    expect((await stat(dest)).size).toBeLessThanOrEqual(2 * MIB);
    expect(requests('/endless')).toBe(1);
  });

  it('refuses a Release-like file of unknown digest that never ends', async () => {
    const err = await failure(fetchUnknown(`${base}/dists/x/InRelease`, path.join(dir, 'inrelease'), settings({ maxBytes: MIB })));
    expect(err.message).toMatch(/larger than 1048576 bytes; not a Release file/);
  });

  it('refuses before any request a size beyond the largest download allowed', async () => {
    const before = requests('/endless');
    const err = await failure(download(`${base}/endless`, path.join(dir, 'big'), { sha256: SHA, size: 3 * MIB }, settings({ maxBytes: 2 * MIB })));
    expect(err.message).toMatch(/is 3145728 bytes, more than the largest download allowed, 2 MiB/);
    expect(requests('/endless')).toBe(before);
  });
});

describe('a body that drips in', () => {
  it('fails with the throughput error (and is retried) although bytes keep coming', async () => {
    const err = await failure(
      download(`${base}/drip`, path.join(dir, 'drip'), { sha256: SHA, size: 4096 }, settings({ timeoutMs: 1000, minBytesPerSecond: 512, retries: 1 })),
    );
    expect(err.message).toMatch(/too slow: \d+ bytes in 1 s, less than the minimum of 512 bytes\/s \(http_min_speed\)/);
    expect(requests('/drip')).toBe(2);
  });

  it('fails the same way for a file of unknown digest', async () => {
    const err = await failure(fetchUnknown(`${base}/drip`, path.join(dir, 'drip2'), settings({ timeoutMs: 1000, minBytesPerSecond: 512 })));
    expect(err.message).toMatch(/too slow/);
  });
});

describe('headers that drip in', () => {
  it('time out after http_timeout in all, although a byte arrives every 100 ms', async () => {
    // A raw socket: a status line, then one header byte every 100 ms for at most 10 s.
    const tcp = createTcpServer((socket) => {
      socket.once('data', () => {
        socket.write('HTTP/1.1 200 OK\r\nX-Drip: ');
        let left = 100;
        const timer = setInterval(() => {
          if (left-- > 0 && !socket.destroyed) socket.write('x');
          else {
            clearInterval(timer);
            socket.destroy();
          }
        }, 100);
        socket.on('close', () => clearInterval(timer));
      });
    });
    await new Promise<void>((ok) => tcp.listen(0, '127.0.0.1', ok));
    try {
      const port = (tcp.address() as AddressInfo).port;
      const err = await failure(download(`http://127.0.0.1:${port}/`, path.join(dir, 'headers'), { sha256: SHA }, settings({ timeoutMs: 1000 })));
      expect(err.message).toMatch(/timed out \(UND_ERR_HEADERS_TIMEOUT\)/);
    } finally {
      await new Promise((r) => tcp.close(r));
    }
  });
});

describe('link-local addresses', () => {
  it.each(Object.keys(REDIRECTS))('refuses the redirect of %s, naming it, without retrying', async (p) => {
    const err = await failure(download(`${base}${p}`, path.join(dir, 'meta'), { sha256: SHA }, settings({ retries: 2 })));
    expect(err.message).toMatch(/^redirected from http:\/\/127\.0\.0\.1:\d+\/\S+ to http:\/\/\S+: refusing to connect to \S+: a link-local address/);
    expect(requests(p)).toBe(1);
  });

  it('refuses a redirect while fetching repository metadata', async () => {
    const err = await failure(fetchUnknown(`${base}/to-metadata`, path.join(dir, 'rel'), settings({ retries: 2 })));
    expect(err.message).toMatch(/refusing to connect to 169\.254\.169\.254: a link-local address/);
  });

  it('refuses a configured URL that names one directly', async () => {
    const err = await failure(download('http://169.254.169.254/latest/meta-data/', path.join(dir, 'direct'), { sha256: SHA }, settings()));
    expect(err.message).toMatch(/^refusing to connect to 169\.254\.169\.254: a link-local address/);
  });

  it('refuses a redirect from a registry', async () => {
    const registry = base.replace('http://', '');
    // registryGet asks for /v2/<repository>/<path>; the server redirects that path.
    REDIRECTS['/v2/img/manifests/latest'] = 'http://[::ffff:169.254.169.254]/v2/';
    const err = await failure(registryGet({ registry, repository: 'img', timeoutMs: 5000 }, 'manifests/latest', ['*/*'], MIB));
    expect(err).toBeInstanceOf(StepError);
    expect(err.message).toMatch(/redirected from .* refusing to connect to \[::ffff:a9fe:a9fe\]: a link-local address/);
  });
});

describe('the CLI', () => {
  it('fails an artifact without a size whose body never ends, naming max_download_mib (exit 1)', async () => {
    const catalogue = path.join(dir, 'targets.yml');
    await writeFile(
      catalogue,
      `targets:\n  t:\n    artifacts:\n      - section: s\n        file: endless.bin\n        url: ${base}/endless\n        sha256: ${SHA}\n`,
    );
    const r = await runBuilder(['t', 'cache'], {
      G3_TARGETS: catalogue,
      G3_LOCAL_CACHE: path.join(dir, 'cli-cache'),
      G3_MAX_DOWNLOAD_MIB: '1',
      G3_RETRIES: '0',
      G3_CACHE_DIR: path.join(dir, 'cache'),
      G3_WORK_DIR: path.join(dir, 'work'),
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/s\/endless\.bin: .*body longer than the largest download allowed, 1 MiB \(max_download_mib\)/);
  });

  it('fails a dripping artifact with the throughput error from G3_HTTP_MIN_SPEED and G3_HTTP_TIMEOUT', async () => {
    const catalogue = path.join(dir, 'drip.yml');
    await writeFile(
      catalogue,
      `targets:\n  t:\n    artifacts:\n      - section: s\n        file: drip.bin\n        url: ${base}/drip\n        sha256: ${SHA}\n        size: 4096\n`,
    );
    const r = await runBuilder(['t', 'cache'], {
      G3_TARGETS: catalogue,
      G3_LOCAL_CACHE: path.join(dir, 'cli-cache2'),
      G3_HTTP_MIN_SPEED: '512',
      G3_HTTP_TIMEOUT: '1',
      G3_RETRIES: '0',
      G3_CACHE_DIR: path.join(dir, 'cache'),
      G3_WORK_DIR: path.join(dir, 'work'),
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/s\/drip\.bin: .*too slow: \d+ bytes in 1 s, less than the minimum of 512 bytes\/s/);
  });
});
