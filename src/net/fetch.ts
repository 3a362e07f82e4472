// Downloads from the origin with undici: retries with backoff and jitter on
// network errors, timeouts, 5xx and 429 (honouring Retry-After), and checks of
// length and SHA256 while the bytes stream to disk. Every download is bounded:
// in size (the expected size, else the largest download allowed), in time
// (headers within the timeout; then at least a minimum throughput over each
// timeout window) and in where it may go (no link-local addresses, see
// src/net/).
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import pRetry, { AbortError } from 'p-retry';
import { type Dispatcher, EnvHttpProxyAgent, request } from 'undici';
import { fsyncFile } from '../fs/atomic.js';
import { openNoFollow } from '../fs/safe.js';
import type { Gate } from '../pool.js';
import { guardedConnector, RefusedAddressError, refusedUrlReason } from './connect.js';
import { escapeInline, redactUrl } from '../text/untrusted.js';
import { parseRetryAfter } from './retry-after.js';

export interface FetchSettings {
  /** Idle time allowed while waiting for headers or between body chunks; also the window of the throughput rule. */
  timeoutMs: number;
  /** Retries after the first attempt, per URL. */
  retries: number;
  /** First backoff delay; doubles each retry, with jitter. */
  minBackoffMs: number;
  /** Longest Retry-After we will honour before giving up on that URL. */
  maxRetryAfterMs: number;
  /** The largest download allowed, whether or not its size is known (default 4 GiB). */
  maxBytes?: number;
  /** Fewer bytes than this per second, over a whole timeout window, is a stall (default 1024; 0: off). */
  minBytesPerSecond?: number;
}

export const DEFAULT_MAX_DOWNLOAD_BYTES = 4096 * 1024 * 1024;
export const DEFAULT_MIN_BYTES_PER_SECOND = 1024;

export const defaultFetchSettings: FetchSettings = {
  timeoutMs: 30_000,
  retries: 4,
  minBackoffMs: 500,
  maxRetryAfterMs: 120_000,
  maxBytes: DEFAULT_MAX_DOWNLOAD_BYTES,
  minBytesPerSecond: DEFAULT_MIN_BYTES_PER_SECOND,
};

export interface FetchExpect {
  sha256: string;
  size?: number;
}

/** A failed attempt; `retryable` decides whether p-retry tries again. */
export class FetchError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

let dispatcher: Dispatcher | undefined;
/** The shared HTTP connection pool (also used for repository metadata). */
export function getDispatcher(): Dispatcher {
  // Honours HTTP(S)_PROXY and NO_PROXY; redirects are followed by openUrl, hop by hop, so each target is checked.
  // Connections per origin: as many as the most workers allowed (64); the callers' worker counts are the real limit.
  dispatcher ??= new EnvHttpProxyAgent({ connections: 64, connect: guardedConnector() });
  return dispatcher;
}

/** Close pooled connections so the process can exit promptly. */
export async function closeFetch(): Promise<void> {
  const d = dispatcher;
  dispatcher = undefined;
  // Errors of closing idle sockets say nothing about any download.
  await d?.close().catch(() => undefined);
}

/** The largest download allowed by `s`. */
export function maxBytesOf(s: FetchSettings): number {
  return s.maxBytes ?? DEFAULT_MAX_DOWNLOAD_BYTES;
}

/** "4096 MiB (max_download_mib)", for messages. */
function maxText(s: FetchSettings): string {
  return `${Math.round(maxBytesOf(s) / 1024 / 1024)} MiB (max_download_mib)`;
}

/**
 * GET `url`, following up to five redirects itself: a redirect to anything but
 * http(s), or to a refused address, is a non-retryable FetchError naming it.
 * The response is any status but a redirect; the caller reads or dumps its body.
 */
export async function openUrl(url: string, s: FetchSettings): Promise<Dispatcher.ResponseData> {
  let target = new URL(url);
  for (let hop = 0; ; hop++) {
    const refused = refusedUrlReason(target);
    const via = hop === 0 ? '' : `redirected from ${redactUrl(url)} to ${escapeInline(redactUrl(target.href))}: `;
    if (refused) throw new FetchError(`${via}refusing to connect to ${target.hostname}: ${refused}`, false);
    const res = await request(target, { method: 'GET', dispatcher: getDispatcher(), headersTimeout: s.timeoutMs, bodyTimeout: s.timeoutMs });
    const location = res.headers.location;
    if (!REDIRECTS.has(res.statusCode) || typeof location !== 'string') return res;
    await discard(res);
    if (hop >= MAX_REDIRECTS) throw new FetchError(`more than ${MAX_REDIRECTS} redirects from ${redactUrl(url)}`, false);
    let next: URL;
    try {
      next = new URL(location, target);
    } catch {
      throw new FetchError(`redirected from ${redactUrl(url)} to an invalid URL ${JSON.stringify(escapeInline(location.slice(0, 200)))}`, false);
    }
    if (next.protocol !== 'http:' && next.protocol !== 'https:')
      throw new FetchError(`redirected from ${redactUrl(url)} to ${escapeInline(redactUrl(next.href))}: only http and https are followed`, false);
    target = next;
  }
}

