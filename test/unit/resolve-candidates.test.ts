import { describe, expect, it } from 'vitest';
import { InternalError } from '../../src/errors.js';
import { PackageIndex } from '../../src/resolve/index.js';
import { RecordCatalog, type ResolveRequest, resolve } from '../../src/resolve/resolve.js';
import { type PkgSpec, pkg, repo } from './resolve-helpers.js';

function candidateOf(repos: ReturnType<typeof repo>[], name = 'a'): string | undefined {
  const rec = new PackageIndex(repos, 'amd64').candidate(name);
  return rec && `${rec.version}@${rec.repository}/${rec.architecture}`;
}

describe('candidate choice', () => {
  it.each<[string, string[], string]>([
    ['a plain higher version', ['1.0', '1.1'], '1.1'],
    ['an epoch over a higher upstream', ['2.0', '1:0.5'], '1:0.5'],
    ['a release over its ~ pre-release', ['1.0~rc1', '1.0'], '1.0'],
    ['a ~ pre-release over an older release', ['0.9', '1.0~rc1'], '1.0~rc1'],
    ['a higher Debian revision', ['1.0-1', '1.0-2'], '1.0-2'],
    ['1.10 over 1.9 (numeric, not text)', ['1.10', '1.9'], '1.10'],
  ])('picks %s in one repository', (_label, versions, want) => {
    const r = repo(
      'main',
      versions.map((version) => ({ name: 'a', version })),
    );
    expect(candidateOf([r])).toBe(`${want}@main/amd64`);
  });

  it.each<[string, number, number, string]>([
    ['higher priority wins over a higher version', 900, 500, '1.0@pinned/amd64'],
    ['equal priority falls back to the higher version', 500, 500, '2.0@main/amd64'],
    ['lower priority loses even with equal versions', 100, 500, '2.0@main/amd64'],
  ])('%s', (_label, pinnedPriority, mainPriority, want) => {
    const pinned = repo('pinned', [{ name: 'a', version: '1.0' }], { priority: pinnedPriority });
    const main = repo('main', [{ name: 'a', version: '2.0' }], { priority: mainPriority });
    expect(candidateOf([pinned, main])).toBe(want);
  });

  it('breaks a full tie by the first repository in list order', () => {
    const first = repo('first', [{ name: 'a', version: '1.0' }]);
    const second = repo('second', [{ name: 'a', version: '1.0' }]);
    expect(candidateOf([first, second])).toBe('1.0@first/amd64');
    expect(candidateOf([second, first])).toBe('1.0@second/amd64');
  });

  it.each<[string, PkgSpec[], string | undefined]>([
    ['takes arch all records', [{ name: 'a', arch: 'all' }], '1.0@main/all'],
    ['ignores foreign architectures even with a higher version', [{ name: 'a', version: '9', arch: 'arm64' }, { name: 'a' }], '1.0@main/amd64'],
    ['has no candidate when only foreign records exist', [{ name: 'a', arch: 'i386' }], undefined],
    ['prefers native over all at the same version', [{ name: 'a', arch: 'all' }, { name: 'a' }], '1.0@main/amd64'],
  ])('%s', (_label, specs, want) => {
    expect(candidateOf([repo('main', specs)])).toBe(want);
  });

  it('takes only allowed names from a repository with allowPackages', () => {
    const extra = repo(
      'extra',
      [
        { name: 'a', version: '5.0' },
        { name: 'b', version: '5.0' },
      ],
      { priority: 990, allowPackages: ['b'] },
    );
    const main = repo('main', [{ name: 'a' }, { name: 'b' }]);
    expect(candidateOf([extra, main], 'a')).toBe('1.0@main/amd64');
    expect(candidateOf([extra, main], 'b')).toBe('5.0@extra/amd64');
  });

  it('explains a name whose only records are left out by allowPackages or architecture', () => {
    const idx = new PackageIndex([repo('extra', [{ name: 'a' }], { allowPackages: [] }), repo('main', [{ name: 'b', arch: 'arm64' }])], 'amd64');
    expect(idx.whyUnusable('a')).toBe('only in extra, whose allowPackages leaves it out');
    expect(idx.whyUnusable('b')).toBe('only for arm64, not amd64');
    expect(idx.whyUnusable('zzz')).toBeUndefined();
  });

  it('uses the candidate of a dependency, not its newest record, in a full resolution', () => {
    const res = resolve({
      repos: [
        repo(
          'stable',
          [
            { name: 'app', depends: 'lib' },
            { name: 'lib', version: '1.0' },
          ],
          { priority: 600 },
        ),
        repo('testing', [{ name: 'lib', version: '2.0' }]),
      ],
      arch: 'amd64',
      packages: ['app'],
      base: 'none',
    });
    expect(res.packages.map((p) => `${p.name}=${p.version}@${p.repository}`)).toEqual(['app=1.0@stable', 'lib=1.0@stable']);
  });

  it('ignores pool details when records are otherwise equal, so input order does not matter', () => {
    const a = pkg({ name: 'a' });
    const b = { ...pkg({ name: 'a' }), filename: 'pool/other.deb' };
    const one = new PackageIndex([{ id: 'main', priority: 500, packages: [a, b] }], 'amd64').candidate('a');
    const two = new PackageIndex([{ id: 'main', priority: 500, packages: [b, a] }], 'amd64').candidate('a');
    expect(one).toBe(two);
  });
});

describe('a record catalog shared by several resolves', () => {
  const repos = [
    repo('main', [
      { name: 'base', version: '1.0', essential: true },
      { name: 'req', version: '1.0', priority: 'required' },
      { name: 'a', version: '1.0', depends: 'b' },
      { name: 'a', version: '2.0', depends: 'b (>= 2)' },
      { name: 'b', version: '1.0' },
      { name: 'b', version: '2.0' },
      { name: 'tool', version: '1.0', depends: 'mta' },
      { name: 'postfix', version: '1.0', provides: 'mta' },
    ]),
  ];

  it('gives each resolve what it gives with an index of its own, pins included', () => {
    const catalog = new RecordCatalog(repos, 'amd64');
    const requests: ResolveRequest[] = [
      { repos, arch: 'amd64', packages: ['a=1.0'], base: 'required' },
      { repos, arch: 'amd64', packages: ['a', 'tool'], base: 'essential' },
      { repos, arch: 'amd64', packages: ['a=1.0'], base: 'none' },
    ];
    const shared = requests.map((r) => resolve(r, catalog));
    expect(shared).toStrictEqual(requests.map((r) => resolve(r)));
    // The pin of the first resolve is not the second's candidate.
    expect(shared[1]!.packages.map((p) => `${p.name}=${p.version}`)).toStrictEqual(['a=2.0', 'b=2.0', 'base=1.0', 'postfix=1.0', 'tool=1.0']);
    expect(shared[0]!.packages.map((p) => `${p.name}=${p.version}`)).toStrictEqual(['a=1.0', 'b=2.0', 'base=1.0', 'req=1.0']);
  });

  it('is refused for other repositories or another architecture', () => {
    const catalog = new RecordCatalog(repos, 'amd64');
    expect(() => resolve({ repos: [...repos], arch: 'amd64', packages: ['a'], base: 'none' }, catalog)).toThrow(InternalError);
    expect(() => resolve({ repos, arch: 'arm64', packages: ['a'], base: 'none' }, catalog)).toThrow(/record catalog built for other repositories/);
  });
});
