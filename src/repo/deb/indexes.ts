// Packages indexes: chosen from the signed SHA256 list, fetched by hash when
// the suite offers it, kept in the store by digest, decompressed and parsed.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { download, FetchError } from '../../net/fetch.js';
import { hashFile } from '../../fs/hash.js';
import { PackagesParser, type RefusedStanza } from '../../deb/packages.js';
import { recordProblem } from '../../deb/policy.js';
import type { ReleaseInfo } from '../../deb/release.js';
import type { PackageRecord } from '../../deb/types.js';
import { StepError, UserError } from '../../errors.js';
import { runStreaming } from '../../exec.js';
import { isNotFound, openNoFollow } from '../../fs/safe.js';
import { kib, type LoadContext } from './context.js';
import type { IndexRef } from './types.js';

/** Debian's largest index (trixie main amd64) is 54 MiB unpacked. */
export const DEFAULT_MAX_INDEX_BYTES = 256 * 1024 * 1024;
const CAP_HINT = 'An index this large is not a Debian index; if this repository really has one, raise max_index_mib (G3_MAX_INDEX_MIB).';

/** Best first: the smallest download we can decompress. */
const NAMES = ['Packages.xz', 'Packages.gz', 'Packages'];

/** The index to load for each requested component and architecture, from the signed Release. */
export function selectIndexes(ctx: Pick<LoadContext, 'spec' | 'where' | 'opts'>, info: ReleaseInfo): IndexRef[] {
  const refs: IndexRef[] = [];
  for (const component of ctx.spec.components) {
    // Security suites list `updates/main` but keep the indexes under `main/`: the signed file list decides.
    const listed =
      info.components.some((c) => c === component || c.endsWith(`/${component}`)) || [...info.sha256.keys()].some((k) => k.startsWith(`${component}/binary-`));
    if (info.components.length > 0 && !listed) {
      ctx.opts.emit({ type: 'warning', message: `${ctx.where}: component ${component} is not in the Release (it has ${info.components.join(' ')}); skipped` });
      continue;
    }
    for (const arch of ctx.spec.archs) {
      if (info.architectures.length > 0 && !info.architectures.includes(arch)) {
        ctx.opts.emit({
          type: 'warning',
          message: `${ctx.where}: architecture ${arch} is not in the Release (it has ${info.architectures.join(' ')}); skipped`,
        });
        continue;
      }
      const dir = `${component}/binary-${arch}`;
      const name = NAMES.find((n) => info.sha256.has(`${dir}/${n}`));
      const digest = name ? info.sha256.get(`${dir}/${name}`) : undefined;
      if (!name || !digest)
        throw new UserError(
          `${ctx.where}: the Release lists no Packages index for ${dir}`,
          'Check the component and architecture names against the repository.',
        );
      refs.push({ component, arch, path: `${dir}/${name}`, sha256: digest.sha256, size: digest.size });
    }
  }
  return refs;
}

