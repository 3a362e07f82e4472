// The delta route's choice of an installed snapshot to start from, and the
// check for packages that make system users.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type DeltaCandidate, deltaStarts, makesUsers, packageLine, packagesMakingUsers, startsWithout } from '../../src/compose/rootfs/delta.js';
import { INSTALL_RECIPE } from '../../src/compose/rootfs/installed.js';
import { LocalRunner } from '../../src/docker/runner.js';
import type { LockedPackage } from '../../src/lock/types.js';
import { buildDeb, type FixturePackage } from '../support/debrepo.js';
import { useTempDirs } from './tmpdir.js';

const tempDir = useTempDirs('g3-delta-');

function pkg(name: string, version = '1.0-1', salt = ''): LockedPackage {
  return {
    name,
    version,
    architecture: 'amd64',
    filename: `pool/main/${name[0]}/${name}/${name}_${version}_amd64.deb`,
    size: 1000,
    sha256: createHash('sha256').update(`${name} ${version}${salt}`).digest('hex'),
    repository: 'main',
  };
}

const AT = { recipe: INSTALL_RECIPE, chroot: 'c'.repeat(64), epoch: 1_760_000_000 };
const candidate = (key: string, packages: LockedPackage[], { used = 0, ...at }: { used?: number } & Partial<typeof AT> = {}): DeltaCandidate => ({
  key: key.repeat(64),
  contents: { ...AT, ...at, packages: packages.map(packageLine).sort() },
  used,
});

describe('deltaStarts', () => {
  const [bash, less, file, curl] = [pkg('bash'), pkg('less'), pkg('file'), pkg('curl')] as [LockedPackage, LockedPackage, LockedPackage, LockedPackage];
  const want = [bash, less, file, curl];

  it('starts from the snapshot with the most locked packages and adds only the missing ones, by name', () => {
    const starts = deltaStarts([candidate('a', [bash]), candidate('b', [bash, less]), candidate('d', [bash, curl, less])], AT, want);
    expect(starts.map((s) => [s.key[0], s.kept, s.add.map((p) => p.name)])).toEqual([
      ['d', 3, ['file']],
      ['b', 2, ['curl', 'file']],
      ['a', 1, ['curl', 'file', 'less']],
    ]);
  });

  it('prefers the most recently used, then the lower key, among snapshots of the same overlap', () => {
    const starts = deltaStarts(
      [candidate('e', [bash, less], { used: 5 }), candidate('b', [bash, file], { used: 9 }), candidate('a', [bash, curl], { used: 5 })],
      AT,
      want,
    );
    expect(starts.map((s) => s.key[0])).toEqual(['b', 'a', 'e']);
  });

  it.each([
    ['holds a package the lock lacks (a removal)', candidate('a', [bash, pkg('nano')])],
    ['holds another version of a locked package', candidate('a', [bash, pkg('less', '2.0-1')])],
    ['holds another file of the same version', candidate('a', [bash, pkg('less', '1.0-1', 'rebuilt')])],
    ['was made on another chroot', candidate('a', [bash], { chroot: 'd'.repeat(64) })],
    ['was made by another install recipe', candidate('a', [bash], { recipe: AT.recipe - 1 })],
    ['was installed at another SOURCE_DATE_EPOCH (another Release date)', candidate('a', [bash], { epoch: AT.epoch + 86_400 })],
    ['already holds every locked package', candidate('a', want)],
  ])('is not a start when the snapshot %s', (_, c) => {
    expect(deltaStarts([c], AT, want)).toEqual([]);
  });

  it('has no start without snapshots', () => {
    expect(deltaStarts([], AT, want)).toEqual([]);
  });

  it('drops the starts that would add a package making system users, keeping the order of the rest', () => {
    const starts = deltaStarts([candidate('a', [bash]), candidate('b', [bash, less, curl]), candidate('d', [bash, file, less])], AT, want);
    expect(starts.map((s) => s.key[0])).toEqual(['b', 'd', 'a']);
    expect(startsWithout(starts, new Set([packageLine(file)])).map((s) => s.key[0])).toEqual(['d']);
    expect(startsWithout(starts, new Set([packageLine(pkg('file', '9.9-1'))])).map((s) => s.key[0])).toEqual(['b', 'd', 'a']);
    expect(startsWithout(starts, new Set([packageLine(curl), packageLine(file)]))).toEqual([]);
  });
});

describe('makesUsers', () => {
  it.each([
    ['a postinst that calls adduser', '#!/bin/sh\nadduser --system --group foo\n', true],
    ['a postinst that calls useradd', 'if ! getent passwd foo; then useradd -r foo; fi\n', true],
    ['a postinst that runs systemd-sysusers', 'systemd-sysusers ${DPKG_ROOT:+--root="$DPKG_ROOT"} foo.conf\n', true],
    ['a sysusers.d file among its files', './usr/bin/foo\n./usr/lib/sysusers.d/foo.conf\n', true],
    ['a sysusers.d file in its md5sums', '0123456789abcdef0123456789abcdef  usr/lib/sysusers.d/foo.conf\n', true],
    ['md5sums of plain files', '0123456789abcdef0123456789abcdef  usr/bin/foo\n', false],
    ['plain maintainer scripts and files', '#!/bin/sh\nset -e\nldconfig\n./usr/bin/file\n./usr/share/man/man1/file.1.gz\n', false],
    ['a word that only contains a command name', 'my-adduser-helper-docs\n', false],
  ])('%s: %s', (_, text, expected) => {
    expect(makesUsers(text)).toBe(expected);
  });
});

describe('packagesMakingUsers', () => {
  it('reads the maintainer scripts and file lists of real .deb files', async () => {
    const dir = await tempDir();
    const fixtures: FixturePackage[] = [
      { name: 'makes-user', version: '1.0', files: { 'DEBIAN/postinst': '#!/bin/sh\nset -e\nadduser --system --no-create-home g3svc\n' } },
      { name: 'has-sysusers', version: '1.0', files: { 'usr/lib/sysusers.d/g3.conf': 'u g3svc - "g3 service"\n' } },
      { name: 'plain-leaf', version: '1.0', files: { 'DEBIAN/postinst': '#!/bin/sh\nset -e\nldconfig\n', 'usr/bin/plain-leaf': '#!/bin/sh\n' } },
      // Found in md5sums (which here names a file the data lacks: it is md5sums that was read).
      {
        name: 'sysusers-in-md5sums',
        version: '1.0',
        files: { 'usr/bin/b': '#!/bin/sh\n', 'DEBIAN/md5sums': `${createHash('md5').update('b').digest('hex')}  usr/lib/sysusers.d/g3b.conf\n` },
      },
      { name: 'plain-md5sums', version: '1.0', files: { 'usr/bin/plain': '#!/bin/sh\n', 'DEBIAN/md5sums': `${'0'.repeat(32)}  usr/bin/plain\n` } },
    ];
    const locked: LockedPackage[] = [];
    for (const f of fixtures) {
      const deb = await buildDeb(dir, f);
      locked.push({ ...pkg(f.name, f.version), filename: `pool/main/x/${f.name}/${path.basename(deb.file)}`, sha256: deb.sha256 });
    }
    const found = await packagesMakingUsers(new LocalRunner(), dir, locked);
    expect(found.map((p) => p.name)).toEqual(['makes-user', 'has-sysusers', 'sysusers-in-md5sums']);
  });
});
