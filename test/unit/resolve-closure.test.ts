import { describe, expect, it } from 'vitest';
import { ExitCode, exitCodeFor, UserError } from '../../src/errors.js';
import { resolve } from '../../src/resolve/resolve.js';
import { type PkgSpec, picked, repo, resolveError, resolveIn } from './resolve-helpers.js';

describe('alternatives', () => {
  it.each<[string, PkgSpec[], string[], string[]]>([
    ['takes the first alternative when both exist', [{ name: 'app', depends: 'a | b' }, { name: 'a' }, { name: 'b' }], ['app'], ['a=1.0', 'app=1.0']],
    ['falls back to the second when the first has no candidate', [{ name: 'app', depends: 'a | b' }, { name: 'b' }], ['app'], ['app=1.0', 'b=1.0']],
    [
      'keeps an alternative the request already selected',
      [{ name: 'app', depends: 'a | b' }, { name: 'a' }, { name: 'b' }],
      ['app', 'b'],
      ['app=1.0', 'b=1.0'],
    ],
    [
      'skips an alternative whose candidate is too old',
      [{ name: 'app', depends: 'a (>= 2) | b' }, { name: 'a' }, { name: 'b' }],
      ['app'],
      ['app=1.0', 'b=1.0'],
    ],
    [
      'satisfies a virtual first alternative through its provider',
      [{ name: 'app', depends: 'v | b' }, { name: 'p', provides: 'v' }, { name: 'b' }],
      ['app'],
      ['app=1.0', 'p=1.0'],
    ],
    [
      'skips :any when the target is not Multi-Arch: allowed',
      [{ name: 'app', depends: 'a:any | b' }, { name: 'a' }, { name: 'b' }],
      ['app'],
      ['app=1.0', 'b=1.0'],
    ],
    [
      'takes :any when the target is Multi-Arch: allowed',
      [{ name: 'app', depends: 'a:any | b' }, { name: 'a', multiArch: 'allowed' }, { name: 'b' }],
      ['app'],
      ['a=1.0', 'app=1.0'],
    ],
    [
      'treats :native like no qualifier',
      [
        { name: 'app', depends: 'a:native' },
        { name: 'a', arch: 'all' },
      ],
      ['app'],
      ['a=1.0', 'app=1.0'],
    ],
  ])('%s', (_label, specs, request, want) => {
    expect(picked(resolveIn(specs, request))).toEqual(want);
  });
});

describe('virtual packages', () => {
  it.each<[string, PkgSpec[], string[], string[]]>([
    [
      'uses a single provider',
      [
        { name: 'app', depends: 'mta' },
        { name: 'exim', provides: 'mta' },
      ],
      ['app'],
      ['app=1.0', 'exim=1.0'],
    ],
    [
      'prefers the provider with the higher Priority',
      [
        { name: 'app', depends: 'mta' },
        { name: 'aaa', provides: 'mta', priority: 'optional' },
        { name: 'zzz', provides: 'mta', priority: 'important' },
      ],
      ['app'],
      ['app=1.0', 'zzz=1.0'],
    ],
    [
      'breaks a Priority tie by name',
      [
        { name: 'app', depends: 'mta' },
        { name: 'zzz', provides: 'mta', priority: 'optional' },
        { name: 'aaa', provides: 'mta', priority: 'optional' },
      ],
      ['app'],
      ['aaa=1.0', 'app=1.0'],
    ],
    [
      'prefers a provider that is already selected',
      [
        { name: 'app', depends: 'mta' },
        { name: 'aaa', provides: 'mta', priority: 'required' },
        { name: 'zzz', provides: 'mta', priority: 'extra' },
      ],
      ['zzz', 'app'],
      ['app=1.0', 'zzz=1.0'],
    ],
    [
      'uses a versioned Provides that meets the constraint',
      [
        { name: 'app', depends: 'v (>= 2)' },
        { name: 'old', provides: 'v (= 1)' },
        { name: 'new', provides: 'v (= 3)' },
      ],
      ['app'],
      ['app=1.0', 'new=1.0'],
    ],
    [
      'uses a versioned Provides when the real package is too old',
      [
        { name: 'app', depends: 'v (>= 2)' },
        { name: 'v', version: '1.0' },
        { name: 'p', provides: 'v (= 2.5)' },
      ],
      ['app'],
      ['app=1.0', 'p=1.0'],
    ],
    [
      'prefers the real package over a provider',
      [{ name: 'app', depends: 'v' }, { name: 'v' }, { name: 'p', provides: 'v', priority: 'required' }],
      ['app'],
      ['app=1.0', 'v=1.0'],
    ],
  ])('%s', (_label, specs, request, want) => {
    expect(picked(resolveIn(specs, request))).toEqual(want);
  });

  it('never lets an unversioned Provides satisfy a versioned dependency', () => {
    const err = resolveError(() =>
      resolveIn(
        [
          { name: 'app', depends: 'v (>= 1)' },
          { name: 'p', provides: 'v' },
          { name: 'q', provides: 'v (= 0.5)' },
        ],
        ['app'],
      ),
    );
    expect(err.message).toBe('app -> v (>= 1): no provider satisfies it (provided by p (unversioned), q (= 0.5))');
  });

  it('selects the only provider of a requested virtual package, with a warning', () => {
    const res = resolveIn([{ name: 'exim', provides: 'mta' }], ['mta']);
    expect(res.requested).toEqual(['exim']);
    expect(res.warnings).toEqual(['mta is a virtual package; selecting its only provider exim']);
  });

  it('refuses to guess among several providers of a requested virtual package', () => {
    const err = resolveError(() =>
      resolveIn(
        [
          { name: 'exim', provides: 'mta' },
          { name: 'postfix', provides: 'mta' },
        ],
        ['mta'],
      ),
    );
    expect(err.message).toBe('requested mta is a virtual package provided by exim, postfix');
    expect(err.hint).toMatch(/one of the providers/);
  });
});

