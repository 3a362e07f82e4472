import { describe, expect, it } from 'vitest';
import { components, installOrder } from '../../src/resolve/order.js';
import type { ResolvedEdge } from '../../src/resolve/types.js';
import { resolveIn } from './resolve-helpers.js';

// `a>b` is a Depends edge (a needs b), `a!b` a Pre-Depends edge.
function edges(spec: string): ResolvedEdge[] {
  return spec
    .split(' ')
    .filter(Boolean)
    .map((e) => {
      const [from = '', to = ''] = e.split(/[>!]/);
      return { from, to, kind: e.includes('!') ? 'pre-depends' : 'depends' };
    });
}

describe('installOrder', () => {
  it.each<[string, string[], string, string[]]>([
    ['puts dependencies first along a chain', ['app', 'lib', 'libc'], 'app>lib lib>libc', ['libc', 'lib', 'app']],
    ['orders independent packages by name', ['c', 'a', 'b'], '', ['a', 'b', 'c']],
    ['takes the smallest free name first, not a depth-first walk', ['a', 'b', 'z'], 'a>z', ['b', 'z', 'a']],
    ['keeps a cycle together, sorted by name', ['c', 'b', 'a', 'd'], 'a>b b>a c>a d>c', ['a', 'b', 'c', 'd']],
    ['orders a cycle by its smallest member', ['m', 'x', 'y', 'b'], 'y>x x>y b>m', ['m', 'b', 'x', 'y']],
    ['places a cycle after what it needs', ['a', 'b', 'z'], 'a>b b>a b>z', ['z', 'a', 'b']],
    ['handles a diamond', ['top', 'l', 'r', 'base'], 'top>l top>r l>base r>base', ['base', 'l', 'r', 'top']],
    ['ignores edges to names outside the set', ['a'], 'a>ghost', ['a']],
  ])('%s', (_label, names, spec, want) => {
    expect(installOrder(names, edges(spec))).toEqual({ order: want, warnings: [] });
  });

  it('warns about a cycle held by Pre-Depends but still orders it', () => {
    const res = installOrder(['libc6', 'libgcc-s1', 'x'], edges('libc6!libgcc-s1 libgcc-s1>libc6 x>libc6'));
    expect(res.order).toEqual(['libc6', 'libgcc-s1', 'x']);
    expect(res.warnings).toEqual(['Pre-Depends cycle among libc6, libgcc-s1: they are ordered by name, and dpkg has to break the cycle when unpacking']);
  });

  it('finds components without recursion on a 20,000-node chain and a 5,000-node ring', () => {
    const chain = Array.from({ length: 20_000 }, (_, i) => (i + 1 < 20_000 ? [i + 1] : []));
    expect(components(chain).count).toBe(20_000);
    const ring = Array.from({ length: 5_000 }, (_, i) => [(i + 1) % 5_000]);
    const { comp, count } = components(ring);
    expect(count).toBe(1);
    expect(new Set(comp).size).toBe(1);
  });

  it('orders a long chain with the deepest dependency first', () => {
    const names = Array.from({ length: 5_000 }, (_, i) => `p${String(i).padStart(5, '0')}`);
    const es = names.slice(1).map((n, i): ResolvedEdge => ({ from: names[i]!, to: n, kind: 'depends' }));
    expect(installOrder(names, es).order).toEqual([...names].reverse());
  });
});

describe('install order of a resolution', () => {
  it('puts the base cycle first and the request after what it needs', () => {
    const res = resolveIn(
      [
        { name: 'libc6', essential: true, depends: 'libgcc-s1' },
        { name: 'libgcc-s1', preDepends: 'libc6' },
        { name: 'app', depends: 'zlib, libc6' },
        { name: 'zlib', depends: 'libc6' },
      ],
      ['app'],
      { base: 'essential' },
    );
    expect(res.installOrder).toEqual(['libc6', 'libgcc-s1', 'zlib', 'app']);
    expect(res.warnings).toHaveLength(1);
    expect(res.warnings[0]).toMatch(/^Pre-Depends cycle among libc6, libgcc-s1/);
  });
});
