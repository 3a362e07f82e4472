// The packages stage against the real Debian archive: the CLI validates, locks
// and caches the minimal Debian 13 template from the mirrors in the host's apt
// sources, and the locked package set must be exactly the set apt itself
// installs for the same request. Downloads the trixie indexes twice (ours and
// apt's, about 10 MiB each) and the locked packages (about 150 MiB, most of
// it the kernel).
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashFile } from '../../src/fs/hash.js';
import { loadSettings } from '../../src/config/load.js';
import type { PackageRecord } from '../../src/deb/types.js';
import { compareVersions } from '../../src/deb/version.js';
import { run } from '../../src/exec.js';
import type { LockedSet, LockFile } from '../../src/lock/types.js';
import { loadRepositoryPinned } from '../../src/repo/deb/repository.js';
import { aptSimulate } from '../support/apt.js';
import { ROOT, type RunResult, runBuilder } from '../support/project.js';

const PROVIDER = 'debian-debian13-x86_64';
const ARCH = 'amd64';
const COMPONENTS = ['main', 'contrib', 'non-free', 'non-free-firmware'];
const KEYRING = path.join(ROOT, 'defaults', 'keyrings', 'debian-archive-keyring.gpg');
// Generous: a slow mirror must not fail the test, CI still finishes well inside its limit.
const LONG = 300_000;

interface MergedTemplate {
  providerId: string;
  template: {
    packageRepositories: Array<{ codename: string; url: string; component: string[] }>;
    systemConfig: { packages?: string[]; kernel?: { packages?: string[] } };
  };
}

/** Run `fn` once; later calls share its promise (tests may run alone or in order). */
function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => {
    p ??= fn();
    return p;
  };
}

const versions = (set: LockedSet) => Object.fromEntries(set.packages.map((p) => [p.name, p.version]));

/** Primary key fingerprints of a keyring, read with a throw-away gpg home. */
async function primaryFingerprints(keyring: string, home: string): Promise<string[]> {
  await mkdir(home, { recursive: true, mode: 0o700 });
  const r = await run({ command: 'gpg', args: ['--homedir', home, '--batch', '--with-colons', '--show-keys', keyring] }, { package: 'gpg' });
  const out: string[] = [];
  let afterPub = false;
  for (const line of r.stdout.split('\n')) {
    const f = line.split(':');
    if (f[0] === 'pub' || f[0] === 'sub') afterPub = f[0] === 'pub';
    else if (f[0] === 'fpr' && afterPub && f[9]) out.push(f[9]);
  }
  return out;
}

/** apt's candidates (the highest version of each name, native or all) that are Essential or Priority: required. */
function baseSeeds(records: readonly PackageRecord[]): string[] {
  const best = new Map<string, PackageRecord>();
  for (const rec of records) {
    if (rec.architecture !== ARCH && rec.architecture !== 'all') continue;
    const had = best.get(rec.name);
    if (!had || compareVersions(rec.version, had.version) > 0) best.set(rec.name, rec);
  }
  return [...best.values()]
    .filter((r) => r.essential || r.priority === 'required')
    .map((r) => r.name)
    .sort();
}

