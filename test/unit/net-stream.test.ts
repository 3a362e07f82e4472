import { createHash, randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { FetchError, streamToFile } from '../../src/net/fetch.js';
import { useTempDirs } from './tmpdir.js';

const tempDir = useTempDirs('g3-stream-');

/** `data` cut into pieces of the given sizes, in turn, as a body stream. */
function pieces(data: Buffer, sizes: number[]): Readable {
  const out: Buffer[] = [];
  for (let at = 0, k = 0; at < data.length; k++) {
    const n = sizes[k % sizes.length] as number;
    out.push(data.subarray(at, at + n));
    at += n;
  }
  return Readable.from(out);
}

describe('streamToFile', () => {
  it.each([
    ['one large piece', [3 * 1024 * 1024]],
    ['pieces of a few KiB, as sockets deliver them', [1460, 16384, 7, 65536]],
    ['many one-byte pieces among empty ones', [1, 0, 1, 1]],
  ])('writes every byte in order and hashes them: %s', async (_case, sizes) => {
    const data = randomBytes(sizes[0] === 1 ? 5000 : 700_001);
    const dest = path.join(await tempDir(), 'out.bin');
    let told = 0;
    const got = await streamToFile(pieces(data, sizes), dest, undefined, (n) => {
      told += n;
    });
    expect(got).toEqual({ bytes: data.length, sha256: createHash('sha256').update(data).digest('hex') });
    expect(told).toBe(data.length);
    expect((await readFile(dest)).equals(data)).toBe(true);
  });

  it('has the bytes received so far on disk while the body stalls', async () => {
    const dest = path.join(await tempDir(), 'out.bin');
    const body = new Readable({ read: () => undefined });
    const head = randomBytes(64 * 1024);
    for (let at = 0; at < head.length; at += 4096) body.push(head.subarray(at, at + 4096));
    const done = streamToFile(body, dest);
    let size = 0;
    for (let i = 0; i < 200 && size < head.length; i++) {
      await new Promise((r) => setTimeout(r, 10));
      size = (await stat(dest).catch(() => undefined))?.size ?? 0;
    }
    expect(size).toBe(head.length);
    body.push(Buffer.from('tail'));
    body.push(null);
    expect((await done).bytes).toBe(head.length + 4);
  });

  it('stops at the limit with a non-retryable error, and leaves the caller to flush with sync: false', async () => {
    const dest = path.join(await tempDir(), 'out.bin');
    const err = await streamToFile(pieces(randomBytes(10_000), [1000]), dest, { bytes: 4500, problem: 'too long' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FetchError);
    expect((err as FetchError).retryable).toBe(false);
    const data = randomBytes(2048);
    expect((await streamToFile(pieces(data, [100]), dest, undefined, undefined, undefined, { sync: false })).bytes).toBe(2048);
    expect((await readFile(dest)).equals(data)).toBe(true);
  });
});
