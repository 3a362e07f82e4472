// The compose stage for real: the CLI builds a disk image with a real Docker
// daemon (base image from the package cache, composer image with BuildKit,
// stages in a build container) from the Debian 13 template plus a user, sudo,
// an additional file and a configuration command. The image is read without
// mounting it: sfdisk --json for the partitions, debugfs for the root
// filesystem. Packages come from the host's mirror once, then from the
// test's own package cache (never the project's ./cache).
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { hashFile } from '../../src/fs/hash.js';
import { parseDpkgStatus } from '../../src/deb/status.js';
import { run } from '../../src/exec.js';
import type { LockFile } from '../../src/lock/types.js';
import { buildComposerImage } from '../../src/compose/images/composer-image.js';
import { fallbackSources } from '../../src/compose/images/fallback.js';
import { detectClient } from '../../src/docker/client.js';
import { Docker } from '../../src/docker/docker.js';
import { StepError } from '../../src/errors.js';
import { disposeKey, makeSigningKey, resignWith, writeRepo } from '../support/debrepo.js';
import { startOrigin } from '../support/origin.js';
import { Ajv } from 'ajv';
import { pipelineStateDir } from '../../src/layout/paths.js';
import { collect, ROOT, type RunResult, runBuilder, runScript, startBuilder } from '../support/project.js';

const PROVIDER = 'debian-debian13-x86_64';
// The official SPDX 2.3 JSON schema (see test/support/spdx-2.3-schema.json).
const validateSpdx = new Ajv({ allErrors: true }).compile(JSON.parse(await readFile(new URL('../support/spdx-2.3-schema.json', import.meta.url), 'utf8')));
const LONG = 900_000;
const DOCKER = '/usr/bin/docker';

interface BuildJson {
  cache: { downloads: number };
  base: { outcome: string };
  compose: { image: string; snapshot: string; installed: string; packages: number; timings: Record<string, number> };
  scratch: string;
}

interface SfdiskPartition {
  start: number;
  size: number;
  type: string;
  name: string;
}

const template = (name: string, extra: string[] = []) =>
  [
    'image: {name: g3-itest, version: "0.1"}',
    'target: {os: debian, dist: debian13, arch: x86_64, imageType: raw}',
    'systemConfig:',
    `  name: ${name}`,
    '  hostname: g3-itest',
    '  packages: [ca-certificates, iproute2, less, sudo]',
    '  users:',
    '    - {name: tester, password: "not-a-real-secret", groups: [sudo, adm], sudo: true}',
    // OS Image Composer's user keys; root exists already and is changed in place.
    '    - {name: ops, shell: /bin/sh, home: /srv/ops, passwordMaxAge: 90, startupScript: /usr/local/bin/hello}',
    '    - {name: root, startupScript: /root/installer}',
    // OS Image Composer's declarative network, with systemd-networkd.
    '  network:',
    '    backend: systemd-networkd',
    '    interfaces:',
    '      - {name: enp1s0, dhcp4: true}',
    '      - {name: enp2s0, addresses: [10.0.0.100/24], routes: [{to: default, via: 10.0.0.1}], nameservers: [10.0.0.1]}',
    '  additionalFiles:',
    '    - {local: files/motd, final: /etc/motd}',
    '  configurations:',
    '    - cmd: "echo configured-in-chroot > /etc/g3-built"',
    ...extra,
  ].join('\n');

