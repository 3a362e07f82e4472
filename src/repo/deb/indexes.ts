// Packages indexes: chosen from the signed SHA256 list, fetched by hash when
// the suite offers it, kept in the store by digest, decompressed and parsed.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { download, FetchError } from '../../cache/fetch.js';
import { hashFile } from '../../cache/hash.js';
import { parsePackages } from '../../deb/packages.js';
import type { ReleaseInfo } from '../../deb/release.js';
import type { PackageRecord } from '../../deb/types.js';
import { StepError, UserError } from '../../errors.js';
import { runBinary } from '../../exec.js';
import { kib, type LoadContext } from './context.js';
import type { IndexRef } from './types.js';

const gunzipAsync = promisify(gunzip);

/** Best first: the smallest download we can decompress. */
const NAMES = ['Packages.xz', 'Packages.gz', 'Packages'];

/** The index to load for each requested component and architecture, from the signed Release. */
export function selectIndexes(ctx: Pick<LoadContext, 'spec' | 'where' | 'opts'>, info: ReleaseInfo): IndexRef[] {
  const refs: IndexRef[] = [];
  for (const component of ctx.spec.components) {
    // Security suites list `updates/main` but keep the indexes under `main/`: the signed file list decides.
    const listed = info.components.some((c) => c === component || c.endsWith(`/${component}`)) || [...info.sha256.keys()].some((k) => k.startsWith(`${component}/binary-`));
    if (info.components.length > 0 && !listed) {
      ctx.opts.emit({ type: 'warning', message: `${ctx.where}: component ${component} is not in the Release (it has ${info.components.join(' ')}); skipped` });
      continue;
    }
    for (const arch of ctx.spec.archs) {
      if (info.architectures.length > 0 && !info.architectures.includes(arch)) {
        ctx.opts.emit({ type: 'warning', message: `${ctx.where}: architecture ${arch} is not in the Release (it has ${info.architectures.join(' ')}); skipped` });
        continue;
      }
      const dir = `${component}/binary-${arch}`;
      const name = NAMES.find((n) => info.sha256.has(`${dir}/${n}`));
      const digest = name ? info.sha256.get(`${dir}/${name}`) : undefined;
      if (!name || !digest) throw new UserError(`${ctx.where}: the Release lists no Packages index for ${dir}`, 'Check the component and architecture names against the repository.');
      refs.push({ component, arch, path: `${dir}/${name}`, sha256: digest.sha256, size: digest.size });
    }
  }
  return refs;
}

/** The stored file of an index, downloading it (by hash first when offered) when the store lacks it. */
export async function obtainIndex(ctx: LoadContext, ref: IndexRef, byHash: boolean): Promise<string> {
  const stored = await ctx.store.find(ref);
  if (stored) return stored;
  if (ctx.opts.offline) throw new UserError(`${ctx.where}: no verified copy of ${ref.path} (sha256 ${ref.sha256}) in the metadata store`, 'Run once online to fetch the repository metadata.');
  const plain = `${ctx.base}/${ref.path}`;
  const urls = byHash ? [`${ctx.base}/${path.posix.dirname(ref.path)}/by-hash/SHA256/${ref.sha256}`, plain] : [plain];
  for (const [i, url] of urls.entries()) {
    const tmp = await ctx.store.tempBlob();
    try {
      await download(url, tmp, { sha256: ref.sha256, size: ref.size }, ctx.opts.fetch);
    } catch (err) {
      const reason = await describeFailure(err, tmp, ref);
      await ctx.store.discard(tmp);
      if (i < urls.length - 1) {
        // By-hash files may be pruned or missing on partial mirrors; the plain name still has to match the digest.
        ctx.opts.emit({ type: 'warning', message: `${ctx.where}: ${url}: ${reason}; trying ${plain}` });
        continue;
      }
      throw new StepError(`${ctx.where}: cannot fetch ${ref.path} from ${url}: ${reason}`, { cause: err });
    }
    const { file } = await ctx.store.adopt(tmp, { sha256: ref.sha256, size: ref.size });
    ctx.fetched++;
    ctx.opts.emit({ type: 'info', message: `fetched ${url} (${kib(ref.size)})` });
    return file;
  }
  throw new StepError(`${ctx.where}: no URL to fetch ${ref.path} from`);
}

/** Decompress and parse one stored index; `plain` is the signed digest of the uncompressed text, when listed. */
export async function readIndex(ctx: LoadContext, file: string, ref: IndexRef, plain?: { sha256: string; size: number }): Promise<PackageRecord[]> {
  let data: Buffer;
  if (ref.path.endsWith('.xz')) data = (await runBinary({ command: 'xz', args: ['-dc'] }, { inputFile: file, package: 'xz-utils' })).stdout;
  else if (ref.path.endsWith('.gz')) data = await gunzipAsync(await readFile(file));
  else data = await readFile(file);
  // The compressed bytes matched; checking the text too catches a decompressor or a Release that disagrees with itself.
  if (plain && plain.sha256 !== ref.sha256) {
    const got = createHash('sha256').update(data).digest('hex');
    if (got !== plain.sha256 || data.length !== plain.size) {
      throw new StepError(`${ctx.where}: ${ref.path} decompresses to sha256 ${got} (${data.length} bytes), but the Release lists ${plain.sha256} (${plain.size} bytes) for the uncompressed index`);
    }
  }
  return parsePackages(data.toString('utf8'), ctx.spec.id);
}

/** The uncompressed index's signed digest, when the Release lists it. */
export function plainDigest(info: ReleaseInfo, ref: IndexRef): { sha256: string; size: number } | undefined {
  return info.sha256.get(`${path.posix.dirname(ref.path)}/Packages`);
}

async function describeFailure(err: unknown, tmp: string, ref: IndexRef): Promise<string> {
  const reason = err instanceof FetchError ? err.message : String(err);
  if (!reason.startsWith('sha256 mismatch')) return reason;
  // download() shortens digests; the full pair is what someone comparing mirrors needs.
  const got = await hashFile(tmp).catch(() => undefined);
  return got ? `sha256 mismatch: expected ${ref.sha256}, got ${got.sha256}` : reason;
}
