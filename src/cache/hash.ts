// SHA256 of files and streams.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

export interface Digest {
  sha256: string;
  size: number;
}

/** Hash a whole file by streaming it. */
export async function hashFile(file: string): Promise<Digest> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}
