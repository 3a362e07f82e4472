// Fetches of files whose digest we cannot know in advance (InRelease, Release,
// Release.gpg): streamed to disk and hashed on the way, a 404 reported as an
// answer rather than an error, bounded in size. Everything with a known
// digest goes through cache/fetch.ts `download`, which checks it while streaming.
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import pRetry from 'p-retry';
import { request } from 'undici';
import { FetchError, type FetchSettings, getDispatcher } from '../../cache/fetch.js';

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
  const hash = createHash('sha256');
  const fh = await open(dest, 'w', 0o644);
  let size = 0;
  try {
    for await (const chunk of res.body) {
      const buf = chunk as Buffer;
      size += buf.length;
      if (size > MAX_BYTES) throw new FetchError(`larger than ${MAX_BYTES} bytes; not a Release file`, false);
      hash.update(buf);
      await fh.write(buf);
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  const declared = res.headers['content-length'];
  if (declared !== undefined && Number(declared) !== size) throw new FetchError(`truncated: got ${size} of ${declared} bytes`, true);
  return { sha256: hash.digest('hex'), size };
}
