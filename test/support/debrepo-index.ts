// A hostile index in a repository written by writeRepo, signed with the
// repository's own key (the attacker holds the key, or the repository is
// marked trusted): any Packages text, or an xz bomb that unpacks to far more
// than it weighs, with the Release stating whatever sizes the test wants.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runBinary } from '../../src/exec.js';
import { type SigningKey, signRelease } from './debrepo-key.js';

/** What the Release says about the uncompressed Packages: the truth, a lie, or nothing. */
export type PlainEntry = { size: number; sha256: string } | 'omit';

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** xz of `data`, one stream. */
export async function xz(data: Buffer): Promise<Buffer> {
  return (await runBinary({ command: 'xz', args: ['-c', '-T1', '-6'] }, { input: data, package: 'xz-utils' })).stdout;
}

/**
 * An xz file that unpacks to `copies` × `block`: one compressed stream of
 * `block`, repeated (xz -d reads concatenated streams), so it costs one
 * compression however large it unpacks. Returns it with the true size and digest.
 */
export async function xzBomb(block: Buffer, copies: number): Promise<{ xz: Buffer; plain: { size: number; sha256: string } }> {
  const one = await xz(block);
  const hash = createHash('sha256');
  for (let i = 0; i < copies; i++) hash.update(block);
  return { xz: Buffer.concat(new Array<Buffer>(copies).fill(one)), plain: { size: block.length * copies, sha256: hash.digest('hex') } };
}

/**
 * Make `dists/<codename>/<component>/binary-<arch>/Packages.xz` of a written
 * repository exactly `data`, drop the other compressions, list it in the
 * Release with `plain` for the uncompressed Packages, and sign again with `key`.
 */
export async function replaceIndex(
  repoRoot: string,
  codename: string,
  key: SigningKey,
  data: Buffer,
  plain: PlainEntry,
  where = 'main/binary-amd64',
): Promise<void> {
  const dir = path.join(repoRoot, 'dists', codename);
  const indexDir = path.join(dir, where);
  for (const name of ['Packages', 'Packages.gz', 'Packages.xz']) await rm(path.join(indexDir, name), { force: true });
  await writeFile(path.join(indexDir, 'Packages.xz'), data);
  await mkdir(path.join(indexDir, 'by-hash', 'SHA256'), { recursive: true });
  await writeFile(path.join(indexDir, 'by-hash', 'SHA256', sha256(data)), data);
  const release = path.join(dir, 'Release');
  const text = await readFile(release, 'utf8');
  const [head, list = ''] = text.split(/^SHA256:\n/m);
  const kept = list.split('\n').filter((l) => l.trim() !== '' && !l.trim().split(/\s+/)[2]?.startsWith(`${where}/Packages`));
  kept.push(` ${sha256(data)} ${data.length} ${where}/Packages.xz`);
  if (plain !== 'omit') kept.push(` ${plain.sha256} ${plain.size} ${where}/Packages`);
  await writeFile(release, `${head}SHA256:\n${kept.join('\n')}\n`);
  await signRelease(dir, 'both', key, codename);
}

/** The true Release entry of a Packages text. */
export function plainOf(text: string): { size: number; sha256: string } {
  return { size: Buffer.byteLength(text), sha256: sha256(text) };
}
