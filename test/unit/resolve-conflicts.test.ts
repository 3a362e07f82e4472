import { describe, expect, it } from 'vitest';
import { type PkgSpec, picked, resolveError, resolveIn } from './resolve-helpers.js';

describe('conflicts and breaks', () => {
  it.each<[string, PkgSpec[], string[], string]>([
    ['an unversioned Conflicts', [{ name: 'a', conflicts: 'b' }, { name: 'b' }], ['a', 'b'], 'a conflicts with b: b 1.0 is selected (a comes from a)'],
    [
      'a versioned Conflicts that matches',
      [{ name: 'a', conflicts: 'b (<< 2)' }, { name: 'b' }],
      ['a', 'b'],
      'a conflicts with b (<< 2): b 1.0 is selected (a comes from a)',
    ],
    [
      'a Breaks pulled in through a dependency',
      [{ name: 'app', depends: 'a' }, { name: 'a', breaks: 'b (<= 1.0)' }, { name: 'b' }],
      ['app', 'b'],
      'a breaks b (<= 1.0): b 1.0 is selected (a comes from app -> a)',
    ],
    [
      'a Conflicts with a virtual name another package provides',
      [
        { name: 'a', conflicts: 'mta' },
        { name: 'exim', provides: 'mta' },
      ],
      ['a', 'exim'],
      'a conflicts with mta: exim 1.0 provides mta (a comes from a)',
    ],
    [
      'two providers of a name each conflicting with it',
      [
        { name: 'exim', provides: 'mta', conflicts: 'mta' },
        { name: 'postfix', provides: 'mta', conflicts: 'mta' },
      ],
      ['exim', 'postfix'],
      'exim conflicts with mta: postfix 1.0 provides mta (exim comes from exim)',
    ],
    [
      'a versioned Breaks hitting a versioned Provides',
      [
        { name: 'a', breaks: 'v (<< 2)' },
        { name: 'p', provides: 'v (= 1)' },
      ],
      ['a', 'p'],
      'a breaks v (<< 2): p 1.0 provides v (= 1) (a comes from a)',
    ],
  ])('rejects %s', (_label, specs, request, message) => {
    const err = resolveError(() => resolveIn(specs, request));
    expect(err.message).toBe(message);
    expect(err.chain[0]).toBe(request.find((r) => message.includes(`from ${r}`)));
  });

  it.each<[string, PkgSpec[], string[], string[]]>([
    ['a Conflicts whose version range misses', [{ name: 'a', conflicts: 'b (<< 1.0)' }, { name: 'b' }], ['a', 'b'], ['a=1.0', 'b=1.0']],
    ['a Conflicts on a package that is not selected', [{ name: 'a', conflicts: 'b' }, { name: 'b' }], ['a'], ['a=1.0']],
    ['a package that provides and conflicts with the same name', [{ name: 'exim', provides: 'mta', conflicts: 'mta', breaks: 'mta' }], ['exim'], ['exim=1.0']],
    ['a package that breaks older versions of itself', [{ name: 'a', version: '2.0', breaks: 'a (<< 2.0)' }], ['a'], ['a=2.0']],
    [
      'a versioned Conflicts against an unversioned Provides',
      [
        { name: 'a', conflicts: 'v (<< 2)' },
        { name: 'p', provides: 'v' },
      ],
      ['a', 'p'],
      ['a=1.0', 'p=1.0'],
    ],
    ['a Conflicts qualified with a foreign architecture', [{ name: 'a', conflicts: 'b:i386' }, { name: 'b' }], ['a', 'b'], ['a=1.0', 'b=1.0']],
  ])('accepts %s', (_label, specs, request, want) => {
    expect(picked(resolveIn(specs, request))).toEqual(want);
  });
});
