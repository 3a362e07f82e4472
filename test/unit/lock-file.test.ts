import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { lockMismatch, lockPathFor, readLock, requestDigest, writeLock } from '../../src/lock/file.js';
import { LOCK_VERSION, type LockFile, type LockRequest } from '../../src/lock/types.js';
import { useTempDirs } from './tmpdir.js';

const request: LockRequest = {
  providerId: 'debian-debian13-x86_64',
  arch: 'amd64',
  repositories: [{ id: 'trixie', codename: 'trixie', components: ['main'], priority: 500, trusted: false }],
  packages: ['bash', 'iproute2'],
  tools: ['mtools'],
};

function sampleLock(over: Partial<LockFile> = {}): LockFile {
  const pkg = {
    name: 'bash',
    version: '5.2.37-2',
    architecture: 'amd64',
    filename: 'pool/main/b/bash/bash_5.2.37-2_amd64.deb',
    size: 10,
    sha256: 'a'.repeat(64),
    repository: 'trixie',
    depends: [],
  };
  const set = { requested: ['bash'], base: 'required' as const, baseSet: [], packages: [pkg], installOrder: ['bash'] };
  return {
    lockVersion: LOCK_VERSION,
    target: 't',
    providerId: request.providerId,
    arch: 'amd64',
    requestDigest: requestDigest(request),
    request,
    repositories: [
      {
        id: 'trixie',
        url: 'http://127.0.0.1:1/debian',
        codename: 'trixie',
        components: ['main'],
        priority: 500,
        trusted: false,
        release: { sha256: 'b'.repeat(64), size: 1 },
        indexes: [],
      },
    ],
    image: set,
    tools: { ...set, base: 'essential', packages: [] },
    ...over,
  };
}

describe('lock file', () => {
  const tmp = useTempDirs();

  it('lives next to the targets file, named after the target', () => {
    expect(lockPathFor('/p/docker/targets.yml', 'latest')).toBe('/p/docker/latest.lock.json');
  });

  it('round-trips through writeLock and readLock', async () => {
    const file = path.join(await tmp(), 'x.lock.json');
    await writeLock(file, sampleLock());
    expect(await readLock(file)).toEqual(sampleLock());
    expect((await readFile(file, 'utf8')).endsWith('}\n')).toBe(true);
  });

  it('reads a missing lock as undefined', async () => {
    expect(await readLock(path.join(await tmp(), 'none.lock.json'))).toBeUndefined();
  });

  it.each<[string, (l: LockFile) => unknown, RegExp]>([
    ['bad JSON', () => '{', /not valid JSON/],
    ['another version', (l) => ({ ...l, lockVersion: 99 }), /lockVersion 99 is not supported/],
    [
      'a package without sha256',
      (l) => ({ ...l, image: { ...l.image, packages: [{ ...l.image.packages[0], sha256: 'x' }] } }),
      /image\.packages\[0\] is incomplete/,
    ],
    [
      'a filename escaping the repository',
      (l) => ({ ...l, image: { ...l.image, packages: [{ ...l.image.packages[0], filename: 'pool/../../etc/passwd' }] } }),
      /not a relative pool path/,
    ],
    [
      'an absolute filename',
      (l) => ({ ...l, image: { ...l.image, packages: [{ ...l.image.packages[0], filename: '/etc/passwd' }] } }),
      /not a relative pool path/,
    ],
    [
      'a filename naming one of our graphs',
      (l) => ({ ...l, image: { ...l.image, packages: [{ ...l.image.packages[0], filename: 'pool/main/latest.dot' }] } }),
      /not a relative pool path: it does not name a \.deb file/,
    ],
    [
      'a package name with a shell metacharacter',
      (l) => ({ ...l, image: { ...l.image, packages: [{ ...l.image.packages[0], name: 'bash;reboot' }] } }),
      /image\.packages\[0\]: Package "bash;reboot" is not a Debian package name/,
    ],
    [
      'a version with a space',
      (l) => ({ ...l, image: { ...l.image, packages: [{ ...l.image.packages[0], version: '1.0 $(id)' }] } }),
      /Version "1\.0 \$\(id\)" has characters outside/,
    ],
    [
      'an unknown repository',
      (l) => ({ ...l, image: { ...l.image, packages: [{ ...l.image.packages[0], repository: 'nope' }] } }),
      /repository nope is not listed/,
    ],
  ])('refuses a lock with %s, naming the problem', async (_name, mutate, message) => {
    const file = path.join(await tmp(), 'bad.lock.json');
    const v = mutate(sampleLock());
    await writeFile(file, typeof v === 'string' ? v : JSON.stringify(v));
    await expect(readLock(file)).rejects.toThrow(message);
  });

  it('matches the request it was made for, whatever the key order', () => {
    const reordered = JSON.parse(
      JSON.stringify({
        tools: request.tools,
        packages: request.packages,
        arch: request.arch,
        repositories: request.repositories,
        providerId: request.providerId,
      }),
    ) as LockRequest;
    expect(lockMismatch(sampleLock(), reordered)).toBeUndefined();
  });

  it.each<[string, Partial<LockRequest>, string]>([
    ['an added package', { packages: ['bash', 'iproute2', 'less'] }, 'packages added: less'],
    ['a removed package', { packages: ['bash'] }, 'packages removed: iproute2'],
    ['another tool', { tools: ['zstd'] }, 'tools added: zstd; tools removed: mtools'],
    [
      'a repository change',
      { repositories: [{ id: 'trixie', codename: 'trixie', components: ['main', 'contrib'], priority: 500, trusted: false }] },
      'repositories changed',
    ],
    ['another provider', { providerId: 'debian-debian12-x86_64' }, 'provider debian-debian13-x86_64 → debian-debian12-x86_64'],
  ])('explains a mismatch after %s', (_name, change, words) => {
    expect(lockMismatch(sampleLock(), { ...request, ...change })).toContain(words);
  });
});
