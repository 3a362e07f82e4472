// SHA256 of files and streams.
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';

export interface Digest {
  sha256: string;
  size: number;
}

/**
 * Hash a whole file by streaming it. With `noFollow` (cache and workspace
 * files), a symbolic link at `file` is not followed: it fails with ELOOP.
 */
export async function hashFile(file: string, opts: { noFollow?: boolean } = {}): Promise<Digest> {
  const hash = createHash('sha256');
  let size = 0;
  const fh = await open(file, constants.O_RDONLY | (opts.noFollow ? constants.O_NOFOLLOW : 0));
  try {
    for await (const chunk of fh.createReadStream({ highWaterMark: 1 << 20, autoClose: false })) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
  } finally {
    await fh.close();
  }
  return { sha256: hash.digest('hex'), size };
}
