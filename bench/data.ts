// The benchmark's data set: N files sized like real .deb packages (log-normal,
// a few KiB to ~10 MiB), filled with incompressible bytes, all deterministic
// from one seed. Also writes the catalogue and the lists the baselines read.
import { createCipheriv, createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';

export const KiB = 1024;
export const MiB = 1024 * KiB;

/** The section every artifact lives in (a directory in each tier, and in the URL). */
export const SECTION = 'pool';

export interface Item {
  file: string;
  size: number;
  sha256: string;
}

export interface DataSet {
  seed: number;
  totalBytes: number;
  items: Item[];
}

interface Manifest extends DataSet {
  version: 1;
  files: number;
}

/** A small, seedable PRNG (mulberry32): uniform in [0, 1). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `files` sizes that add up to exactly `totalBytes`: log-normal shapes scaled
 * (by bisection) so the sum, after clamping to [min, max], hits the total.
 */
export function planSizes(files: number, totalBytes: number, seed: number): number[] {
  if (files < 1 || totalBytes < files) throw new Error(`cannot make ${files} files from ${totalBytes} bytes`);
  const rand = prng(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const shape = Array.from({ length: files }, () => Math.exp(1.5 * normal()));
  const mean = totalBytes / files;
  const min = Math.max(1, Math.min(4 * KiB, Math.floor(mean / 2)));
  const max = Math.max(10 * MiB, Math.ceil(mean * 4));
  const sized = (scale: number) => shape.map((z) => Math.min(max, Math.max(min, Math.round(z * scale))));
  const sum = (xs: number[]) => xs.reduce((n, x) => n + x, 0);
  let lo = 1e-3;
  let hi = 1e12;
  for (let i = 0; i < 200; i++) {
    const mid = Math.sqrt(lo * hi);
    if (sum(sized(mid)) < totalBytes) lo = mid;
    else hi = mid;
  }
  const sizes = sized(hi);
  // Rounding leaves a small difference: take it from (or give it to) the largest files.
  let diff = totalBytes - sum(sizes);
  const order = sizes.map((_, i) => i).sort((a, b) => (sizes[b] ?? 0) - (sizes[a] ?? 0));
  for (const i of order) {
    if (diff === 0) break;
    const s = sizes[i] ?? 0;
    const next = Math.min(max, Math.max(min, s + diff));
    diff -= next - s;
    sizes[i] = next;
  }
  if (diff !== 0) throw new Error('internal: could not fit the sizes to the total');
  return sizes;
}

/** A Debian-like file name for item `i`. */
function nameOf(i: number, files: number): string {
  return `pkg-${String(i + 1).padStart(Math.max(3, String(files).length), '0')}_1.0-1_amd64.deb`;
}

/** Write `size` bytes of AES-CTR keystream (random-looking, reproducible) and return their SHA256. */
async function writeRandom(file: string, size: number, key: Buffer, index: number): Promise<string> {
  const iv = Buffer.alloc(16);
  iv.writeUInt32BE(index, 0);
  const cipher = createCipheriv('aes-256-ctr', key, iv);
  const hash = createHash('sha256');
  const zeros = Buffer.alloc(MiB);
  const fh = await open(file, 'w', 0o644);
  try {
    for (let left = size; left > 0; ) {
      const chunk = cipher.update(zeros.subarray(0, Math.min(left, MiB)));
      hash.update(chunk);
      for (let off = 0; off < chunk.length; ) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
      left -= chunk.length;
    }
  } finally {
    await fh.close();
  }
  return hash.digest('hex');
}

/** A data set already on disk with these parameters and intact contents, or undefined. */
async function reuse(dir: string, files: number, totalBytes: number, seed: number): Promise<DataSet | undefined> {
  let m: Manifest;
  try {
    m = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;
  } catch {
    return undefined;
  }
  if (m.version !== 1 || m.files !== files || m.totalBytes !== totalBytes || m.seed !== seed) return undefined;
  for (const it of m.items) {
    const file = path.join(dir, SECTION, it.file);
    const st = await stat(file).catch(() => undefined);
    if (st?.size !== it.size) return undefined;
    const h = createHash('sha256');
    for await (const chunk of createReadStream(file, { highWaterMark: MiB })) h.update(chunk as Buffer);
    if (h.digest('hex') !== it.sha256) return undefined;
  }
  return { seed: m.seed, totalBytes: m.totalBytes, items: m.items };
}

/** Make (or reuse) the data set in `dir`/pool, with dir/manifest.json. */
export async function makeDataSet(dir: string, files: number, totalBytes: number, seed: number, log: (s: string) => void): Promise<DataSet> {
  const kept = await reuse(dir, files, totalBytes, seed);
  if (kept) {
    log(`reusing the data set in ${dir}`);
    return kept;
  }
  await rm(dir, { recursive: true, force: true });
  await mkdir(path.join(dir, SECTION), { recursive: true });
  const key = createHash('sha256').update(`g3-composer-bench/${seed}`).digest();
  const sizes = planSizes(files, totalBytes, seed);
  const items: Item[] = [];
  const started = performance.now();
  for (const [i, size] of sizes.entries()) {
    const file = nameOf(i, files);
    items.push({ file, size, sha256: await writeRandom(path.join(dir, SECTION, file), size, key, i) });
  }
  log(`generated ${files} files (${(totalBytes / MiB).toFixed(0)} MiB) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const manifest: Manifest = { version: 1, files, seed, totalBytes, items };
  await writeFile(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 1));
  return { seed, totalBytes, items };
}

/** Summary statistics of the sizes, for the report. */
export function sizeStats(ds: DataSet): { min: number; median: number; max: number } {
  const s = ds.items.map((i) => i.size).sort((a, b) => a - b);
  return { min: s[0] ?? 0, median: s[Math.floor(s.length / 2)] ?? 0, max: s[s.length - 1] ?? 0 };
}

export interface Lists {
  catalogue: string;
  /** "file url" per line, for the wget loop and xargs. */
  urls: string;
  /** "pool/file" per line, for the stat-only check. */
  files: string;
  /** sha256sum -c input, relative to a tier root. */
  sums: string;
}

/** Write the catalogue (target "bench") and the baselines' lists into `dir`. */
export async function writeLists(dir: string, ds: DataSet, originUrl: string): Promise<Lists> {
  const url = (it: Item) => `${originUrl}/${SECTION}/${it.file}`;
  const lists: Lists = {
    catalogue: path.join(dir, 'targets.yml'),
    urls: path.join(dir, 'urls.txt'),
    files: path.join(dir, 'files.txt'),
    sums: path.join(dir, 'SHA256SUMS'),
  };
  const artifacts = ds.items.map((it) => ({ section: SECTION, file: it.file, url: url(it), sha256: it.sha256, size: it.size }));
  await writeFile(lists.catalogue, stringify({ targets: { bench: { description: 'g3-composer benchmark data', artifacts } } }));
  await writeFile(lists.urls, ds.items.map((it) => `${it.file} ${url(it)}\n`).join(''));
  await writeFile(lists.files, ds.items.map((it) => `${SECTION}/${it.file}\n`).join(''));
  await writeFile(lists.sums, ds.items.map((it) => `${it.sha256}  ${SECTION}/${it.file}\n`).join(''));
  return lists;
}
