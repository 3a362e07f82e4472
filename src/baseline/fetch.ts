// An overlay's baseline named by an https URL: fetched once, when the lock is
// made, bounded in size and time like every download, hashed on the way and
// kept in the provider's package cache under a name made of its SHA256 (the
// lock pins that SHA256; later `cache` runs fetch and verify it like any
// cached file, from the shared tier or the origin).
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../errors.js';
import { baselineCacheName } from '../layout/paths.js';
import { discard, type FetchSettings, openUrl, streamToFile, toFetchError } from '../net/fetch.js';
import { maxBytesOf } from '../net/fetch.js';
import { escapeInline, redactUrl } from '../text/untrusted.js';

export interface FetchedBaseline {
  file: string;
  sha256: string;
  size: number;
}

/** Fetch `url` into `dir` (the package cache folder) and name it by its SHA256; --offline is an error naming the URL. */
export async function fetchBaseline(url: string, format: string, dir: string, o: { fetch: FetchSettings; offline: boolean }): Promise<FetchedBaseline> {
  const shown = escapeInline(redactUrl(url));
  if (!/^https:\/\//i.test(url)) throw new UserError(`the baseline URL ${shown} is not https`);
  if (o.offline)
    throw new UserError(`--offline: the baseline ${shown} is not pinned yet, and fetching it needs the network`, 'Run lock without --offline once.');
  await mkdir(dir, { recursive: true });
  const part = path.join(dir, `.baseline-${randomBytes(6).toString('hex')}.part`);
  try {
    let res: Awaited<ReturnType<typeof openUrl>>;
    try {
      res = await openUrl(url, o.fetch);
    } catch (err) {
      throw new UserError(`cannot fetch the baseline ${shown}: ${escapeInline(toFetchError(err).message)}`);
    }
    if (res.statusCode !== 200) {
      await discard(res);
      throw new UserError(`cannot fetch the baseline ${shown}: HTTP ${res.statusCode}`);
    }
    const max = maxBytesOf(o.fetch);
    const got = await streamToFile(
      res.body,
      part,
      { bytes: max, problem: `is larger than the largest download allowed (${max} bytes; max_download_mib raises it)` },
      undefined,
      o.fetch,
    ).catch((err: unknown) => {
      throw new UserError(`cannot fetch the baseline ${shown}: ${escapeInline(toFetchError(err).message)}`);
    });
    const file = path.join(dir, baselineCacheName(got.sha256, format));
    await rename(part, file);
    return { file, sha256: got.sha256, size: got.bytes };
  } finally {
    await rm(part, { force: true });
  }
}