/** Drop a response body we do not want (a redirect, an error page). */
export async function discard(res: Dispatcher.ResponseData): Promise<void> {
  // A failure here is the server hanging up on a body nobody reads; the status already decided.
  await res.body.dump().catch(() => undefined);
}

/**
 * Download `url` into `dest` (created or truncated), verifying length and
 * SHA256 on the way, and fsync it; throws FetchError (after retries) when it
 * cannot. With `gate`, each attempt holds a place in it from the request to
 * the body's last byte: the fsync and the waits between retries do not.
 */
export async function download(
  url: string,
  dest: string,
  expect: FetchExpect,
  settings: FetchSettings,
  onBytes?: (n: number) => void,
  gate?: Gate,
): Promise<{ bytes: number; attempts: number }> {
  if (expect.size !== undefined && expect.size > maxBytesOf(settings)) {
    throw new FetchError(`is ${expect.size} bytes, more than the largest download allowed, ${maxText(settings)}`, false);
  }
  let attempts = 0;
  const bytes = await pRetry(
    async () => {
      attempts++;
      try {
        return await attempt(url, dest, expect, settings, onBytes, gate);
      } catch (err) {
        const fe = toFetchError(err);
        if (!fe.retryable) throw new AbortError(fe);
        throw fe;
      }
    },
    {
      retries: settings.retries,
      factor: 2,
      minTimeout: settings.minBackoffMs,
      maxTimeout: 30_000,
      randomize: true,
      onFailedAttempt: async ({ error, retriesLeft }) => {
        const wait = (error as FetchError).retryAfterMs;
        if (wait !== undefined && retriesLeft > 0) await sleep(wait);
      },
    },
  ).catch((err: unknown) => {
    throw toFetchError(err instanceof AbortError ? err.originalError : err);
  });
  return { bytes, attempts };
}

async function attempt(url: string, dest: string, expect: FetchExpect, s: FetchSettings, onBytes?: (n: number) => void, gate?: Gate): Promise<number> {
  const receive = () => receiveBody(url, dest, expect, s, onBytes);
  const { bytes: n, sha256: got, declared } = gate ? await gate.run(receive) : await receive();
  if (declared !== undefined && n !== declared) throw new FetchError(`truncated: got ${n} of ${declared} bytes`, true);
  if (expect.size !== undefined && n !== expect.size) throw new FetchError(`truncated: got ${n} of ${expect.size} bytes`, true);
  if (got !== expect.sha256) throw new FetchError(`sha256 mismatch: got ${got.slice(0, 16)}…, expected ${expect.sha256.slice(0, 16)}…`, false);
  // Only verified bytes are worth flushing; outside the gate, so the next download need not wait for the disk.
  await fsyncFile(dest);
  return n;
}

/** The network part of an attempt: the request, its status and the body written (unflushed) to `dest`. */
async function receiveBody(
  url: string,
  dest: string,
  expect: FetchExpect,
  s: FetchSettings,
  onBytes?: (n: number) => void,
): Promise<{ bytes: number; sha256: string; declared?: number }> {
  const res = await openUrl(url, s);
  if (res.statusCode !== 200) {
    await discard(res);
    const code = res.statusCode;
    if (code === 429 || code === 503) {
      const after = parseRetryAfter(res.headers['retry-after'], Date.now());
      if (after !== undefined && after > s.maxRetryAfterMs)
        throw new FetchError(`HTTP ${code}, Retry-After ${Math.round(after / 1000)} s is longer than we wait`, false);
      throw new FetchError(`HTTP ${code}`, true, after);
    }
    throw new FetchError(`HTTP ${code}`, code >= 500);
  }
  const declared = res.headers['content-length'] === undefined ? undefined : Number(res.headers['content-length']);
  const wrongLength = declared !== undefined && expect.size !== undefined && declared !== expect.size;
  const tooLong = declared !== undefined && declared > maxBytesOf(s);
  if (wrongLength || tooLong) {
    // Abort the body; undici reports the abort as an 'error' event nobody else listens to.
    res.body.on('error', () => undefined);
    res.body.destroy();
    throw new FetchError(
      wrongLength
        ? `server announces ${declared} bytes, expected ${expect.size}`
        : `server announces ${declared} bytes, more than the largest download allowed, ${maxText(s)}`,
      false,
    );
  }
  const limit =
    expect.size === undefined
      ? { bytes: maxBytesOf(s), problem: `body longer than the largest download allowed, ${maxText(s)}; stopped there` }
      : { bytes: expect.size, problem: `body longer than the expected ${expect.size} bytes` };
  return { ...(await streamToFile(res.body, dest, limit, onBytes, s, { sync: false })), declared };
}