describe('compose stage with a real Docker daemon', () => {
  let dir: string;
  let env: Record<string, string>;
  const file = (...p: string[]) => path.join(dir, ...p);
  const work = () => file('work', PROVIDER);
  const tarball = () => path.join(work(), 'chrootbuild', 'chrootenv.tar.gz');
  const installedDir = () => path.join(work(), 'chrootbuild', 'installed');
  /** The installed-package snapshots: tarball and stamp pairs by key. */
  const installedSnapshots = async () => {
    const names = (await readdir(installedDir()).catch(() => [] as string[])).sort();
    return { names, keys: [...new Set(names.map((n) => n.split('.')[0]))] };
  };
  const expectStampVerifies = async (tar: string, stampFile: string) => {
    const stamp = JSON.parse(await readFile(stampFile, 'utf8')) as { sha256: string; size: number };
    expect(await hashFile(tar)).toEqual({ sha256: stamp.sha256, size: stamp.size });
  };
  const build = async (target: string, ...flags: string[]): Promise<{ r: RunResult; json: BuildJson }> => {
    // --rebuild: each test exercises the stages; the output cache has its own test.
    const r = await runBuilder([target, 'build', '--json', '--rebuild', ...flags], env);
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    return { r, json: JSON.parse(r.stdout) as BuildJson };
  };
  const readLock = async (target: string) => JSON.parse(await readFile(file(`${target}.lock.json`), 'utf8')) as LockFile;

  /** Run debugfs on the partition at `offset` bytes of `image`: it reads the filesystem without mounting it. */
  const debugfs = async (image: string, offset: number, request: string): Promise<string> => {
    const r = await run({ command: 'debugfs', args: ['-R', request, `${image}?offset=${offset}`] }, { package: 'e2fsprogs' });
    return r.stdout;
  };
  const partitions = async (image: string): Promise<SfdiskPartition[]> => {
    const r = await run({ command: 'sfdisk', args: ['--json', image] }, { package: 'fdisk' });
    return (JSON.parse(r.stdout) as { partitiontable: { partitions: SfdiskPartition[] } }).partitiontable.partitions;
  };
  const rootOffset = async (image: string) => ((await partitions(image))[1]?.start ?? 0) * 512;
  const installed = async (image: string) => parseDpkgStatus(await debugfs(image, await rootOffset(image), 'cat /var/lib/dpkg/status'));
  const expectExactlyLocked = async (image: string, lock: LockFile) => {
    const got = (await installed(image)).map((p) => `${p.name} ${p.version} ${p.state}`).sort();
    expect(got).toEqual(lock.image.packages.map((p) => `${p.name} ${p.version} installed`).sort());
  };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'g3-compose-'));
    for (const f of ['Dockerfile', '.dockerignore']) await copyFile(path.join(ROOT, 'docker', f), file(f));
    const tools = (parseYaml(await readFile(path.join(ROOT, 'docker', 'targets.yml'), 'utf8')) as { targets: { latest: { tools: string[] } } }).targets.latest
      .tools;
    await mkdir(file('templates', 'files'), { recursive: true });
    await writeFile(file('templates', 'files', 'motd'), 'built by the g3-composer integration test\n');
    await writeFile(file('templates', 'img.yml'), template('itest'));
    // `other` also asks for a zstd-compressed qcow2 beside the raw image: the default disk layout (a user disk
    // replaces it whole) with artifacts added.
    const defaults = parseYaml(await readFile(path.join(ROOT, 'defaults', 'templates', `${PROVIDER}-raw.yml`), 'utf8')) as { disk: Record<string, unknown> };
    const otherDisk = stringifyYaml({ disk: { ...defaults.disk, artifacts: [{ type: 'raw' }, { type: 'qcow2', compression: 'zstd' }] } });
    await writeFile(file('templates', 'other.yml'), `${template('itest-other')}\n${otherDisk}`);
    await writeFile(file('templates', 'broken.yml'), template('itest-broken', ['    - cmd: "echo about-to-fail; echo on-stderr >&2; exit 3"']));
    const targets = ['img', 'other', 'broken'].map((t) => `  ${t}:\n    template: templates/${t}.yml\n    tools: [${tools.join(', ')}]`);
    await writeFile(file('targets.yml'), `targets:\n${targets.join('\n')}\n`);
    env = {
      G3_TARGETS: file('targets.yml'),
      G3_CACHE_DIR: file('cache'),
      G3_WORK_DIR: file('work'),
      SHARED_G3_CACHE_PATH: '',
      G3_DOCKER_CLIENT: DOCKER,
    };
  }, LONG);
  afterAll(async () => {
    if (dir) await run({ command: 'rm', args: ['-rf', dir] }, { reject: false });
  });

  it('builds the image from an empty work directory: partitions as the template says, hostname, users, files and exactly the locked packages', {
    timeout: LONG,
  }, async () => {
    const { json } = await build('img');
    expect(json.compose.snapshot).toBe('created');
    expect(json.compose.installed).toBe('created');
    expect(['tmpfs', 'disk']).toContain(json.scratch);
    // One installed-package snapshot, a tarball and the stamp that vouches for it.
    const snaps = await installedSnapshots();
    expect(snaps.keys).toHaveLength(1);
    expect(snaps.names).toEqual([`${snaps.keys[0]}.json`, `${snaps.keys[0]}.tar.zst`]);
    await expectStampVerifies(path.join(installedDir(), `${snaps.keys[0]}.tar.zst`), path.join(installedDir(), `${snaps.keys[0]}.json`));
    const image = json.compose.image;
    expect(image).toBe(path.join(work(), 'imagebuild', 'itest', 'g3-itest-0.1.raw'));
    expect((await stat(image)).size).toBe(4 * 1024 ** 3);
    // The default template's disk: ESP 1MiB-513MiB, root from 513MiB to the last usable GPT sector (the last 33 hold the backup GPT).
    const parts = await partitions(image);
    const sectors = (4 * 1024 ** 3) / 512;
    expect(parts.map((p) => [p.name, p.start, p.size, p.type])).toEqual([
      ['esp', 2048, 1048576, 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B'],
      ['root', 1050624, sectors - 33 - 1050624, '4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709'],
    ]);
    const root = await rootOffset(image);
    expect((await debugfs(image, root, 'cat /etc/hostname')).trim()).toBe('g3-itest');
    expect(await debugfs(image, root, 'cat /etc/passwd')).toMatch(/^tester:x:\d+:\d+:.*:\/home\/tester:\/bin\/bash$/m);
    const shadow = await debugfs(image, root, 'cat /etc/shadow');
    expect(shadow).toMatch(/^tester:\$6\$[^:]+:/m);
    expect(shadow).not.toContain('not-a-real-secret');
    expect(await debugfs(image, root, 'cat /etc/group')).toMatch(/^sudo:x:\d+:.*\btester\b/m);
    expect(await debugfs(image, root, 'cat /etc/sudoers.d/90-g3-tester')).toContain('tester ALL=(ALL:ALL) ALL');
    expect(await debugfs(image, root, 'cat /etc/passwd')).toMatch(/^ops:x:\d+:\d+:.*:\/srv\/ops:\/bin\/sh$/m);
    // Field 5 of /etc/shadow: the maximum password age in days.
    expect(shadow).toMatch(/^ops:[^:]*:[^:]*:[^:]*:90:/m);
    for (const [profile, script] of [
      ['/srv/ops/.profile', '/usr/local/bin/hello'],
      ['/root/.profile', '/root/installer'],
    ])
      expect(await debugfs(image, root, `cat ${profile}`)).toContain(`if [ -t 0 ] && [ -x '${script}' ]; then '${script}'; fi`);
    expect(await debugfs(image, root, 'cat /etc/systemd/network/10-g3-enp1s0.network')).toBe('[Match]\nName=enp1s0\n\n[Network]\nDHCP=ipv4');
    expect(await debugfs(image, root, 'cat /etc/systemd/network/10-g3-enp2s0.network')).toBe(
      '[Match]\nName=enp2s0\n\n[Network]\nDHCP=no\nAddress=10.0.0.100/24\nDNS=10.0.0.1\n\n[Route]\nGateway=10.0.0.1',
    );
    // Only the declared interfaces: no catch-all DHCP file; systemd-networkd enabled.
    expect(await debugfs(image, root, 'ls -l /etc/systemd/network')).not.toContain('80-g3-dhcp.network');
    expect(await debugfs(image, root, 'stat /etc/systemd/system/multi-user.target.wants/systemd-networkd.service')).toMatch(/Type: symlink/);
    // (run() drops the final newline of a command's output)
    expect(await debugfs(image, root, 'cat /etc/motd')).toBe('built by the g3-composer integration test');
    expect((await debugfs(image, root, 'cat /etc/g3-built')).trim()).toBe('configured-in-chroot');
    expect(await debugfs(image, root, 'cat /etc/fstab')).toMatch(/^PARTUUID=[0-9a-f-]{36}\t\/\t+ext4/m);
    // The build's scaffolding is gone, and nothing of the local repository stays in the image.
    expect(await debugfs(image, root, 'ls /etc/apt/sources.list.d')).not.toContain('g3-local');
    await expect(stat(path.join(work(), 'imagebuild', 'itest', 'rootfs'))).rejects.toThrow();
    // Mount points made for the build's repositories (host paths under /tmp here) are gone from the image too.
    const names = (listing: string) =>
      listing
        .split('\n')
        .map((l) => l.split('/')[5])
        .filter((n) => n && n !== '.' && n !== '..');
    expect(names(await debugfs(image, root, 'ls -p /tmp'))).toEqual([]);
    // (the package cache was bind-mounted at its host path; debugfs prints nothing for a missing path)
    expect(await debugfs(image, root, `stat ${env.G3_CACHE_DIR}`)).toBe('');
    expect(await debugfs(image, root, 'stat /etc')).toContain('Type: directory');
    await expectExactlyLocked(image, await readLock('img'));
    // The SBOM: beside the image and inside it, the same bytes, valid SPDX 2.3, every locked package with its .deb SHA256.
    const sbomText = await readFile(path.join(work(), 'imagebuild', 'itest', 'g3-itest-0.1.spdx.json'), 'utf8');
    expect(await debugfs(image, root, 'cat /usr/share/sbom/g3-itest-0.1.spdx.json')).toBe(sbomText.replace(/\n$/, ''));
    const sbom = JSON.parse(sbomText) as {
      packages: Array<{ name: string; versionInfo?: string; checksums?: Array<{ algorithm: string; checksumValue: string }> }>;
    };
    expect(validateSpdx(sbom), JSON.stringify(validateSpdx.errors?.slice(0, 3))).toBe(true);
    const lock = await readLock('img');
    const listed = new Map(sbom.packages.map((p) => [`${p.name} ${p.versionInfo}`, p.checksums?.find((c) => c.algorithm === 'SHA256')?.checksumValue]));
    for (const p of lock.image.packages) expect(listed.get(`${p.name} ${p.version}`), p.name).toBe(p.sha256);
    // The manifest names every output with its size and SHA256, and the inputs' digests.
    const manifest = JSON.parse(await readFile(path.join(work(), 'imagebuild', 'itest', 'g3-itest-0.1.manifest.json'), 'utf8')) as {
      providerId: string;
      inputs: { lock: { requestDigest: string } };
      outputs: Array<{ file: string; kind: string; size: number; sha256: string }>;
    };
    expect(manifest.providerId).toBe(PROVIDER);
    expect(manifest.inputs.lock.requestDigest).toBe(lock.requestDigest);
    expect(manifest.outputs.map((o) => o.file).sort()).toEqual(['g3-itest-0.1.raw', 'g3-itest-0.1.spdx.json']);
    for (const o of manifest.outputs) expect(await hashFile(path.join(work(), 'imagebuild', 'itest', o.file))).toEqual({ sha256: o.sha256, size: o.size });
  });

  it('builds again: the installed packages are unpacked from their snapshot, nothing is rewritten or downloaded, the image is made anew', {
    timeout: LONG,
  }, async () => {
    const { keys } = await installedSnapshots();
    const installedTar = path.join(installedDir(), `${keys[0]}.tar.zst`);
    const before = await Promise.all([stat(tarball()), stat(installedTar)]);
    const { json: first } = await build('img');
    const imageBefore = await stat(first.compose.image);
    const { json } = await build('img');
    expect(json.compose.installed).toBe('reused');
    // Neither the chroot nor apt was needed.
    expect(json.compose.snapshot).toBe('not needed');
    expect(json.compose.timings.chroot).toBeUndefined();
    expect(json.cache.downloads).toBe(0);
    const after = await Promise.all([stat(tarball()), stat(installedTar)]);
    expect(after.map((a) => [a.ino, a.mtimeMs])).toEqual(before.map((b) => [b.ino, b.mtimeMs]));
    const imageAfter = await stat(json.compose.image);
    expect(imageAfter.ino === imageBefore.ino && imageAfter.mtimeMs === imageBefore.mtimeMs).toBe(false);
    await expectExactlyLocked(json.compose.image, await readLock('img'));
    expect((await debugfs(json.compose.image, await rootOffset(json.compose.image), 'cat /etc/hostname')).trim()).toBe('g3-itest');
  });

  it('answers an unchanged build from its outputs (output cache): nothing built while their stamps hold; the image made again when gone; a touched output builds again', {
    timeout: LONG,
  }, async () => {
    type Reused = BuildJson & {
      reused?: { builtAt: string; inputsDigest: string; image: string };
      image: { id: string; refs: string[] };
      compose: { artifacts: { path: string; sha256: string }[] };
    };
    const plain = async () => {
      const r = await runBuilder(['img', 'build', '--json'], env);
      expect(r.code, r.stderr.slice(-3000)).toBe(0);
      return { r, json: JSON.parse(r.stdout) as Reused };
    };
    // The test before built img last (with --rebuild): its record is what an unchanged build answers from.
    const record = JSON.parse(await readFile(path.join(pipelineStateDir(file('work'), 'img'), 'build.json'), 'utf8')) as {
      reuse: { result: Reused; carrier: { imageId: string } };
      image: { id: string; refs: string[] };
    };
    const last = { ...record.reuse.result, image: record.image };
    const hit = await plain();
    expect(hit.json.reused).toMatchObject({ image: 'kept', inputsDigest: expect.stringMatching(/^sha256:/) });
    // Nothing was built: no build container, the same files and image as the build before.
    expect(hit.r.stderr).not.toContain('compose stages in');
    expect(hit.json.compose.artifacts.map((a) => [a.path, a.sha256])).toEqual(last.compose.artifacts.map((a) => [a.path, a.sha256]));
    expect(hit.json.image.id).toBe(last.image.id);
    expect((await stat(hit.json.compose.image)).mtimeMs).toBe((await stat(last.compose.image)).mtimeMs);

    // The image gone: made again from the same outputs, with the same id.
    for (const ref of last.image.refs) await run({ command: 'docker', args: ['image', 'rm', '-f', ref] }, { reject: false });
    const remade = await plain();
    expect(remade.json.reused?.image).toBe('made again');
    expect(remade.r.stderr).not.toContain('compose stages in');
    expect(remade.json.image.id).toBe(last.image.id);

    // An output written since (its mtime moved): built again, from the installed-package snapshot.
    const now = new Date();
    await utimes(last.compose.image, now, now);
    const rebuilt = await plain();
    expect(rebuilt.json.reused).toBeUndefined();
    // With --json the info lines go to the run log only.
    expect(await readFile(file('work', 'logs', 'g3-composer.log'), 'utf8')).toContain('was written or replaced since the last build: building again');
    expect(rebuilt.json.compose.installed).toBe('reused');
    expect(rebuilt.json.compose.artifacts.map((a) => a.sha256)).toEqual(last.compose.artifacts.map((a) => a.sha256));
  });

  it('detects a truncated installed-package snapshot, installs the packages again and replaces it', { timeout: LONG }, async () => {
    const { keys } = await installedSnapshots();
    const installedTar = path.join(installedDir(), `${keys[0]}.tar.zst`);
    await truncate(installedTar, Math.floor((await stat(installedTar)).size / 2));
    const { r, json } = await build('img');
    expect(json.compose.installed).toBe('rebuilt: snapshot damaged');
    expect(json.compose.snapshot).toBe('reused');
    expect(r.stderr).toContain('installed-package snapshot');
    expect(r.stderr).toContain('does not match its stamp');
    await expectStampVerifies(installedTar, path.join(installedDir(), `${keys[0]}.json`));
    await expectExactlyLocked(json.compose.image, await readLock('img'));
  });

  it('rebuilds the chroot snapshot by itself when the base package set changes, and installs into it', { timeout: LONG }, async () => {
    const lock = await readLock('img');
    expect(lock.image.baseSet).not.toContain('less');
    lock.image.baseSet = [...lock.image.baseSet, 'less'].sort();
    await writeFile(file('img.lock.json'), `${JSON.stringify(lock, null, 2)}\n`);
    const { json } = await build('img');
    expect(json.compose.snapshot).toBe('rebuilt: base set changed');
    // A new base set is a new key for the installed packages too.
    expect(json.compose.installed).toBe('created');
    expect((await installedSnapshots()).keys).toHaveLength(2);
    const stamp = JSON.parse(await readFile(path.join(work(), 'chrootbuild', 'chrootenv.json'), 'utf8')) as { packages: number };
    expect(stamp.packages).toBe(lock.image.baseSet.length);
    await expectExactlyLocked(json.compose.image, lock);
  });

  it('detects a truncated chroot snapshot and rebuilds it', { timeout: LONG }, async () => {
    // Without an installed-package snapshot for this lock, the chroot is needed.
    await rm(installedDir(), { recursive: true, force: true });
    const size = (await stat(tarball())).size;
    await truncate(tarball(), Math.floor(size / 2));
    const { r, json } = await build('img');
    expect(json.compose.snapshot).toBe('rebuilt: snapshot damaged');
    expect(json.compose.installed).toBe('created');
    expect(r.stderr).toContain('does not match its stamp');
    await expectStampVerifies(tarball(), path.join(work(), 'chrootbuild', 'chrootenv.json'));
  });

  it('assembles the root filesystem on disk with --scratch disk, from the same installed snapshot', { timeout: LONG }, async () => {
    const { json } = await build('img', '--scratch', 'disk');
    expect(json.scratch).toBe('disk');
    expect(json.compose.installed).toBe('reused');
    await expectExactlyLocked(json.compose.image, await readLock('img'));
    // The command trace (printed with --verbose, without --json) shows where it was unpacked.
    const traced = await runBuilder(['img', 'build', '--verbose', '--rebuild'], { ...env, G3_SCRATCH: 'disk' });
    expect(traced.code, traced.stderr.slice(-2000)).toBe(0);
    expect(traced.stderr).toContain(`-C ${path.join(work(), 'imagebuild', 'itest', 'rootfs')} -xf`);
    expect(traced.stderr).toContain('root filesystem on disk');
    const bad = await runBuilder(['img', 'build', '--scratch', 'ram'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('invalid scratch "ram" from --scratch (flag): expected one of auto, tmpfs, disk');
  });

  it('builds two targets of one provider at the same time: the chroot is made once and stays intact', { timeout: LONG }, async () => {
    // Lock `other` first so both builds race on the chroot, not on resolution, and give
    // `img` its resolved base set back (an earlier test added a package to it).
    expect((await runBuilder(['other', 'lock'], env)).code).toBe(0);
    const lock = await readLock('img');
    lock.image.baseSet = (await readLock('other')).image.baseSet;
    await writeFile(file('img.lock.json'), `${JSON.stringify(lock, null, 2)}\n`);
    await rm(path.join(work(), 'chrootbuild'), { recursive: true, force: true });
    const [a, b] = await Promise.all([
      collect(startBuilder(['img', 'build', '--json', '--rebuild'], env)),
      collect(startBuilder(['other', 'build', '--json', '--rebuild'], env)),
    ]);
    expect(a.code, a.stderr.slice(-2000)).toBe(0);
    expect(b.code, b.stderr.slice(-2000)).toBe(0);
    const outcomes = [a, b].map((r) => (JSON.parse(r.stdout) as BuildJson).compose.snapshot).sort();
    expect(outcomes).toEqual(['created', 'reused']);
    await expectStampVerifies(tarball(), path.join(work(), 'chrootbuild', 'chrootenv.json'));
    // Both targets have the same packages: one installed-package snapshot, intact, whichever build published it.
    const { keys } = await installedSnapshots();
    expect(keys).toHaveLength(1);
    await expectStampVerifies(path.join(installedDir(), `${keys[0]}.tar.zst`), path.join(installedDir(), `${keys[0]}.json`));
    for (const r of [a, b]) await expectExactlyLocked((JSON.parse(r.stdout) as BuildJson).compose.image, await readLock(r === a ? 'img' : 'other'));
    // `other`'s qcow2.zst holds the same disk as its raw image.
    const otherDir = path.join(work(), 'imagebuild', 'itest-other');
    const qcow2 = path.join(dir, 'other.qcow2');
    await run({ command: 'zstd', args: ['-d', '-q', '-f', '-o', qcow2, path.join(otherDir, 'g3-itest-0.1.qcow2.zst')] });
    const info = JSON.parse((await run({ command: 'qemu-img', args: ['info', '--output=json', qcow2] })).stdout) as { format: string; 'virtual-size': number };
    expect(info).toMatchObject({ format: 'qcow2', 'virtual-size': 4 * 1024 ** 3 });
    expect(
      (await run({ command: 'qemu-img', args: ['compare', '-f', 'qcow2', '-F', 'raw', qcow2, path.join(otherDir, 'g3-itest-0.1.raw')] }, { reject: false }))
        .exitCode,
    ).toBe(0);
  });

  it('fails the build on a failing configurations command, shows its output, and leaves no mounts or containers behind', { timeout: LONG }, async () => {
    // Through the Docker Hub hook, as an autobuild calls it: no arguments, the target in DOCKER_TAG.
    const r = await runScript(path.join(ROOT, 'hooks', 'build'), ['--verbose'], { ...env, DOCKER_TAG: 'broken', SOURCE_BRANCH: 'main' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('configurations[1] failed with exit code 3');
    expect(r.stderr).toContain('about-to-fail');
    expect(r.stderr).toContain('on-stderr');
    // Every pseudo-filesystem the stages mounted was unmounted (the commands are in the verbose trace) ...
    // (the root filesystem is in the container's tmpfs or in the image build directory, as memory allows)
    for (const m of ['/proc', '/sys', '/dev']) expect(r.stderr).toMatch(new RegExp(`umount -R (/g3-scratch|\\S*imagebuild/itest-broken)/rootfs${m} `));
    // ... nothing under the work directory is mounted on the host, and the build container is gone.
    const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
    expect(mountinfo).not.toContain(file('work'));
    const ps = await run({ command: DOCKER, args: ['ps', '-a', '--filter', 'label=org.g3-composer.target=broken', '--format', '{{json .}}'] });
    expect(ps.stdout.trim()).toBe('');
  });

  it('base makes the base image again from the package cache, labelled with the packages it was made from', { timeout: LONG }, async () => {
    const r = await runBuilder(['img', 'base', '--json'], env);
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    const json = JSON.parse(r.stdout) as { base: { ref: string; key: string; outcome: string; packages: number } };
    expect(json.base).toMatchObject({ ref: `g3-composer/base:${PROVIDER}`, outcome: 'created' });
    const lock = await readLock('img');
    // The Essential set the tools were resolved on, and apt for the composer image's fallback download.
    expect(json.base.packages).toBe(lock.tools.baseSet.length + 1);
    const apt = await run({ command: DOCKER, args: ['run', '--rm', '--network', 'none', json.base.ref, 'dpkg-query', '-W', '-f', '${Version}', 'apt'] });
    expect(apt.stdout).toBe(lock.image.packages.find((p) => p.name === 'apt')?.version);
    const inspect = await run({ command: DOCKER, args: ['image', 'inspect', '--format', '{{json .Config.Labels}}', json.base.ref] });
    expect(JSON.parse(inspect.stdout)).toMatchObject({ 'org.g3-composer.base-key': json.base.key });
  });

  it('downloads a tool missing from .g3-cache inside docker build, from the repository on 127.0.0.1, checked with its own key; a foreign signature fails the build', {
    timeout: LONG,
  }, async () => {
    // A signed repository with one tool, served on the loopback; the build context's .g3-cache has no .deb at all,
    // as when docker/Dockerfile is built directly (Docker Hub without our hooks) before `cache` filled it.
    const key = await makeSigningKey(file('fallback-key'));
    const stranger = await makeSigningKey(file('fallback-stranger'));
    const tool = { name: 'g3-fallback-tool', version: '1.0', arch: 'all', files: { 'usr/share/g3-fallback-tool/marker': 'fetched-by-the-fallback\n' } };
    const repo = await writeRepo(file('fallback-repo'), {
      key,
      suites: [
        { codename: 'g3good', components: { main: [tool] } },
        { codename: 'g3bad', components: { main: [tool] } },
      ],
    });
    await resignWith(repo.root, 'g3bad', stranger);
    const origin = await startOrigin({ dir: repo.root });
    const context = file('fallback-context');
    try {
      await mkdir(path.join(context, '.g3-cache', `composer-${PROVIDER}`), { recursive: true });
      for (const f of ['Dockerfile', '.dockerignore']) await copyFile(path.join(ROOT, 'docker', f), path.join(context, f));
      const docker = new Docker(await detectClient({ configured: DOCKER }));
      const lines: string[] = [];
      const composerFrom = async (codename: string) => {
        const fallback = await fallbackSources(
          [{ url: origin.url, codename, components: ['main'], keyrings: [key.armored], trusted: false }],
          path.join(context, '.g3-cache'),
          PROVIDER,
        );
        expect(fallback.network).toBe('host');
        expect(fallback.lines).toEqual([
          expect.stringMatching(new RegExp(`^deb \\[signed-by=/g3-cache/composer-${PROVIDER}/keyrings/[0-9a-f]{64}\\.asc\\] ${origin.url} ${codename} main$`)),
        ]);
        return buildComposerImage({
          docker,
          context,
          projectRoot: ROOT,
          target: 'fallback-itest',
          providerId: PROVIDER,
          baseImage: `g3-composer/base:${PROVIDER}`,
          tools: [tool.name],
          aptSources: fallback.lines,
          network: fallback.network,
          env: {},
          emit: (e) => lines.push('message' in e ? String(e.message) : ''),
        });
      };
      const image = await composerFrom('g3good');
      expect(lines.join('\n')).toContain(`not in .g3-cache: ${tool.name}; downloading them`);
      expect(origin.requests(`/${repo.debs[`${tool.name}_1.0_all`]?.filename}`)).toBeGreaterThan(0);
      const inImage = await run({
        command: DOCKER,
        args: [
          'run',
          '--rm',
          '--network',
          'none',
          image.imageId,
          'sh',
          '-c',
          `dpkg-query -W -f '\${Version}' ${tool.name}; echo; cat /usr/share/g3-fallback-tool/marker; ls /etc/apt/sources.list.d`,
        ],
      });
      expect(inImage.stdout.split('\n')).toEqual(['1.0', 'fetched-by-the-fallback']);
      // Signed by a key the repository is not pinned to: apt refuses it, so the build fails.
      const err = await composerFrom('g3bad').catch((e: unknown) => e);
      expect(err, lines.slice(-40).join('\n')).toBeInstanceOf(StepError);
      expect((err as StepError).message).toMatch(/docker build of .* failed/);
      expect(lines.join('\n')).toMatch(/NO_PUBKEY|not signed|signatures couldn't be verified|Signature by key/);
      await run({ command: DOCKER, args: ['rmi', '-f', 'g3-composer/fallback-itest:latest'] }, { reject: false });
    } finally {
      await origin.close();
      await disposeKey(key);
      await disposeKey(stranger);
    }
  });

  it.each([
    { what: 'a client that does not exist', client: '/nonexistent/docker', message: /docker/ },
    { what: 'a client that cannot build with BuildKit', client: '/bin/false', message: /BuildKit|buildx/ },
  ])('refuses $what named by G3_DOCKER_CLIENT with exit 2', { timeout: LONG }, async ({ client, message }) => {
    const r = await runBuilder(['img', 'build'], { ...env, G3_DOCKER_CLIENT: client });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain(client);
  });

  it('refuses to build a target without a template, with exit 2', { timeout: LONG }, async () => {
    await writeFile(file('plain.yml'), 'targets:\n  plain:\n    description: artifacts only\n');
    const r = await runBuilder(['plain', 'build'], { ...env, G3_TARGETS: file('plain.yml') });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('target plain has no template');
  });
});