describe('live Debian 13 archive', () => {
  let dir: string;
  let env: Record<string, string>;
  let mirror: string;
  let securityMirror: string;
  const file = (...p: string[]) => path.join(dir, ...p);
  const pkgDir = () => file('cache', 'pkgCache', PROVIDER);
  const readLock = async () => JSON.parse(await readFile(file('live.lock.json'), 'utf8')) as LockFile;
  const merged = once(async (): Promise<MergedTemplate> => {
    const r = await runBuilder(['live', 'validate', '--merged', '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as MergedTemplate;
  });
  const requested = async () => {
    const sys = (await merged()).template.systemConfig;
    return [...new Set([...(sys.packages ?? []), ...(sys.kernel?.packages ?? [])])];
  };
  const locked = once(() => runBuilder(['live', 'lock'], env));
  const lockOk = async (): Promise<LockFile> => {
    const r: RunResult = await locked();
    expect(r.code, r.stderr).toBe(0);
    return readLock();
  };

  beforeAll(async () => {
    // The same settings the CLI reads with no G3_MIRROR: the host's apt sources (or the project's .env).
    const settings = await loadSettings({ projectRoot: ROOT, env: {}, flags: {}, cwd: ROOT });
    if (!settings.mirror || !settings.securityMirror) {
      throw new Error('no Debian mirror configured: the live test needs deb sources in /etc/apt (or G3_MIRROR and G3_SECURITY_MIRROR in .env)');
    }
    mirror = settings.mirror;
    securityMirror = settings.securityMirror;
    dir = await mkdtemp(path.join(tmpdir(), 'g3-live-'));
    await mkdir(file('templates'));
    await copyFile(path.join(ROOT, 'docker', 'templates', 'minimal.yml'), file('templates', 'live.yml'));
    await writeFile(file('targets.yml'), 'targets:\n  live:\n    template: templates/live.yml\n');
    env = {
      G3_TARGETS: file('targets.yml'),
      G3_LOCAL_CACHE: file('g3-cache'),
      G3_CACHE_DIR: file('cache'),
      G3_WORK_DIR: file('workspace'),
      SHARED_G3_CACHE_PATH: '',
    };
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('validates the template, merged over the default with trixie, trixie-updates and trixie-security from the configured mirrors', {
    timeout: LONG,
  }, async () => {
    const plain = await runBuilder(['live', 'validate'], env);
    expect(plain.code, plain.stderr).toBe(0);
    expect(`${plain.stdout}${plain.stderr}`).toContain('is valid');
    const m = await merged();
    expect(m.providerId).toBe(PROVIDER);
    expect(m.template.packageRepositories.map((r) => [r.codename, r.url, r.component])).toEqual([
      ['trixie', mirror, COMPONENTS],
      ['trixie-updates', mirror, COMPONENTS],
      ['trixie-security', securityMirror, COMPONENTS],
    ]);
    // The user's packages are added to the default's, and the kernel comes from the default.
    expect(await requested()).toEqual(expect.arrayContaining(['ca-certificates', 'iproute2', 'less', 'systemd-sysv', 'udev', 'linux-image-amd64']));
  });

  it('locks the image from signed metadata: provider, the three repositories with their Release digests and signers, and the packages', {
    timeout: LONG,
  }, async () => {
    const lock = await lockOk();
    expect(lock.providerId).toBe(PROVIDER);
    expect(lock.arch).toBe(ARCH);
    expect(lock.repositories.map((r) => [r.id, r.url, r.components])).toEqual([
      ['trixie', mirror, COMPONENTS],
      ['trixie-updates', mirror, COMPONENTS],
      ['trixie-security', securityMirror, COMPONENTS],
    ]);
    const signers = await primaryFingerprints(KEYRING, file('gnupg'));
    for (const repo of lock.repositories) {
      expect(signers, `${repo.id} signed by a key of the shipped keyring`).toContain(repo.release.signedBy);
      // The pinned Release is the verified file kept in the metadata store.
      const stored = file('cache', 'repoCache', 'by-hash', 'sha256', repo.release.sha256);
      expect(await hashFile(stored)).toEqual({ sha256: repo.release.sha256, size: repo.release.size });
      expect(await readFile(stored, 'utf8')).toMatch(new RegExp(`^Codename: ${repo.codename}$`, 'm'));
      expect(repo.indexes.map((x) => x.path)).toContain('main/binary-amd64/Packages.xz');
    }
    const want = await requested();
    expect([...lock.request.packages].sort()).toEqual([...want].sort());
    const names = Object.keys(versions(lock.image));
    expect(names).toEqual(expect.arrayContaining([...want, 'systemd', 'libc6', 'dpkg', 'base-files', 'bash', 'coreutils']));
    // linux-image-amd64 is a metapackage: the versioned kernel image comes with it.
    expect(names.some((n) => /^linux-image-\d.*-amd64$/.test(n))).toBe(true);
    for (const p of lock.image.packages) {
      expect(lock.repositories.map((r) => r.id)).toContain(p.repository);
      expect([ARCH, 'all']).toContain(p.architecture);
      expect(p.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(p.filename).toMatch(/^pool\//);
    }
    expect(lock.image.installOrder.indexOf('libc6')).toBeLessThan(lock.image.installOrder.indexOf('systemd'));
  });

  it('chooses exactly the packages and versions apt chooses for the base seeds plus the template packages', { timeout: LONG }, async () => {
    const lock = await lockOk();
    // The seeds from the very metadata the lock pins, read back (offline) from the verified store.
    const records: PackageRecord[] = [];
    for (const r of lock.repositories) {
      const spec = { id: r.id, url: r.url, codename: r.codename, components: r.components, archs: [ARCH], keyrings: [KEYRING], trusted: false };
      const fetch = { timeoutMs: 60_000, retries: 2, minBackoffMs: 500, maxRetryAfterMs: 60_000 };
      const meta = await loadRepositoryPinned(
        spec,
        { releaseSha256: r.release.sha256, indexes: r.indexes },
        { storeDir: file('cache', 'repoCache'), offline: true, ignoreValidUntil: false, fetch, emit: () => {} },
      );
      records.push(...meta.packages);
    }
    const seeds = baseSeeds(records);
    expect(seeds).toEqual(expect.arrayContaining(['base-files', 'dash', 'dpkg', 'libc-bin', 'mawk']));
    expect(lock.image.baseSet).toEqual(expect.arrayContaining(seeds));

    const sources = lock.repositories.map((r) => `deb [signed-by=${KEYRING}] ${r.url} ${r.codename} ${r.components.join(' ')}`).join('\n');
    const apt = await aptSimulate({ sources, arch: ARCH, packages: [...seeds, ...(await requested())] });
    const theirs: Record<string, string> = Object.fromEntries(apt.installs.map((i) => [i.name, i.version]));
    const ours = versions(lock.image);
    // Spelled out first, so a failure names each package that differs.
    const differences = {
      onlyApt: Object.keys(theirs)
        .filter((n) => !(n in ours))
        .map((n) => `${n} ${theirs[n]}`),
      onlyLock: Object.keys(ours)
        .filter((n) => !(n in theirs))
        .map((n) => `${n} ${ours[n]}`),
      versions: Object.keys(ours)
        .filter((n) => n in theirs && theirs[n] !== ours[n])
        .map((n) => `${n}: apt ${theirs[n]}, lock ${ours[n]}`),
    };
    expect(differences).toEqual({ onlyApt: [], onlyLock: [], versions: [] });
    expect(theirs).toEqual(ours);
    expect(theirs).toHaveProperty('systemd');
  });

  it('caches every locked package verified by its sha256 with the graphs, then runs warm with no downloads, also offline', { timeout: LONG }, async () => {
    const lock = await lockOk();
    const lockText = await readFile(file('live.lock.json'), 'utf8');
    const first = await runBuilder(['live', 'cache', '--json'], env);
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ ok: true, downloads: lock.image.packages.length, failures: [], corrupt: [] });
    // The matching lock is used as it is, not resolved again.
    expect(await readFile(file('live.lock.json'), 'utf8')).toBe(lockText);

    const debs = (await readdir(pkgDir())).filter((f) => f.endsWith('.deb')).sort();
    expect(debs).toEqual(lock.image.packages.map((p) => path.basename(p.filename)).sort());
    for (const p of lock.image.packages) {
      expect(await hashFile(path.join(pkgDir(), path.basename(p.filename))), p.name).toEqual({ sha256: p.sha256, size: p.size });
    }
    const chroot = await readFile(path.join(pkgDir(), 'chrootpkgs.dot'), 'utf8');
    expect(chroot).toContain('"dash"');
    expect(chroot).not.toContain('"linux-image-amd64"');
    const image = await readFile(path.join(pkgDir(), 'live.dot'), 'utf8');
    expect(image).toMatch(/"linux-image-amd64" -> "linux-image-[^"]+-amd64";/);

    const warm = await runBuilder(['live', 'cache', '--json'], env);
    expect(warm.code, warm.stderr).toBe(0);
    expect(JSON.parse(warm.stdout)).toMatchObject({ ok: true, downloads: 0, hits: { local: lock.image.packages.length } });
    const offline = await runBuilder(['live', 'cache', '--offline', '--json'], env);
    expect(offline.code, offline.stderr).toBe(0);
    expect(JSON.parse(offline.stdout)).toMatchObject({ ok: true, downloads: 0, missing: [] });
  });
});
