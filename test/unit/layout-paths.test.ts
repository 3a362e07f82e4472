// The one module that names the toolkit's paths and locks: what builds write
// and what the admin commands look for come from the same functions.
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import {
  defaultLogFile,
  holdName,
  holdsDir,
  imageBuildDir,
  imageBuildLock,
  imageOfBuildLock,
  installedPaths,
  isHoldName,
  isProviderHold,
  itemLockPath,
  lastUsePath,
  metadataDir,
  packageDir,
  packagesRoot,
  pipelineStateDir,
  providerHoldPath,
  sharedPackagesRoot,
  snapshotPaths,
  stampPath,
  toolsSection,
} from '../../src/layout/paths.js';

describe('paths under cache_dir and in a tier', () => {
  it('puts packages, metadata and the shared package cache where the docs say', () => {
    expect(packagesRoot('/c')).toBe('/c/pkgCache');
    expect(packageDir('/c', 'debian-debian13-x86_64')).toBe('/c/pkgCache/debian-debian13-x86_64');
    expect(metadataDir('/c')).toBe('/c/repoCache');
    expect(sharedPackagesRoot('/s')).toBe('/s/pkgCache');
    expect(toolsSection('p')).toBe('composer-p');
  });

  it('keeps a tier bookkeeping in hidden folders beside the sections', () => {
    expect(stampPath('/t', 'sec', 'f.deb')).toBe('/t/.g3-stamps/sec/f.deb');
    expect(itemLockPath('/t', 'sec', 'f.deb')).toBe('/t/.g3-locks/sec/f.deb.lock');
    expect(lastUsePath('/t', 'sec/f.deb')).toBe('/t/.g3-used/sec/f.deb');
    expect(holdsDir('/t', 'sec')).toBe('/t/.g3-locks/.runs/sec');
  });

  it('recognises holds by their lock suffix, and not the lock scratch beside them', () => {
    const name = holdName(42, 'ab12cd34');
    expect(name).toBe('cache-42-ab12cd34.lock');
    expect(isHoldName(name)).toBe(true);
    expect.soft(isHoldName('cache-42-ab12cd34.lock.new-00ff')).toBe(false);
    expect.soft(isHoldName('.hidden.lock')).toBe(false);
    expect.soft(isHoldName('cache-42-ab12cd34')).toBe(false);
  });
});

describe('paths under work_dir', () => {
  it('places the chroot, its snapshot, its repository and the installed snapshots under the provider', () => {
    const s = snapshotPaths('/w', 'p');
    expect(s).toEqual({
      chrootEnv: '/w/p/chrootenv',
      tarball: '/w/p/chrootbuild/chrootenv.tar.gz',
      stamp: '/w/p/chrootbuild/chrootenv.json',
      lockDir: '/w/p/chrootbuild/.lock',
      repoDir: '/w/p/chrootbuild/repo',
    });
    const key = 'a'.repeat(64);
    expect(installedPaths('/w', 'p', key)).toEqual({
      dir: '/w/p/chrootbuild/installed',
      tarball: `/w/p/chrootbuild/installed/${key}.tar.zst`,
      stamp: `/w/p/chrootbuild/installed/${key}.json`,
      lockDir: s.lockDir,
    });
  });

  it('finds an image build from its lock, and nothing else', () => {
    const dir = imageBuildDir('/w', 'p', 'minimal');
    expect(dir).toBe('/w/p/imagebuild/minimal');
    expect(imageBuildLock(dir)).toBe('/w/p/imagebuild/minimal.lock');
    expect(imageOfBuildLock('minimal.lock')).toBe('minimal');
    expect.soft(imageOfBuildLock('minimal')).toBeUndefined();
    expect.soft(imageOfBuildLock('minimal.lock.new-0a1b')).toBeUndefined();
    expect.soft(imageOfBuildLock('.hidden.lock')).toBeUndefined();
  });

  it.each(['', '.x', 'a/b', '..', 'x.lock'])('refuses %j as an image name: it cannot name a build folder that is not a lock', (name) => {
    expect(() => imageBuildDir('/w', 'p', name)).toThrow(UserError);
  });

  it('names a provider hold so the admin commands can tell it from an image build lock', () => {
    const hold = providerHoldPath('/w', 'p', 7, '0a0b0c0d');
    expect(hold).toBe('/w/p/imagebuild/build-7-0a0b0c0d.lock');
    expect(isProviderHold('build-7-0a0b0c0d.lock')).toBe(true);
    expect(isProviderHold('minimal.lock')).toBe(false);
  });

  it('escapes any target name into one path element for the pipeline state', () => {
    expect(pipelineStateDir('/w', 'latest')).toBe('/w/.g3-pipeline/latest');
    expect(pipelineStateDir('/w', '../x')).toBe('/w/.g3-pipeline/%2E%2E%2Fx');
    expect(() => pipelineStateDir('/w', '')).toThrow(UserError);
    expect(defaultLogFile('/w')).toBe('/w/logs/g3-composer.log');
  });
});