describe('version constraints', () => {
  it.each<[string, string, boolean]>([
    ['lib (>= 2.0)', '1:1.0', true],
    ['lib (>= 1.0)', '1.0~rc1', false],
    ['lib (<< 1.0)', '1.0~beta1', true],
    ['lib (>> 1.0)', '1.0+b1', true],
    ['lib (= 1.0-1)', '1.0-1', true],
    ['lib (= 1.0-1)', '0:1.0-1', true],
    ['lib (<= 1.0)', '1.0.1', false],
    ['lib (>= 2:0)', '1:9.9', false],
  ])('%s with candidate %s: satisfied=%s', (dep, version, ok) => {
    const specs: PkgSpec[] = [
      { name: 'app', depends: dep },
      { name: 'lib', version },
    ];
    if (ok) expect(picked(resolveIn(specs, ['app']))).toContain(`lib=${version}`);
    else expect(resolveError(() => resolveIn(specs, ['app'])).message).toBe(`app -> ${dep}: candidate ${version} does not satisfy`);
  });
});

describe('requests', () => {
  const repos = () => [
    repo(
      'stable',
      [
        { name: 'a', version: '1.0' },
        { name: 'a', version: '1.5' },
      ],
      { priority: 600 },
    ),
    repo('backports', [{ name: 'a', version: '2.0' }], { priority: 100 }),
  ];
  it.each<[string, string]>([
    ['a', 'a=1.5'],
    ['a=1.0', 'a=1.0'],
    ['a = 2.0', 'a=2.0'],
    ['a (>= 2)', 'a=2.0'],
    ['a (<< 1.5)', 'a=1.0'],
    ['a (>= 1.1)', 'a=1.5'],
  ])('resolves request "%s" to %s', (request, want) => {
    expect(picked(resolve({ repos: repos(), arch: 'amd64', packages: [request], base: 'none' }))).toEqual([want]);
  });

  it('lets a versioned request pin a package that others depend on', () => {
    const res = resolve({ repos: [...repos(), repo('x', [{ name: 'app', depends: 'a' }])], arch: 'amd64', packages: ['app', 'a=1.0'], base: 'none' });
    expect(picked(res)).toEqual(['a=1.0', 'app=1.0']);
    expect(res.requested).toEqual(['app', 'a']);
  });

  it.each<[string, string[], RegExp]>([
    ['a version no repository has', ['a=3.0'], /^requested a \(= 3\.0\): no version satisfies \(available: 1\.5, 1\.0, 2\.0\)$/],
    ['two requests for different versions', ['a=1.0', 'a=2.0'], /^requests a=1\.0 and a=2\.0 contradict each other$/],
    ['a request that is not a relation', ['a >= 2'], /^bad package request "a >= 2"$/],
    ['an unknown name close to a known one', ['aa'], /^unknown package aa requested$/],
  ])('rejects %s', (_label, packages, message) => {
    const err = resolveError(() => resolve({ repos: repos(), arch: 'amd64', packages, base: 'none' }));
    expect(err.message).toMatch(message);
    expect(err.hint).toBeTruthy();
  });

  it('suggests a close name for an unknown request', () => {
    const err = resolveError(() => resolveIn([{ name: 'curl' }, { name: 'wget' }], ['curll']));
    expect(err.hint).toBe('Did you mean curl?');
    expect(err.chain).toEqual(['curll']);
  });

  it('says why a requested name that exists for another architecture has no candidate', () => {
    const err = resolveError(() => resolveIn([{ name: 'tool', arch: 'arm64' }], ['tool']));
    expect(err.message).toBe('requested package tool has no candidate: only for arm64, not amd64');
  });

  it('reports resolution failures as user errors (exit 2)', () => {
    const err = resolveError(() => resolveIn([], ['nothing']));
    expect(err).toBeInstanceOf(UserError);
    expect(exitCodeFor(err)).toBe(ExitCode.usage);
  });
});

