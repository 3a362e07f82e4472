// Downloads from the origin with undici: retries with backoff and jitter on
// network errors, timeouts, 5xx and 429 (honouring Retry-After), and checks of
// length and SHA256 while the bytes stream to disk.
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import pRetry, { AbortError } from 'p-retry';
import { type Dispatcher, EnvHttpProxyAgent, interceptors, request } from 'undici';
import { parseRetryAfter } from './retry-after.js';

export interface FetchSettings {
  /** Idle time allowed while waiting for headers or between body chunks. */
  timeoutMs: number;
  /** Retries after the first attempt, per URL. */
  retries: number;
  /** First backoff delay; doubles each retry, with jitter. */
  minBackoffMs: number;
  /** Longest Retry-After we will honour before giving up on that URL. */
  maxRetryAfterMs: number;
}

export const defaultFetchSettings: FetchSettings = { timeoutMs: 30_000, retries: 4, minBackoffMs: 500, maxRetryAfterMs: 120_000 };

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

let dispatcher: Dispatcher | undefined;
/** The shared HTTP connection pool (also used for repository metadata). */
export function getDispatcher(): Dispatcher {
  // Honours HTTP(S)_PROXY and NO_PROXY; follows a few redirects (mirrors use them).
  dispatcher ??= new EnvHttpProxyAgent({ connections: 16 }).compose(interceptors.redirect({ maxRedirections: 5 }));
  return dispatcher;
}

/** Close pooled connections so the process can exit promptly. */
export async function closeFetch(): Promise<void> {
  const d = dispatcher;
  dispatcher = undefined;
  await d?.close().catch(() => undefined);
}

/**
 * Download `url` into `dest` (created or truncated), verifying length and
 * SHA256 on the way; throws FetchError (after retries) when it cannot.
 */
export async function download(url: string, dest: string, expect: FetchExpect, settings: FetchSettings, onBytes?: (n: number) => void): Promise<{ bytes: number; attempts: number }> {
  let attempts = 0;
  const bytes = await pRetry(
    async () => {
      attempts++;
      try {
        return await attempt(url, dest, expect, settings, onBytes);
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

async function attempt(url: string, dest: string, expect: FetchExpect, s: FetchSettings, onBytes?: (n: number) => void): Promise<number> {
  const res = await request(url, { method: 'GET', dispatcher: getDispatcher(), headersTimeout: s.timeoutMs, bodyTimeout: s.timeoutMs });
  if (res.statusCode !== 200) {
    await res.body.dump().catch(() => undefined);
    const code = res.statusCode;
    if (code === 429 || code === 503) {
      const after = parseRetryAfter(res.headers['retry-after'], Date.now());
      if (after !== undefined && after > s.maxRetryAfterMs) throw new FetchError(`HTTP ${code}, Retry-After ${Math.round(after / 1000)} s is longer than we wait`, false);
      throw new FetchError(`HTTP ${code}`, true, after);
    }
    throw new FetchError(`HTTP ${code}`, code >= 500);
  }
  const declared = res.headers['content-length'] === undefined ? undefined : Number(res.headers['content-length']);
  if (declared !== undefined && expect.size !== undefined && declared !== expect.size) {
    // Abort the body; undici reports the abort as an 'error' event nobody else listens to.
    res.body.on('error', () => undefined);
    res.body.destroy();
    throw new FetchError(`server announces ${declared} bytes, expected ${expect.size}`, false);
  }
  const limit = expect.size === undefined ? undefined : { bytes: expect.size, problem: `body longer than the expected ${expect.size} bytes` };
  const { bytes: n, sha256: got } = await streamToFile(res.body, dest, limit, onBytes);
  if (declared !== undefined && n !== declared) throw new FetchError(`truncated: got ${n} of ${declared} bytes`, true);
  if (expect.size !== undefined && n !== expect.size) throw new FetchError(`truncated: got ${n} of ${expect.size} bytes`, true);
  if (got !== expect.sha256) throw new FetchError(`sha256 mismatch: got ${got.slice(0, 16)}…, expected ${expect.sha256.slice(0, 16)}…`, false);
  return n;
}

/**
 * Write a response body to `dest` (created or truncated) and fsync it, hashing
 * on the way; more than `limit.bytes` is a non-retryable FetchError.
 */
export async function streamToFile(body: AsyncIterable<unknown>, dest: string, limit?: { bytes: number; problem: string }, onBytes?: (n: number) => void): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  const fh = await open(dest, 'w', 0o644);
  let n = 0;
  try {
    for await (const chunk of body) {
      const buf = chunk as Buffer;
      n += buf.length;
      if (limit && n > limit.bytes) throw new FetchError(limit.problem, false);
      hash.update(buf);
      await fh.write(buf);
      onBytes?.(buf.length);
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  return { bytes: n, sha256: hash.digest('hex') };
}

function toFetchError(err: unknown): FetchError {
  if (err instanceof FetchError) return err;
  const e = err as { code?: string; message?: string };
  const code = e.code ?? '';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return new FetchError(`timed out (${code})`, true);
  if (code === 'UND_ERR_INVALID_ARG' || code === 'ERR_INVALID_URL') return new FetchError(e.message ?? code, false);
  // Resets, refused connections, DNS hiccups, closed sockets: worth another try.
  return new FetchError(`${e.message ?? 'network error'}${code ? ` (${code})` : ''}`, true);
}
