
import pRetry from 'p-retry';
import { request } from 'undici';
import { FetchError, type FetchSettings, getDispatcher, streamToFile } from '../../cache/fetch.js';

/** Release files are a few hundred KiB; anything near this is not one. */
const MAX_BYTES = 64 * 1024 * 1024;


/** Download `url` into `dest`; 'missing' on 404/410; throws FetchError (after retries) otherwise. */
export async function fetchUnknown(url: string, dest: string, settings: FetchSettings): Promise<{ sha256: string; size: number } | 'missing'> {
  return pRetry(() => attempt(url, dest, settings), {
    retries: settings.retries,
    factor: 2,
    minTimeout: settings.minBackoffMs,
    maxTimeout: 30_000,
    randomize: true,
    shouldRetry: ({ error }) => !(error instanceof FetchError) || error.retryable,
  }).catch((err: unknown) => {
    if (err instanceof FetchError) throw err;
    const e = err as { code?: string; message?: string };
    throw new FetchError(`${e.message ?? 'network error'}${e.code ? ` (${e.code})` : ''}`, false);
  });
}

async function attempt(url: string, dest: string, s: FetchSettings): Promise<{ sha256: string; size: number } | 'missing'> {
  const res = await request(url, { method: 'GET', dispatcher: getDispatcher(), headersTimeout: s.timeoutMs, bodyTimeout: s.timeoutMs });
  if (res.statusCode !== 200) {
    await res.body.dump().catch(() => undefined);
    if (res.statusCode === 404 || res.statusCode === 410) return 'missing';
    const code = res.statusCode;
    throw new FetchError(`HTTP ${code}`, code >= 500 || code === 429);
  }
  const { bytes: size, sha256 } = await streamToFile(res.body, dest, { bytes: MAX_BYTES, problem: `larger than ${MAX_BYTES} bytes; not a Release file` });
  const declared = res.headers['content-length'];
  if (declared !== undefined && Number(declared) !== size) throw new FetchError(`truncated: got ${size} of ${declared} bytes`, true);
  return { sha256, size };
}
