import { createHash } from 'node:crypto';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultFetchSettings } from '../../src/net/fetch.js';
import { parseRelease } from '../../src/deb/release.js';
import { UserError } from '../../src/errors.js';
import type { CacheEvent } from '../../src/log/events.js';
import { plainDigest, readIndex, selectIndexes } from '../../src/repo/deb/indexes.js';
import { makeContext } from '../../src/repo/deb/context.js';
import { StepError } from '../../src/errors.js';
import { run } from '../../src/exec.js';
import { rejectionOf } from '../support/failure.js';
import { useTempDirs } from './tmpdir.js';
import type { MetadataOptions, RepoSpec } from '../../src/repo/deb/types.js';

const h = (c: string) => c.repeat(64);

/** A Release listing the given index files (each with a distinct digest). */
function release(files: string[], extra = 'Components: main contrib\nArchitectures: amd64 arm64\n') {
  const list = files.map((f, i) => ` ${h('0123456789abcdef'[i] ?? 'f')} ${100 + i} ${f}`).join('\n');
  return parseRelease(`Codename: trixie\n${extra}SHA256:\n${list}\n`, 'Release');
}

function ctx(over: Partial<RepoSpec> = {}) {
  const events: CacheEvent[] = [];
  const spec: RepoSpec = {
    id: 'r',
    url: 'http://127.0.0.1:1',
    codename: 'trixie',
    components: ['main'],
    archs: ['amd64'],
    keyrings: [],
    trusted: false,
    ...over,
  };
  const opts: MetadataOptions = { storeDir: '/nonexistent', offline: true, ignoreValidUntil: false, fetch: defaultFetchSettings, emit: (e) => events.push(e) };
  return { c: { spec, opts, where: 'repository http://127.0.0.1:1 trixie' }, events };
}

describe('selectIndexes', () => {
  it.each([
    [['main/binary-amd64/Packages', 'main/binary-amd64/Packages.gz', 'main/binary-amd64/Packages.xz'], 'main/binary-amd64/Packages.xz'],
    [['main/binary-amd64/Packages', 'main/binary-amd64/Packages.gz'], 'main/binary-amd64/Packages.gz'],
    [['main/binary-amd64/Packages'], 'main/binary-amd64/Packages'],
    [['main/binary-amd64/Packages.bz2', 'main/binary-amd64/Packages'], 'main/binary-amd64/Packages'],
  ])('picks the best compression the signed list offers among %j', (files, want) => {
    const { c } = ctx();
    const info = release(files);
    const refs = selectIndexes(c, info);
    expect(refs).toEqual([{ component: 'main', arch: 'amd64', path: want, ...info.sha256.get(want) }]);
  });

  it('returns one index per component and architecture, in the order asked for', () => {
    const { c } = ctx({ components: ['contrib', 'main'], archs: ['arm64', 'amd64'] });
    const files = ['contrib/binary-arm64', 'contrib/binary-amd64', 'main/binary-arm64', 'main/binary-amd64'].map((d) => `${d}/Packages.xz`);
    expect(selectIndexes(c, release(files)).map((r) => r.path)).toEqual(files);
  });

  it.each([
    ['a component', { components: ['main', 'non-free'] }, 'component non-free is not in the Release (it has main contrib); skipped'],
    ['an architecture', { archs: ['amd64', 'riscv64'] }, 'architecture riscv64 is not in the Release (it has amd64 arm64); skipped'],
  ])('skips %s the Release does not have, with a warning', (_what, over, message) => {
    const { c, events } = ctx(over);
    expect(selectIndexes(c, release(['main/binary-amd64/Packages.xz'])).map((r) => r.path)).toEqual(['main/binary-amd64/Packages.xz']);
    expect(events).toEqual([{ type: 'warning', message: `repository http://127.0.0.1:1 trixie: ${message}` }]);
  });

  it('takes main from a security suite that lists its components as updates/main', () => {
    const { c, events } = ctx({ components: ['main', 'contrib'] });
    const info = release(
      ['main/binary-amd64/Packages.xz', 'contrib/binary-amd64/Packages.xz'],
      'Components: updates/main updates/contrib\nArchitectures: amd64\n',
    );
    expect(selectIndexes(c, info).map((r) => r.path)).toEqual(['main/binary-amd64/Packages.xz', 'contrib/binary-amd64/Packages.xz']);
    expect(events).toEqual([]);
  });

  it('fails when the Release lists no Packages index for a listed component', () => {
    const { c } = ctx({ components: ['contrib'] });
    const run = () => selectIndexes(c, release(['main/binary-amd64/Packages.xz']));
    expect(run).toThrow(UserError);
    expect(run).toThrow('repository http://127.0.0.1:1 trixie: the Release lists no Packages index for contrib/binary-amd64');
  });

  it('finds the signed digest of the uncompressed index beside a compressed one', () => {
    const info = release(['main/binary-amd64/Packages', 'main/binary-amd64/Packages.xz']);
    const [ref] = selectIndexes(ctx().c, info);
    expect(ref && plainDigest(info, ref)).toEqual(info.sha256.get('main/binary-amd64/Packages'));
  });
});

