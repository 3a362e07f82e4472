// A real HTTP origin server on 127.0.0.1 for integration tests and benchmarks.
// It serves files from memory and/or a directory, counts GET requests per path,
// and can inject faults (bad statuses, resets, truncation, stalls, corrupt or
// mislabelled bodies, throttling, bodies held back until the test releases
// them). It can be shaped like a distant mirror: a latency before every
// response and a bandwidth limit per connection. It always stops by itself
// after lifetimeMs.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';

// One injected misbehaviour for a path; each kind is described at its line.
export type Fault =
  | { kind: 'status'; status: number; retryAfter?: string } // reply with this status (+ Retry-After if given)
  | { kind: 'reset' } // headers + half the body, then TCP reset
  | { kind: 'truncate' } // full Content-Length, half the body, then a clean FIN
  | { kind: 'stall'; ms: number } // headers + first ~1 KiB, silence for ms, then destroy
  | { kind: 'wrong-bytes' } // right length, every byte XOR 0xff
  | { kind: 'wrong-length' } // Content-Length = real size + 1000, real body, then close
  | { kind: 'slow'; bytesPerSecond: number } // correct body, throttled
  | { kind: 'hold'; bytes: number; maxMs?: number }; // headers + first `bytes`, then the rest on release() (or after maxMs, default 60 s)

// Options for startOrigin; files keys are URL paths starting with '/'.
export interface OriginOptions {
  files?: Record<string, Buffer>;
  dir?: string;
  lifetimeMs?: number;
  /** Port to listen on (default 0 = any free port). */
  port?: number;
  /** Serve GET /__stats as JSON {total, perPath} (not counted, not shaped). Used by the CLI. */
  stats?: boolean;
  /** Wait this long before the response headers of every request (a round trip to a distant server). */
  latencyMs?: number;
  /** Send at most this many body bytes per second on each connection (a per-connection bandwidth limit). */
  rateBytesPerSecond?: number;
}

// Handle to a running origin server.
export interface Origin {
  url: string;
  port: number;
  requests(path: string): number;
  /** When each GET of `path` arrived (performance.now() of this process, ms), oldest first. */
  requestTimes(path: string): number[];
  totalRequests(): number;
  setFile(path: string, data: Buffer): void;
  fault(path: string, fault: Fault, times?: number): void;
  clearFaults(): void;
  resetCounts(): void;
  /**
   * Resolves with the paths of the first `count` requests (for `path`, or any)
   * that a 'hold' fault has paused since the origin started: their headers and
   * first bytes have been handed to the socket. Rejects if the origin closes first.
   */
  held(path?: string, count?: number): Promise<string[]>;
  /** Paths of the requests paused by a 'hold' fault right now. */
  holding(): string[];
  /** Send the rest of every paused body (for `path`, or all); returns how many were released. */
  release(path?: string): number;
  close(): Promise<void>;
  /** Resolves once the server has closed (by close() or when its lifetime ends). */
  closed: Promise<void>;
}

const DEFAULT_LIFETIME_MS = 10 * 60 * 1000;
const DEFAULT_HOLD_MS = 60 * 1000;

/** A body that can be read whole or in part (end exclusive). */
interface Body {
  size: number;
  open(start: number, end: number): Readable;
}

function bufferBody(buf: Buffer): Body {
  return { size: buf.length, open: (s, e) => Readable.from([buf.subarray(s, e)]) };
}

function fileBody(path: string, size: number): Body {
  return {
    size,
    open: (s, e) => (e > s ? createReadStream(path, { start: s, end: e - 1 }) : Readable.from([])),
  };
}

