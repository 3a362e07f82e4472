import { describe, expect, it } from 'vitest';
import { lockArtifacts, poolUrl } from '../../src/packages/artifacts.js';
import { lockDot } from '../../src/packages/graphs.js';
import type { LockedPackage, LockedSet, LockFile } from '../../src/lock/types.js';

const pkg = (name: string, over: Partial<LockedPackage> = {}): LockedPackage => ({
  name,
  version: '1.0-1',
  architecture: 'amd64',
  filename: `pool/main/${name[0]}/${name}/${name}_1.0-1_amd64.deb`,
  size: 100,
  sha256: name
    .padEnd(64, '0')
    .slice(0, 64)
    .replace(/[^0-9a-f]/g, 'f'),
  repository: 'main',
  ...over,
});

function lockWith(packages: LockedPackage[]): { lock: LockFile; set: LockedSet } {
  const set: LockedSet = { requested: ['app'], base: 'required', baseSet: ['libc6'], packages, installOrder: packages.map((p) => p.name) };
  const lock = {
    repositories: [
      { id: 'main', url: 'http://127.0.0.1:9/debian/', codename: 'trixie' },
      { id: 'extra', url: 'http://127.0.0.1:9/extra', codename: 'x' },
    ],
    image: set,
  } as unknown as LockFile;
  return { lock, set };
}

describe('lock artifacts', () => {
  it.each([
    ['pool/main/m/mtools/mtools_4.0.33-1+really4.0.32-1_amd64.deb', 'http://127.0.0.1:9/debian/pool/main/m/mtools/mtools_4.0.33-1%2Breally4.0.32-1_amd64.deb'],
    ['pool/main/g/gcc/g++_12_amd64.deb', 'http://127.0.0.1:9/debian/pool/main/g/gcc/g%2B%2B_12_amd64.deb'],
    ['pool/main/a/a b/a b_1_all.deb', 'http://127.0.0.1:9/debian/pool/main/a/a%20b/a%20b_1_all.deb'],
  ])('escapes each path segment of %s', (filename, url) => {
    expect(poolUrl('http://127.0.0.1:9/debian/', filename)).toBe(url);
  });

  it('puts every package flat in the provider section, fetched from the configured mirror', () => {
    const { lock, set } = lockWith([pkg('app'), pkg('libc6', { repository: 'extra' })]);
    const a = lockArtifacts(lock, set, 'debian-debian13-x86_64', 'x.lock.json', new Map([['main', 'http://127.0.0.1:7/mirror']]));
    expect(a.map((x) => [x.section, x.file, x.urls[0]])).toEqual([
      ['debian-debian13-x86_64', 'app_1.0-1_amd64.deb', 'http://127.0.0.1:7/mirror/pool/main/a/app/app_1.0-1_amd64.deb'],
      ['debian-debian13-x86_64', 'libc6_1.0-1_amd64.deb', 'http://127.0.0.1:9/extra/pool/main/l/libc6/libc6_1.0-1_amd64.deb'],
    ]);
    expect(a[0]?.sha256).toBe(set.packages[0]?.sha256);
    expect(a[0]?.size).toBe(100);
  });

  it('refuses two packages with one file name and different contents', () => {
    const { lock, set } = lockWith([pkg('app'), pkg('app2', { filename: 'pool/x/app_1.0-1_amd64.deb', sha256: 'e'.repeat(64) })]);
    expect(() => lockArtifacts(lock, set, 's', 'x.lock.json')).toThrow(/share the file name app_1.0-1_amd64.deb/);
  });

  it.each(['pool/main/.hidden.deb', 'pool/main/a\u0001b.deb'])('refuses the unsafe file name %j', (filename) => {
    const { lock, set } = lockWith([pkg('app', { filename })]);
    expect(() => lockArtifacts(lock, set, 's', 'x.lock.json')).toThrow(/unsafe file name/);
  });
});

describe('lock graphs', () => {
  const { set } = lockWith([pkg('app', { depends: ['libc6', 'zlib1g'] }), pkg('libc6'), pkg('zlib1g', { depends: ['libc6'], version: '1:1.3' })]);

  it('writes sorted nodes with versions, requested packages highlighted, and their edges', () => {
    expect(lockDot('img', set)).toBe(
      [
        'digraph "img" {',
        '  rankdir=LR;',
        '  node [shape=box, fontsize=10];',
        '  "app" [label="app\\n1.0-1", style=filled, fillcolor=lightblue];',
        '  "libc6" [label="libc6\\n1.0-1"];',
        '  "zlib1g" [label="zlib1g\\n1:1.3"];',
        '  "app" -> "libc6";',
        '  "app" -> "zlib1g";',
        '  "zlib1g" -> "libc6";',
        '}',
        '',
      ].join('\n'),
    );
  });

  it('limits the graph to a subset, dropping edges that leave it', () => {
    const dot = lockDot('chrootpkgs', set, new Set(['libc6', 'zlib1g']));
    expect(dot).toContain('"zlib1g" -> "libc6";');
    expect(dot).not.toContain('"app"');
  });

  it.each([
    ['my "image"', 'digraph "my \\"image\\"" {'],
    ['back\\slash', 'digraph "back\\\\slash" {'],
  ])('escapes the graph name %j', (name, first) => {
    expect(lockDot(name, set).split('\n')[0]).toBe(first);
  });
});
