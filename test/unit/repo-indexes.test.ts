import { describe, expect, it } from 'vitest';
import { defaultFetchSettings } from '../../src/net/fetch.js';
import { parseRelease } from '../../src/deb/release.js';
import { UserError } from '../../src/errors.js';
import type { CacheEvent } from '../../src/log/events.js';
import { plainDigest, selectIndexes } from '../../src/repo/deb/indexes.js';
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