/** Write one chunk and wait until it is handed to the socket (or the request dies). */
function write(res: ServerResponse, chunk: Buffer, signal: AbortSignal): Promise<void> {
  return new Promise((ok, fail) => {
    if (signal.aborted) return fail(new Error('aborted'));
    const onAbort = () => fail(new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    res.write(chunk, (err) => {
      signal.removeEventListener('abort', onAbort);
      if (err) fail(err);
      else ok();
    });
  });
}

/**
 * A token bucket: take(n) waits until n bytes may go out at `bytesPerSecond`,
 * allowing a burst of `burst` bytes after a pause (a link's buffer, no more).
 */
export interface Pacer {
  /** The largest piece take() should be asked for at once. */
  readonly slice: number;
  take(n: number, signal: AbortSignal): Promise<void>;
}

/** A pacer for `bytesPerSecond`, with a burst of `burstSeconds` of it (at least one byte). */
export function makePacer(bytesPerSecond: number, burstSeconds: number): Pacer {
  const burst = Math.max(1, Math.floor(bytesPerSecond * burstSeconds));
  let tokens = burst;
  let last = performance.now();
  return {
    slice: burst,
    async take(n, signal) {
      const now = performance.now();
      tokens = Math.min(burst, tokens + ((now - last) * bytesPerSecond) / 1000);
      last = now;
      tokens -= n;
      // In debt: wait until the bucket is back at zero; the bytes go out before the wait ends, as on a wire.
      if (tokens < 0) await sleep((-tokens / bytesPerSecond) * 1000, undefined, { signal, ref: false });
    },
  };
}

/** Copy body[start,end) to res chunk by chunk, optionally corrupting or throttling it (each pacer applies). */
async function copy(res: ServerResponse, src: Readable, signal: AbortSignal, opts: { xor?: boolean; pacers?: Pacer[] } = {}): Promise<void> {
  const pacers = opts.pacers ?? [];
  const slice = Math.min(Number.POSITIVE_INFINITY, ...pacers.map((p) => p.slice));
  try {
    for await (const raw of src) {
      let chunk = raw as Buffer;
      if (opts.xor) {
        const flipped = Buffer.allocUnsafe(chunk.length);
        for (let i = 0; i < chunk.length; i++) flipped[i] = (chunk[i] ?? 0) ^ 0xff;
        chunk = flipped;
      }
      for (let i = 0; i < chunk.length; i += slice) {
        const piece = chunk.subarray(i, i + slice);
        for (const p of pacers) await p.take(piece.length, signal);
        await write(res, piece, signal);
      }
    }
  } finally {
    src.destroy();
  }
}

/** Split a request target into its raw path; null when it has a '..' segment. */
function rawPath(url: string): string | null {
  const path = url.split(/[?#]/, 1)[0] ?? '/';
  for (const seg of path.split('/')) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(seg);
    } catch {
      return null;
    }
    // Also catch encoded separators such as '%2F..%2F' or '..%5C'.
    if (decoded.includes('\0') || decoded.split(/[\\/]/).includes('..')) return null;
  }
  return path;
}

// Start an origin on 127.0.0.1 (free port by default); resolves once listening.
export async function startOrigin(opts: OriginOptions = {}): Promise<Origin> {
  const files = new Map<string, Buffer>(Object.entries(opts.files ?? {}));
  const root = opts.dir ? resolve(opts.dir) : undefined;
  const counts = new Map<string, number>();
  const arrivals = new Map<string, number[]>();
  const faults = new Map<string, { fault: Fault; left: number }[]>();
  const sockets = new Set<Socket>();
  // One bucket per connection: requests that share a keep-alive connection share its bandwidth.
  const linkPacers = new WeakMap<Socket, Pacer>();
  const rate = opts.rateBytesPerSecond;
  if (rate !== undefined && !(rate > 0)) throw new Error(`origin: rateBytesPerSecond must be positive, not ${rate}`);
  /** The pacers a body sent on `socket` goes through: its connection's, when the origin is shaped. */
  const shaping = (socket: Socket | null): Pacer[] => {
    if (!rate || !socket) return [];
    let p = linkPacers.get(socket);
    if (!p) {
      // A burst of 20 ms of the rate: about what a link's buffers hold.
      p = makePacer(rate, 0.02);
      linkPacers.set(socket, p);
    }
    return [p];
  };
  let total = 0;
  // Requests paused by a 'hold' fault: every one ever paused, those paused now, and who waits to hear.
  const heldLog: string[] = [];
  const paused = new Set<{ path: string; release: () => void }>();
  const heldWaiters = new Set<{ path?: string; count: number; ok: (paths: string[]) => void; fail: (err: Error) => void }>();
  let isClosed = false;

  /** Resolve the waiters whose count of held requests is reached. */
  function notifyHeld(): void {
    for (const w of heldWaiters) {
      const got = heldLog.filter((p) => w.path === undefined || p === w.path);
      if (got.length < w.count) continue;
      heldWaiters.delete(w);
      w.ok(got.slice(0, w.count));
    }
  }

  /** Pause a request until release(), its maximum hold, or the client going away. */
  async function pause(path: string, maxMs: number, signal: AbortSignal): Promise<void> {
    let release: () => void = () => undefined;
    const released = new Promise<void>((ok) => {
      release = ok;
    });
    const entry = { path, release };
    paused.add(entry);
    heldLog.push(path);
    notifyHeld();
    const ac = new AbortController();
    const onAbort = () => ac.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      // The timer rejects when the request dies (or on release, which is not an error).
      await Promise.race([released, sleep(maxMs, undefined, { signal: ac.signal, ref: false })]);
      if (signal.aborted) throw new Error('aborted');
    } finally {
      signal.removeEventListener('abort', onAbort);
      ac.abort();
      paused.delete(entry);
    }
  }

  /** Look a URL path up in memory first, then under dir. */
  async function lookup(path: string): Promise<Body | undefined> {
    const mem = files.get(path);
    if (mem) return bufferBody(mem);
    if (!root) return undefined;
    let decoded: string;
    try {
      decoded = decodeURIComponent(path);
    } catch {
      return undefined;
    }
    const full = resolve(root, `.${decoded}`);
    if (full !== root && !full.startsWith(root + sep)) return undefined;
    const st = await stat(full).catch(() => undefined);
    return st?.isFile() ? fileBody(full, st.size) : undefined;
  }

  /** Take the next pending fault for a path, consuming one use of it. */
  function takeFault(path: string): Fault | undefined {
    const queue = faults.get(path);
    const head = queue?.[0];
    if (!queue || !head) return undefined;
    if (--head.left <= 0) queue.shift();
    if (queue.length === 0) faults.delete(path);
    return head.fault;
  }

  async function handle(req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
    const method = req.method ?? 'GET';
    const path = rawPath(req.url ?? '/');
    if (opts.stats && path === '/__stats' && method === 'GET') {
      const body = JSON.stringify({ total, perPath: Object.fromEntries(counts) });
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    if (method !== 'GET' && method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Length': 0 }).end();
      return;
    }
    // Only GETs are counted and faulted; HEAD always answers truthfully.
    const isGet = method === 'GET';
    if (isGet) {
      const key = path ?? (req.url ?? '/').split(/[?#]/, 1)[0] ?? '/';
      counts.set(key, (counts.get(key) ?? 0) + 1);
      const times = arrivals.get(key) ?? [];
      times.push(performance.now());
      arrivals.set(key, times);
      total++;
    }
    // A distant server: every answer (errors too) comes a round trip later.
    if (opts.latencyMs) await sleep(opts.latencyMs, undefined, { signal, ref: false });
    if (path === null) {
      res.writeHead(400, { 'Content-Type': 'text/plain', 'Content-Length': 12 }).end('bad request\n');
      return;
    }
    const fault = isGet ? takeFault(path) : undefined;
    if (fault?.kind === 'status') {
      const text = `injected ${fault.status}\n`;
      const headers: Record<string, string | number> = { 'Content-Type': 'text/plain', 'Content-Length': text.length };
      if (fault.retryAfter !== undefined) headers['Retry-After'] = fault.retryAfter;
      res.writeHead(fault.status, headers).end(text);
      return;
    }
    const body = await lookup(path);
    if (!body) {
      res.writeHead(404, { 'Content-Type': 'text/plain', 'Content-Length': 10 }).end('not found\n');
      return;
    }
    const size = body.size;
    const extra = fault?.kind === 'wrong-length' ? 1000 : 0;
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': size + extra });
    if (!isGet) {
      res.end();
      return;
    }
    const socket = res.socket;
    const half = Math.floor(size / 2);
    const pacers = shaping(socket);
    switch (fault?.kind) {
      case undefined:
        if (pacers.length === 0) {
          await pipeline(body.open(0, size), res);
          return;
        }
        await copy(res, body.open(0, size), signal, { pacers });
        res.end();
        return;
      case 'reset':
        await copy(res, body.open(0, half), signal, { pacers });
        await new Promise((r) => setImmediate(r));
        socket?.resetAndDestroy();
        return;
      case 'truncate':
        await copy(res, body.open(0, half), signal, { pacers });
        socket?.end();
        return;
      case 'stall':
        await copy(res, body.open(0, Math.min(1024, half)), signal, { pacers });
        await sleep(fault.ms, undefined, { signal, ref: false });
        socket?.destroy();
        return;
      case 'wrong-bytes':
        await copy(res, body.open(0, size), signal, { xor: true, pacers });
        res.end();
        return;
      case 'wrong-length':
        await copy(res, body.open(0, size), signal, { pacers });
        socket?.end();
        return;
      case 'slow':
        // Throttled output goes out in slices of 1/10 s of the rate, on top of any shaping.
        await copy(res, body.open(0, size), signal, { pacers: [...pacers, makePacer(fault.bytesPerSecond, 0.1)] });
        res.end();
        return;
      case 'hold': {
        const at = Math.max(0, Math.min(fault.bytes, size));
        await copy(res, body.open(0, at), signal, { pacers });
        await pause(path, fault.maxMs ?? DEFAULT_HOLD_MS, signal);
        await copy(res, body.open(at, size), signal, { pacers });
        res.end();
        return;
      }
    }
  }

  const server = createServer((req, res) => {
    const ac = new AbortController();
    res.on('close', () => ac.abort());
    handle(req, res, ac.signal).catch(() => {
      // Client went away or a stream failed: just drop the connection.
      if (!res.headersSent) res.writeHead(500, { 'Content-Length': 0 }).end();
      else res.destroy();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  // Node's default keep-alive applies; a short timeout keeps idle sockets cheap.
  server.keepAliveTimeout = 5000;

  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', fail);
      ok();
    });
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('origin: unexpected server address');
  const port = address.port;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((ok) => {
      clearTimeout(lifetime);
      isClosed = true;
      for (const w of heldWaiters) w.fail(new Error(`origin closed after ${heldLog.length} held request(s), before ${w.count} for ${w.path ?? 'any path'}`));
      heldWaiters.clear();
      server.close(() => ok());
      for (const s of sockets) s.destroy();
    });
    return closing;
  };
  const lifetime = setTimeout(() => void close(), opts.lifetimeMs ?? DEFAULT_LIFETIME_MS);
  lifetime.unref();
  const closed = new Promise<void>((ok) => server.once('close', () => ok()));

  const checkPath = (path: string) => {
    if (!path.startsWith('/')) throw new Error(`origin: path must start with '/': ${path}`);
  };

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    closed,
    close,
    requests: (path) => counts.get(path) ?? 0,
    requestTimes: (path) => [...(arrivals.get(path) ?? [])],
    totalRequests: () => total,
    setFile(path, data) {
      checkPath(path);
      files.set(path, data);
    },
    // Faults for one path queue up: each applies to its next `times` GETs, then the next one.
    fault(path, fault, times = Number.POSITIVE_INFINITY) {
      checkPath(path);
      if (!(times > 0)) return;
      const queue = faults.get(path) ?? [];
      queue.push({ fault, left: times });
      faults.set(path, queue);
    },
    clearFaults: () => faults.clear(),
    held(path, count = 1) {
      if (path !== undefined) checkPath(path);
      return new Promise<string[]>((ok, fail) => {
        if (isClosed) return fail(new Error('origin is closed'));
        heldWaiters.add({ path, count, ok, fail });
        notifyHeld();
      });
    },
    holding: () => [...paused].map((e) => e.path),
    release(path) {
      let n = 0;
      for (const e of [...paused]) {
        if (path !== undefined && e.path !== path) continue;
        paused.delete(e);
        e.release();
        n++;
      }
      return n;
    },
    resetCounts() {
      counts.clear();
      arrivals.clear();
      total = 0;
    },
  };
}