/** The stored file of an index, downloading it (by hash first when offered) when the store lacks it. */
export async function obtainIndex(ctx: LoadContext, ref: IndexRef, byHash: boolean): Promise<string> {
  const stored = await ctx.store.find(ref);
  if (stored) return stored;
  if (ctx.opts.offline)
    throw new UserError(
      `${ctx.where}: no verified copy of ${ref.path} (sha256 ${ref.sha256}) in the metadata store`,
      'Run once online to fetch the repository metadata.',
    );
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

/** A stored index's records, and the stanzas left out because they break Debian policy. */
export interface IndexContents {
  packages: PackageRecord[];
  refused: RefusedStanza[];
}

/**
 * Decompress and parse one stored index as a stream, never holding its text:
 * the unpacked bytes are bounded by the size the signed Release lists for the
 * plain `Packages` (`plain`) and by max_index_mib, and checked against its digest.
 * The unpacked text is kept in the store under that digest as it is read, so
 * the next run reads it instead of decompressing again (xz takes about 2 s for
 * Debian's main index); it is checked against the digest the same way.
 */
export async function readIndex(ctx: LoadContext, file: string, ref: IndexRef, plain?: { sha256: string; size: number }): Promise<IndexContents> {
  const cap = ctx.opts.maxIndexBytes ?? DEFAULT_MAX_INDEX_BYTES;
  const plainPath = `${path.posix.dirname(ref.path)}/Packages`;
  if (plain && plain.size > cap) {
    throw new UserError(
      `${ctx.where}: ${plainPath} is ${plain.size} bytes unpacked, as the signed Release says: more than ${mib(cap)} (max_index_mib)`,
      CAP_HINT,
    );
  }
  const compressed = plain !== undefined && plain.sha256 !== ref.sha256;
  const unpacked = compressed ? await ctx.store.find(plain) : undefined;
  const parser = new PackagesParser(ctx.spec.id, { refuse: recordProblem });
  const hash = createHash('sha256');
  const source = unpacked ? unpack(unpacked, plainPath) : unpack(file, ref.path);
  const keep = compressed && !unpacked ? await ctx.store.tempBlob() : undefined;
  const out = keep ? await openNoFollow(keep, 'wx') : undefined;
  let kept = false;
  let n = 0;
  try {
    for await (const chunk of source.chunks) {
      n += chunk.length;
      if (plain && n > plain.size) {
        throw new StepError(`${ctx.where}: ${ref.path} unpacks to more than the ${plain.size} bytes the signed Release lists for ${plainPath}; stopped there`);
      }
      if (n > cap) throw new UserError(`${ctx.where}: ${ref.path} unpacks to more than ${mib(cap)} (max_index_mib); stopped there`, CAP_HINT);
      hash.update(chunk);
      parser.push(chunk);
      await out?.write(chunk);
    }
    await source.finish();
    await out?.close();
    // The compressed bytes matched; checking the text too catches a decompressor or a Release that disagrees with itself.
    if (plain && compressed) {
      const got = hash.digest('hex');
      if (got !== plain.sha256 || n !== plain.size) {
        throw new StepError(
          `${ctx.where}: ${unpacked ? `the unpacked copy of ${ref.path} in the metadata store (${unpacked}) reads as` : `${ref.path} decompresses to`} sha256 ${got} (${n} bytes), but the Release lists ${plain.sha256} (${plain.size} bytes) for the uncompressed index`,
        );
      }
      if (keep) {
        await ctx.store.adopt(keep, plain);
        kept = true;
      }
    }
  } finally {
    source.stop();
    await out?.close().catch(() => undefined);
    if (keep && !kept) await ctx.store.discard(keep);
  }
  return { packages: parser.end(), refused: parser.refused };
}

/** The unpacked bytes of a stored index as they come; finish() reports a decompressor's failure, stop() abandons it. */
function unpack(file: string, name: string): { chunks: AsyncIterable<Buffer>; finish(): Promise<void>; stop(): void } {
  if (name.endsWith('.xz')) {
    const xz = runStreaming({ command: 'xz', args: ['-dc'] }, { inputFile: file, package: 'xz-utils' });
    let finished = false;
    return {
      chunks: xz.stdout,
      async finish() {
        const r = await xz.done;
        finished = true;
        if (r.exitCode !== 0)
          throw new StepError(`xz could not unpack ${file} (exit code ${r.exitCode}): ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`, {
            command: ['xz', '-dc'],
            exitCode: r.exitCode,
            stderr: r.stderr,
          });
      },
      stop: () => {
        if (!finished) xz.stop();
      },
    };
  }
  const input = createReadStream(file);
  const out: Readable = name.endsWith('.gz') ? input.pipe(createGunzip()) : input;
  if (out !== input) input.on('error', (err) => out.destroy(err));
  return {
    chunks: out,
    finish: async () => undefined,
    stop: () => {
      input.destroy();
      out.destroy();
    },
  };
}

function mib(bytes: number): string {
  return `${Math.round(bytes / 1024 / 1024)} MiB`;
}

/** The refused stanzas of one index as one warning line (the first ten, escaped), or undefined. */
export function refusedWarning(ctx: Pick<LoadContext, 'where'>, ref: IndexRef, refused: RefusedStanza[]): string | undefined {
  if (refused.length === 0) return undefined;
  const shown = refused.slice(0, 10).map((r) => `line ${r.line}: ${r.problem}`);
  const more = refused.length > shown.length ? `; and ${refused.length - shown.length} more` : '';
  return `${ctx.where}: ${ref.path}: left out ${refused.length} ${refused.length === 1 ? 'entry' : 'entries'} that break Debian policy or could leave the package cache (${shown.join('; ')}${more})`;
}

/** The uncompressed index's signed digest, when the Release lists it. */
export function plainDigest(info: ReleaseInfo, ref: IndexRef): { sha256: string; size: number } | undefined {
  return info.sha256.get(`${path.posix.dirname(ref.path)}/Packages`);
}

async function describeFailure(err: unknown, tmp: string, ref: IndexRef): Promise<string> {
  const reason = err instanceof FetchError ? err.message : String(err);
  if (!reason.startsWith('sha256 mismatch')) return reason;
  // download() shortens digests; the full pair is what someone comparing mirrors needs.
  try {
    const got = await hashFile(tmp);
    return `sha256 mismatch: expected ${ref.sha256}, got ${got.sha256}`;
  } catch (err) {
    if (isNotFound(err)) return reason;
    return `${reason} (and the download cannot be hashed again: ${(err as NodeJS.ErrnoException).code ?? String(err)})`;
  }
}