describe('unresolvable dependencies', () => {
  const specs: PkgSpec[] = [
    { name: 'app', depends: 'b' },
    { name: 'b', preDepends: 'c (>= 2)' },
    { name: 'c', version: '1.0' },
    { name: 'd', depends: 'missing' },
    { name: 'e', depends: 'c (>= 2) | missing' },
    { name: 'f', depends: 'mine', arch: 'all' },
    { name: 'mine', arch: 'i386' },
  ];
  it.each<[string, string, string[]]>([
    ['app', 'app -> b -> c (>= 2): candidate 1.0 does not satisfy', ['app', 'b', 'c (>= 2)']],
    ['d', 'd -> missing: no candidate', ['d', 'missing']],
    ['e', 'e -> c (>= 2) | missing: nothing installable (c (>= 2): candidate 1.0 does not satisfy; missing: no candidate)', ['e', 'c (>= 2) | missing']],
    ['f', 'f -> mine: no candidate: only for i386, not amd64', ['f', 'mine']],
  ])('names the chain from requested %s', (request, message, chain) => {
    const err = resolveError(() => resolveIn(specs, [request]));
    expect(err.message).toBe(message);
    expect(err.chain).toEqual(chain);
  });

  it('mentions an already selected version that does not satisfy', () => {
    const err = resolveError(() =>
      resolveIn(
        [
          { name: 'app', depends: 'c (>= 2)' },
          { name: 'c', version: '1.0' },
          { name: 'c', version: '2.0' },
        ],
        ['c=1.0', 'app'],
      ),
    );
    expect(err.message).toBe('app -> c (>= 2): selected 1.0 does not satisfy');
  });

  it('says when :any needs Multi-Arch: allowed', () => {
    const err = resolveError(() => resolveIn([{ name: 'app', depends: 'perl:any' }, { name: 'perl' }], ['app']));
    expect(err.message).toBe('app -> perl:any: candidate 1.0 is not Multi-Arch: allowed');
  });
});

describe('base set', () => {
  const specs: PkgSpec[] = [
    { name: 'bash', essential: true, priority: 'required', preDepends: 'libc6' },
    { name: 'libc6', priority: 'optional' },
    { name: 'coreutils', essential: true, arch: 'all' },
    { name: 'foreign-ess', essential: true, arch: 'arm64' },
    { name: 'apt', priority: 'required', depends: 'libapt' },
    { name: 'libapt' },
    { name: 'vim', depends: 'libc6, libvim' },
    { name: 'libvim' },
  ];
  it.each<['none' | 'essential' | 'required', string[], string[]]>([
    ['none', [], ['libc6', 'libvim', 'vim']],
    ['essential', ['bash', 'coreutils', 'libc6'], ['bash', 'coreutils', 'libc6', 'libvim', 'vim']],
    ['required', ['apt', 'bash', 'coreutils', 'libapt', 'libc6'], ['apt', 'bash', 'coreutils', 'libapt', 'libc6', 'libvim', 'vim']],
  ])('base %s selects base %j', (base, wantBase, wantAll) => {
    const res = resolveIn(specs, ['vim'], { base });
    expect(res.base.map((p) => p.name)).toEqual(wantBase);
    expect(res.packages.map((p) => p.name)).toEqual(wantAll);
    expect(res.requested).toEqual(['vim']);
  });

  it('names a base package at the head of a failing chain', () => {
    const err = resolveError(() => resolveIn([{ name: 'bash', essential: true, depends: 'gone' }], [], { base: 'essential' }));
    expect(err.message).toBe('bash -> gone: no candidate');
  });
});

describe('edges', () => {
  it('records one edge per pair, Pre-Depends winning over Depends, and none to itself', () => {
    const res = resolveIn(
      [
        { name: 'app', depends: 'lib, lib (>= 1), v', preDepends: 'lib' },
        { name: 'lib', provides: 'v' },
        { name: 'self', depends: 'selfv', provides: 'selfv' },
      ],
      ['app', 'self'],
    );
    expect(res.edges).toEqual([{ from: 'app', to: 'lib', kind: 'pre-depends' }]);
  });
});
