// The choice of a directory in memory for a scratch tree: a tmpfs with room,
// without nodev or noexec, on a machine with memory to spare.
import { describe, expect, it } from 'vitest';
import { memoryDir, memoryDirFits, mountOptions } from '../../src/fs/memory-dir.js';

const GiB = 1024 ** 3;
const tmpfs = { type: 0x01021994, freeBytes: 12 * GiB, options: ['rw', 'nosuid', 'relatime'], freeMemory: 20 * GiB };

describe('memoryDirFits', () => {
  it.each([
    ['a roomy tmpfs (nosuid is fine)', tmpfs, true],
    ['a disk filesystem', { ...tmpfs, type: 0xef53 }, false],
    ['a tmpfs mounted nodev', { ...tmpfs, options: ['rw', 'nodev'] }, false],
    ['a tmpfs mounted noexec', { ...tmpfs, options: ['rw', 'noexec'] }, false],
    ['a directory that is no mount point', { ...tmpfs, options: undefined }, false],
    ["a container's 64 MB /dev/shm", { ...tmpfs, freeBytes: 64 * 1024 * 1024 }, false],
    ['a machine with little free memory', { ...tmpfs, freeMemory: 1.5 * GiB }, false],
  ])('%s', (_, facts, expected) => {
    expect(memoryDirFits(facts, GiB)).toBe(expected);
  });
});

describe('mountOptions', () => {
  const mounts = [
    'proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0',
    'tmpfs /dev/shm tmpfs rw,nosuid,nodev,size=65536k 0 0',
    'tmpfs /dev/shm tmpfs rw,relatime,size=24683748k 0 0',
    '',
  ].join('\n');
  it('takes the mount listed last (the one in effect)', () => {
    expect(mountOptions(mounts, '/dev/shm')).toEqual(['rw', 'relatime', 'size=24683748k']);
  });
  it('gives undefined for a directory that is no mount point', () => {
    expect(mountOptions(mounts, '/tmp')).toBeUndefined();
  });
});

describe('memoryDir', () => {
  it('gives undefined for a directory that does not exist, never an error', async () => {
    expect(await memoryDir(GiB, '/nonexistent-g3-dir')).toBeUndefined();
  });
  it('gives undefined for a directory that is no tmpfs mount (here the test folder)', async () => {
    expect(await memoryDir(1, process.cwd())).toBeUndefined();
  });
});
