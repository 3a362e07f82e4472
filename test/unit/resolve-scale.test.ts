import { describe, expect, it } from 'vitest';
import type { PackageRecord, Relation } from '../../src/deb/types.js';
import { satisfies } from '../../src/deb/version.js';
import { type RepoInput, type Resolution, resolve } from '../../src/resolve/resolve.js';
import { type PkgSpec, pkg, repo } from './resolve-helpers.js';

// A small seeded generator so the big index is the same on every run.
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

function shuffle<T>(items: readonly T[], rnd: () => number): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

const name = (i: number) => `p${String(i).padStart(5, '0')}`;
const UNIQUE = 54_000;

// 65,000 records: 54,000 names, 4,000 older versions, 4,000 newer arm64 records, 3,000 newer in a low-priority repository.
function bigIndex(): RepoInput[] {
  const rnd = random(42);
  const main: PkgSpec[] = [];
  for (let i = 0; i < UNIQUE; i++) {
    const clauses: string[] = [];
    for (let k = Math.floor(rnd() * 4); k > 0 && i > 0; k--) {
      // Most dependencies point at a few common libraries, as in a real archive.
      const j = Math.floor(rnd() ** 6 * i);
      const roll = rnd();
      if (roll < 0.2) clauses.push(`missing${i} | ${name(j)}`);
      else if (roll < 0.45) clauses.push(`${name(j)} (>= 1.0)`);
      else if (roll < 0.55 && j >= 50) clauses.push(`virt${Math.floor(j / 50)}`);
      else clauses.push(name(j));
    }
    main.push({
      name: name(i),
      version: `1.${i % 10}-1`,
      depends: clauses.join(', '),
      ...(i % 50 === 0 && i > 0 ? { provides: `virt${i / 50}` } : {}),
      ...(i < 30 ? { essential: true, priority: 'required' } : {}),
    });
  }
  main[0]!.preDepends = name(1); // an Essential cycle, as libc6 and libgcc-s1 have
  main[1]!.depends = name(0);
  for (let i = 0; i < 4_000; i++) main.push({ name: name(i * 13), version: '1.0~old' });
  for (let i = 0; i < 4_000; i++) main.push({ name: name(i * 11), version: '9.0', arch: 'arm64' });
  const backports = Array.from({ length: 3_000 }, (_, i): PkgSpec => ({ name: name(i * 17), version: '2.0-1' }));
  return [repo('main', main), repo('backports', backports, { priority: 100 })];
}

const REQUEST = Array.from({ length: 50 }, (_, i) => name(UNIQUE - 1 - i * 97));

function satisfiedBy(selected: Map<string, PackageRecord>, providers: Map<string, Relation[]>, rel: Relation): boolean {
  const real = selected.get(rel.name);
  const ok = (v: string | undefined) => !rel.op || (v !== undefined && satisfies(v, rel.op, rel.version!));
  return (real !== undefined && ok(real.version)) || (providers.get(rel.name) ?? []).some((p) => ok(p.version));
}

function summary(res: Resolution): unknown {
  return { ...res, base: res.base.map((p) => `${p.name}=${p.version}`), packages: res.packages.map((p) => `${p.name}=${p.version}@${p.repository}`) };
}

describe('resolving against a 65,000-record index', () => {
  const repos = bigIndex();
  const res = resolve({ repos, arch: 'amd64', packages: REQUEST, base: 'required' });

  it('builds the index it claims to', () => {
    expect(repos.reduce((n, r) => n + r.packages.length, 0)).toBe(65_000);
  });

  it('selects every request and the base set, each at its candidate version', () => {
    const names = new Set(res.packages.map((p) => p.name));
    for (const r of REQUEST) expect(names.has(r)).toBe(true);
    expect(res.base.length).toBeGreaterThanOrEqual(30);
    for (const p of res.packages) {
      expect(p.architecture).toBe('amd64');
      expect(p.repository).toBe('main');
      expect(p.version).toMatch(/^1\.\d-1$/);
    }
  });

  it('meets every Depends and Pre-Depends clause inside the selection', () => {
    const selected = new Map(res.packages.map((p) => [p.name, p]));
    const providers = new Map<string, Relation[]>();
    for (const p of res.packages) for (const v of p.provides) providers.set(v.name, [...(providers.get(v.name) ?? []), v]);
    const unmet = res.packages.flatMap((p) =>
      [...p.preDepends, ...p.depends].filter((c) => !c.some((rel) => satisfiedBy(selected, providers, rel))).map((c) => `${p.name}: ${c.map((r) => r.name)}`),
    );
    expect(unmet).toEqual([]);
    expect(res.packages.some((p) => p.provides.length > 0)).toBe(true);
  });

  it('selects nothing unreachable from the request and the base set', () => {
    const out = new Map<string, string[]>();
    for (const e of res.edges) out.set(e.from, [...(out.get(e.from) ?? []), e.to]);
    const seen = new Set([...REQUEST, ...res.base.filter((p) => p.essential || p.priority === 'required').map((p) => p.name)]);
    const todo = [...seen];
    while (todo.length) for (const n of out.get(todo.pop()!) ?? []) if (!seen.has(n) && seen.add(n)) todo.push(n);
    expect([...seen].sort()).toEqual(res.packages.map((p) => p.name));
  });

  it('orders every package once, dependencies first outside the one cycle', () => {
    expect([...res.installOrder].sort()).toEqual(res.packages.map((p) => p.name));
    const pos = new Map(res.installOrder.map((n, i) => [n, i]));
    const backwards = res.edges.filter((e) => pos.get(e.to)! > pos.get(e.from)!).map((e) => `${e.from}->${e.to}`);
    expect(backwards).toEqual([`${name(0)}->${name(1)}`]);
    expect(res.warnings).toEqual([`Pre-Depends cycle among ${name(0)}, ${name(1)}: they are ordered by name, and dpkg has to break the cycle when unpacking`]);
  });

  it('gives the same result when every repository lists its records in another order', () => {
    const rnd = random(7);
    const shuffled = repos.map((r) => ({ ...r, packages: shuffle(r.packages, rnd) }));
    expect(summary(resolve({ repos: shuffled, arch: 'amd64', packages: REQUEST, base: 'required' }))).toEqual(summary(res));
  });
});

describe('determinism on small indexes', () => {
  const specs: PkgSpec[] = [
    { name: 'app', depends: 'mta, lib (>= 1.0) | other, tool' },
    { name: 'exim', provides: 'mta', priority: 'optional' },
    { name: 'postfix', provides: 'mta', priority: 'optional' },
    { name: 'lib', version: '1.0' },
    { name: 'lib', version: '1.0', arch: 'all' },
    { name: 'lib', version: '0.9' },
    { name: 'other' },
    { name: 'tool', depends: 'app' },
  ];
  it.each([1, 2, 3, 4, 5, 6])('shuffle with seed %i gives the same resolution', (seed) => {
    const base = resolve({ repos: [repo('main', specs)], arch: 'amd64', packages: ['app'], base: 'none' });
    const shuffled = resolve({
      repos: [
        {
          id: 'main',
          priority: 500,
          packages: shuffle(
            specs.map((s) => pkg({ ...s, repository: 'main' })),
            random(seed),
          ),
        },
      ],
      arch: 'amd64',
      packages: ['app'],
      base: 'none',
    });
    expect(summary(shuffled)).toEqual(summary(base));
    expect(shuffled.packages.map((p) => `${p.name}/${p.architecture}`)).toEqual(['app/amd64', 'exim/amd64', 'lib/amd64', 'tool/amd64']);
  });
});