/**
 * Write a response body to `dest` (created or truncated, never through a
 * link) and fsync it (unless `sync: false`: the caller flushes), hashing on
 * the way; more than `limit.bytes` is a non-retryable FetchError, and with
 * `pace` so is a body slower than its minimum throughput (a retryable one).
 */
export async function streamToFile(
  body: Readable,
  dest: string,
  limit?: { bytes: number; problem: string },
  onBytes?: (n: number) => void,
  pace?: Pick<FetchSettings, 'timeoutMs' | 'minBytesPerSecond'>,
  opts: { sync?: boolean } = {},
): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  const fh = await openNoFollow(dest, 'w').catch((err: unknown) => {
    // Nobody will read the body: give its connection back now, not at the body timeout.
    body.on('error', () => undefined);
    body.destroy();
    throw err;
  });
  const meter = pace ? throughputGuard(body, pace) : undefined;
  let n = 0;
  // Socket reads come in pieces of a few KiB. While more are already queued, they are gathered and written
  // together (fewer system calls when the process falls behind); once none is, what we have is written at once,
  // so a stalled body's bytes so far are on disk.
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = async () => {
    const bufs = pending;
    pending = [];
    pendingBytes = 0;
    await writeAll(fh, bufs);
  };
  try {
    for await (const chunk of body) {
      const buf = chunk as Buffer;
      n += buf.length;
      meter?.add(buf.length);
      if (limit && n > limit.bytes) throw new FetchError(limit.problem, false);
      hash.update(buf);
      pending.push(buf);
      pendingBytes += buf.length;
      // Bounded by count too: a server dripping tiny pieces must not build an endless list of them.
      if (body.readableLength === 0 || pendingBytes >= WRITE_BATCH_BYTES || pending.length >= 256) await flush();
      onBytes?.(buf.length);
    }
    await flush();
    if (opts.sync !== false) await fh.sync();
  } finally {
    meter?.stop();
    if (!body.destroyed) {
      body.on('error', () => undefined);
      body.destroy();
    }
    await fh.close();
  }
  return { bytes: n, sha256: hash.digest('hex') };
}

/** The most bytes gathered from a body before they are written out together. */
const WRITE_BATCH_BYTES = 256 * 1024;

/** Write every byte of `bufs`, in order, however many calls that takes. */
async function writeAll(fh: FileHandle, bufs: Buffer[]): Promise<void> {
  let rest = bufs.filter((b) => b.length > 0);
  while (rest.length > 0) {
    let written = (await fh.writev(rest)).bytesWritten;
    if (written === 0) throw new Error('the disk accepted no bytes (write returned 0)');
    // A short write (rare on files): drop what went out and write the remainder.
    const next: Buffer[] = [];
    for (const b of rest) {
      if (written >= b.length) written -= b.length;
      else {
        next.push(b.subarray(written));
        written = 0;
      }
    }
    rest = next;
  }
}

/**
 * The minimum-throughput rule: a body that delivers fewer than
 * minBytesPerSecond × window bytes in a window of timeoutMs is destroyed with
 * a retryable FetchError. A byte now and then resets undici's idle timer, never this.
 */
function throughputGuard(body: Readable, s: Pick<FetchSettings, 'timeoutMs' | 'minBytesPerSecond'>): { add(n: number): void; stop(): void } {
  const perSecond = s.minBytesPerSecond ?? DEFAULT_MIN_BYTES_PER_SECOND;
  if (perSecond <= 0) return { add: () => undefined, stop: () => undefined };
  const windowS = s.timeoutMs / 1000;
  const least = Math.ceil(perSecond * windowS);
  let got = 0;
  const timer = setInterval(() => {
    if (got < least) {
      clearInterval(timer);
      body.destroy(
        new FetchError(`too slow: ${got} bytes in ${windowS} s, less than the minimum of ${perSecond} bytes/s (http_min_speed) over http_timeout`, true),
      );
    }
    got = 0;
  }, s.timeoutMs);
  timer.unref();
  return {
    add: (n) => {
      got += n;
    },
    stop: () => clearInterval(timer),
  };
}

/** Any failure of a download as a FetchError: refused addresses and bad URLs are final, network trouble is retryable. */
export function toFetchError(err: unknown): FetchError {
  if (err instanceof FetchError) return err;
  if (err instanceof RefusedAddressError) return new FetchError(err.message, false);
  const e = err as { code?: string; message?: string; cause?: unknown };
  if (e?.cause instanceof RefusedAddressError) return new FetchError(e.cause.message, false);
  const code = e.code ?? '';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return new FetchError(`timed out (${code})`, true);
  if (code === 'UND_ERR_INVALID_ARG' || code === 'ERR_INVALID_URL') return new FetchError(e.message ?? code, false);
  // Resets, refused connections, DNS hiccups, closed sockets: worth another try.
  return new FetchError(`${e.message ?? 'network error'}${code ? ` (${code})` : ''}`, true);
}
