// Downloads of files whose digest is not known yet (InRelease, Release,
// Release.gpg): bounded in size and time like every download, 404/410 meaning "none".
import pRetry from 'p-retry';
import { discard, FetchError, type FetchSettings, maxBytesOf, openUrl, streamToFile, toFetchError } from '../../net/fetch.js';

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
    throw toFetchError(err);
  });
}

async function attempt(url: string, dest: string, s: FetchSettings): Promise<{ sha256: string; size: number } | 'missing'> {
  let res: Awaited<ReturnType<typeof openUrl>>;
  try {
    res = await openUrl(url, s);
  } catch (err) {
    throw toFetchError(err);
  }
  if (res.statusCode !== 200) {
    await discard(res);
    if (res.statusCode === 404 || res.statusCode === 410) return 'missing';
    const code = res.statusCode;
    throw new FetchError(`HTTP ${code}`, code >= 500 || code === 429);
  }
  const max = Math.min(MAX_BYTES, maxBytesOf(s));
  const { bytes: size, sha256 } = await streamToFile(
    res.body,
    dest,
    { bytes: max, problem: `larger than ${max} bytes; not a Release file` },
    undefined,
    s,
  ).catch((err: unknown) => {
    throw toFetchError(err);
  });
  const declared = res.headers['content-length'];
  if (declared !== undefined && Number(declared) !== size) throw new FetchError(`truncated: got ${size} of ${declared} bytes`, true);
  return { sha256, size };
}