describe('readIndex', () => {
  const tempDir = useTempDirs('g3-indexes-');
  const stanza = (name: string) =>
    `Package: ${name}\nVersion: 1.0\nArchitecture: amd64\nFilename: pool/main/${name[0]}/${name}/${name}_1.0_amd64.deb\nSize: 10\nSHA256: ${h('a')}\n`;
  const TEXT = ['alpha', 'beta', 'gamma'].map(stanza).join('\n');
  const digest = (b: string | Buffer) => ({ sha256: createHash('sha256').update(b).digest('hex'), size: Buffer.byteLength(b) });

  /** A store in a fresh folder, the index compressed with xz beside it, and the signed digests of both forms. */
  async function setup(text = TEXT) {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'Packages'), text);
    await run({ command: 'xz', args: ['-k', path.join(dir, 'Packages')] });
    const xz = path.join(dir, 'Packages.xz');
    const events: CacheEvent[] = [];
    const spec: RepoSpec = { id: 'r', url: 'http://127.0.0.1:1', codename: 'trixie', components: ['main'], archs: ['amd64'], keyrings: [], trusted: false };
    const c = makeContext(spec, {
      storeDir: path.join(dir, 'store'),
      offline: true,
      ignoreValidUntil: false,
      fetch: defaultFetchSettings,
      emit: (e) => events.push(e),
    });
    const ref = { component: 'main', arch: 'amd64', path: 'main/binary-amd64/Packages.xz', ...digest(await readFile(xz)) };
    const blobs = async () => readdir(path.join(dir, 'store', 'by-hash', 'sha256')).catch(() => [] as string[]);
    return { c, xz, ref, plain: digest(text), events, blobs };
  }

  it('keeps the unpacked text in the store under its signed digest, and reads it next time without the compressed file', async () => {
    const { c, xz, ref, plain, blobs } = await setup();
    const first = await readIndex(c, xz, ref, plain);
    expect(first.packages.map((p) => p.name)).toEqual(['alpha', 'beta', 'gamma']);
    expect(await blobs()).toEqual([plain.sha256]);
    expect(await readFile(c.store.blobPath(plain.sha256), 'utf8')).toBe(TEXT);
    // The compressed file is gone: only the kept text can give the same records.
    await rm(xz);
    expect(await readIndex(c, xz, ref, plain)).toEqual(first);
  });

  it('decompresses again, with a warning, when the kept text was changed', async () => {
    const { c, xz, ref, plain, events, blobs } = await setup();
    await readIndex(c, xz, ref, plain);
    await writeFile(c.store.blobPath(plain.sha256), TEXT.replace('beta', 'bexa'));
    expect((await readIndex(c, xz, ref, plain)).packages.map((p) => p.name)).toEqual(['alpha', 'beta', 'gamma']);
    expect(events.filter((e) => e.type === 'warning').map((e) => (e as { message: string }).message)).toEqual([
      expect.stringMatching(/metadata store: .* is corrupt .*; removed/),
    ]);
    expect(await readFile(c.store.blobPath(plain.sha256), 'utf8')).toBe(TEXT);
    expect(await blobs()).toEqual([plain.sha256]);
  });

  it('keeps nothing when the text does not match the digest the Release gives for it', async () => {
    const { c, xz, ref, plain, blobs } = await setup();
    const wrong = { sha256: h('b'), size: plain.size };
    const err = await rejectionOf(readIndex(c, xz, ref, wrong), StepError);
    expect(err.message).toContain(
      `main/binary-amd64/Packages.xz decompresses to sha256 ${plain.sha256} (${plain.size} bytes), but the Release lists ${h('b')}`,
    );
    expect(await blobs()).toEqual([]);
  });

  it('keeps no second copy of an index that is not compressed', async () => {
    const { c, ref: _ref, plain, blobs } = await setup();
    const dir = path.dirname(c.opts.storeDir);
    const ref = { component: 'main', arch: 'amd64', path: 'main/binary-amd64/Packages', ...plain };
    expect((await readIndex(c, path.join(dir, 'Packages'), ref, plain)).packages).toHaveLength(3);
    expect(await blobs()).toEqual([]);
  });
});
