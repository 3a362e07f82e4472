// The packages stage end to end through the real CLI: a template target,
// a signed repository on 127.0.0.1, the lock file and the package cache.
import { appendFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { LockFile } from '../../src/lock/types.js';
import { corruptIndex, type FixturePackage, makeSigningKey, resignWith, tamperSignedText, disposeKey } from '../support/debrepo.js';
import { runBuilder, sha256 } from '../support/project.js';
import { makeTemplateProject, type TemplateProject } from '../support/template-project.js';

const PROVIDER = 'debian-debian13-x86_64';

const PACKAGES: FixturePackage[] = [
  { name: 'app', version: '1.0-1', depends: 'libfoo1 (>= 2.0), mail-transport-agent | exim4, awk, cyc-a, app-data (= 1.0-1)' },
  { name: 'app-data', version: '1.0-1', arch: 'all' },
  { name: 'libfoo1', version: '1.5-1' },
  { name: 'libfoo1', version: '2.1-1', depends: 'libc6 (>= 2.36)' },
  { name: 'tiny-mta', version: '0.3-1', provides: 'mail-transport-agent' },
  { name: 'cyc-a', version: '1-1', depends: 'cyc-b' },
  { name: 'cyc-b', version: '1-1', preDepends: 'cyc-a' },
  { name: 'broken', version: '1-1', depends: 'middle' },
  { name: 'middle', version: '1-1', depends: 'ghost (>= 2)' },
  { name: 'ghost', version: '1.0-1' },
  { name: 'enemy', version: '1-1', conflicts: 'libfoo1 (>= 2)' },
  { name: 'mmtool', version: '3-1', depends: 'libc6, libfoo1' },
];

const EXTRAS = {
  codename: 'extras',
  components: {
    main: [
      { name: 'libfoo1', version: '9.0-1' },
      { name: 'extra-tool', version: '1-1', depends: 'libfoo1' },
    ],
  },
};

async function readLockFile(p: TemplateProject): Promise<LockFile> {
  return JSON.parse(await readFile(p.lockFile, 'utf8')) as LockFile;
}

const versions = (l: LockFile) => Object.fromEntries(l.image.packages.map((x) => [x.name, x.version]));

describe('packages stage', () => {
  let p: TemplateProject;
  beforeAll(async () => {
    p = await makeTemplateProject({ tools: ['mmtool'] });
  });
  afterAll(async () => p.cleanup());
  beforeEach(async () => {
    await p.writeRepo(PACKAGES, {}, [EXTRAS]);
    await p.writeTemplate(['app']);
    await rm(p.lockFile, { force: true });
    for (const d of [p.cacheDir, p.env.G3_LOCAL_CACHE as string]) await rm(d, { recursive: true, force: true });
    await rm(p.shared, { recursive: true, force: true });
    await mkdir(p.shared);
    p.origin.resetCounts();
  });

  it('locks the closure chosen from signed metadata: versions, alternatives, virtual packages, cycles, arch all', async () => {
    const r = await runBuilder(['img', 'lock'], p.env);
    expect(r.stderr).toContain('wrote');
    expect(r.code).toBe(0);
    const lock = await readLockFile(p);
    expect(lock.providerId).toBe(PROVIDER);
    const v = versions(lock);
    expect(v).toMatchObject({
      app: '1.0-1',
      'app-data': '1.0-1',
      libfoo1: '2.1-1',
      'tiny-mta': '0.3-1',
      mawk: '1.3.4.20250131-1',
      'cyc-a': '1-1',
      'cyc-b': '1-1',
      libc6: '2.41-12',
      dash: '0.5.12-12',
    });
    expect(Object.keys(v)).not.toContain('exim4');
    expect(Object.keys(v)).not.toContain('enemy');
    expect(lock.image.baseSet).toEqual(['base-files', 'dash', 'libc6', 'mawk']);
    // Dependencies come before their dependents in the install order.
    const order = lock.image.installOrder;
    expect(order.indexOf('libc6')).toBeLessThan(order.indexOf('libfoo1'));
    expect(order.indexOf('libfoo1')).toBeLessThan(order.indexOf('app'));
    // Each package carries the digest from the signed index.
    const app = lock.image.packages.find((x) => x.name === 'app');
    expect(app).toMatchObject({
      sha256: p.fixture.debs['app_1.0-1_amd64']?.sha256,
      size: p.fixture.debs['app_1.0-1_amd64']?.size,
      repository: 'trixie',
      architecture: 'amd64',
    });
    expect(lock.repositories.map((x) => x.id)).toEqual(['trixie', 'trixie-updates', 'trixie-security']);
    expect(lock.repositories[0]?.release.sha256).toBe(sha256(await readFile(p.fixture.suites.trixie?.inRelease as string)));
    const dot = await readFile(path.join(p.cacheDir, 'pkgCache', PROVIDER, 'img.dot'), 'utf8');
    expect(dot).toContain('"app" -> "libfoo1";');
    const chroot = await readFile(path.join(p.cacheDir, 'pkgCache', PROVIDER, 'chrootpkgs.dot'), 'utf8');
    expect(chroot).toContain('"dash" -> "libc6";');
    expect(chroot).not.toContain('"app"');
  });

  it('fetches the locked packages into the provider cache and the tools into the g3-cache, then runs warm with no downloads', async () => {
    const r = await runBuilder(['img', 'cache', '--json'], p.env);
    expect(r.code, r.stderr).toBe(0);
    const lock = await readLockFile(p);
    const files = (await readdir(path.join(p.cacheDir, 'pkgCache', PROVIDER))).filter((f) => f.endsWith('.deb')).sort();
    expect(files).toEqual(lock.image.packages.map((x) => path.basename(x.filename)).sort());
    for (const x of lock.image.packages) expect(sha256(await readFile(path.join(p.cacheDir, 'pkgCache', PROVIDER, path.basename(x.filename))))).toBe(x.sha256);
    // The tools minus the essential base the composer image already has.
    expect((await readdir(path.join(p.env.G3_LOCAL_CACHE as string, `composer-${PROVIDER}`))).sort()).toEqual([
      'libfoo1_2.1-1_amd64.deb',
      'mmtool_3-1_amd64.deb',
    ]);
    expect((await readdir(path.join(p.shared, 'pkgCache', PROVIDER))).filter((f) => f.endsWith('.deb')).length).toBe(files.length);
    p.origin.resetCounts();
    const warm = await runBuilder(['img', 'cache', '--json'], p.env);
    expect(warm.code, warm.stderr).toBe(0);
    expect(p.origin.totalRequests()).toBe(0);
    expect(JSON.parse(warm.stdout).downloads).toBe(0);
    const check = await runBuilder(['img', 'cache', '--check'], p.env);
    expect(check.code).toBe(0);
  });

  it('uses an existing lock as it is, and reports (does not use) a lock that no longer matches the template', async () => {
    expect((await runBuilder(['img', 'lock'], p.env)).code).toBe(0);
    const before = await readFile(p.lockFile, 'utf8');
    // A newer libfoo1 appears upstream: the lock keeps the old one.
    await p.writeRepo([...PACKAGES, { name: 'libfoo1', version: '2.2-1' }], {}, [EXTRAS]);
    const again = await runBuilder(['img', 'lock'], p.env);
    expect(again.stderr).toContain('is up to date');
    expect(await readFile(p.lockFile, 'utf8')).toBe(before);
    await p.writeTemplate(['app', 'mmtool']);
    const stale = await runBuilder(['img', 'cache'], p.env);
    expect(stale.code).toBe(2);
    expect(stale.stderr).toMatch(/does not match the template of img: packages added: mmtool/);
    expect(stale.stderr).toContain('lock --update');
    const updated = await runBuilder(['img', 'lock', '--update'], p.env);
    expect(updated.code, updated.stderr).toBe(0);
    expect(updated.stdout).toMatch(/changed +libfoo1 2\.1-1 -> 2\.2-1/);
    expect(versions(await readLockFile(p)).libfoo1).toBe('2.2-1');
  });

  it('takes only allowPackages from a repository of higher priority', async () => {
    await p.writeTemplate(
      ['app', 'extra-tool'],
      `  - codename: extras\n    url: \${mirror}\n    pkey: ${p.key.keyring}\n    component: main\n    priority: 900\n    allowPackages: [extra-tool]\n`,
    );
    const r = await runBuilder(['img', 'lock'], p.env);
    expect(r.code, r.stderr).toBe(0);
    const lock = await readLockFile(p);
    expect(lock.image.packages.find((x) => x.name === 'extra-tool')?.repository).toBe('extras');
    expect(lock.image.packages.find((x) => x.name === 'libfoo1')).toMatchObject({ version: '2.1-1', repository: 'trixie' });
  });

  it.each<[string, string[], RegExp]>([
    ['a missing dependency, naming the chain', ['broken'], /broken -> middle -> ghost \(>= 2\)/],
    ['a conflict between chosen packages', ['app', 'enemy'], /enemy conflicts with libfoo1/],
    ['an unknown package, suggesting a close name', ['apq'], /apq[\s\S]*app/],
  ])('refuses %s with exit 2 and writes no lock', async (_name, packages, message) => {
    await p.writeTemplate(packages);
    const r = await runBuilder(['img', 'lock'], p.env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    await expect(readFile(p.lockFile)).rejects.toThrow();
  });

  it('refuses tampered metadata, metadata signed by an unknown key and unsigned metadata', async () => {
    await tamperSignedText(path.join(p.repoRoot, 'debian'), 'trixie');
    const bad = await runBuilder(['img', 'lock'], p.env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/trixie[\s\S]*(bad signature|BADSIG)/i);

    await p.writeRepo(PACKAGES, {}, [EXTRAS]);
    const stranger = await makeSigningKey(path.join(p.dir, 'stranger'));
    try {
      await resignWith(path.join(p.repoRoot, 'debian'), 'trixie', stranger);
      const unknown = await runBuilder(['img', 'lock'], p.env);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toMatch(/unknown key|no public key|NO_PUBKEY/i);
    } finally {
      await disposeKey(stranger);
    }

    await p.writeRepo(PACKAGES, { sign: 'none' }, [EXTRAS]);
    const unsigned = await runBuilder(['img', 'lock'], p.env);
    expect(unsigned.code).toBe(2);
    expect(unsigned.stderr).toMatch(/no signature|unsigned|not signed/i);
    await expect(readFile(p.lockFile)).rejects.toThrow();
  });

  it('accepts unsigned metadata only from a repository marked trusted, with a warning', async () => {
    await p.writeRepo(PACKAGES, { sign: 'none' }, [EXTRAS]);
    const tpl = path.join(p.dir, 'templates', 'img.yml');
    const text = await readFile(tpl, 'utf8');
    await writeFile(tpl, text.replace('  - codename: trixie\n', '  - codename: trixie\n    trusted: true\n'));
    const r = await runBuilder(['img', 'lock'], p.env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning:.*trixie/);
  });

  it('refuses metadata past its Valid-Until unless told to accept it', async () => {
    await p.writeRepo(PACKAGES, { date: new Date(Date.now() - 10 * 86400_000), validUntil: new Date(Date.now() - 86400_000) }, [EXTRAS]);
    const r = await runBuilder(['img', 'lock'], p.env);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/expired|Valid-Until/i);
    const ok = await runBuilder(['img', 'lock', '--ignore-valid-until'], p.env);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toMatch(/warning:.*(expired|Valid-Until)/i);
  });

  it('refuses an index whose hash does not match the signed Release', async () => {
    await corruptIndex(path.join(p.repoRoot, 'debian'), 'trixie', 'main/binary-amd64/Packages.xz');
    const r = await runBuilder(['img', 'lock'], p.env);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Packages\.xz|by-hash/);
    expect(r.stderr).toMatch(/sha256|hash|digest/i);
  });

  it('resolves offline from the last verified metadata, and fetches nothing offline once the cache is warm', async () => {
    expect((await runBuilder(['img', 'cache'], p.env)).code).toBe(0);
    await p.writeTemplate(['app', 'mmtool']);
    p.origin.resetCounts();
    const relock = await runBuilder(['img', 'lock', '--update', '--offline'], p.env);
    expect(relock.code, relock.stderr).toBe(0);
    expect(versions(await readLockFile(p))).toHaveProperty('mmtool');
    expect(p.origin.totalRequests()).toBe(0);
    // mmtool was never fetched: offline, it is reported missing and the rest is kept.
    const missing = await runBuilder(['img', 'cache', '--offline'], p.env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/mmtool_3-1_amd64\.deb: not cached, and --offline forbids/);
    await p.writeTemplate(['app']);
    expect((await runBuilder(['img', 'lock', '--update', '--offline'], p.env)).code).toBe(0);
    const warm = await runBuilder(['img', 'cache', '--offline'], p.env);
    expect(warm.code, warm.stderr).toBe(0);
    expect(p.origin.totalRequests()).toBe(0);
  });

  it('fails a package whose bytes on the mirror differ from the signed index, keeping the verified ones', async () => {
    expect((await runBuilder(['img', 'lock'], p.env)).code).toBe(0);
    const lock = await readLockFile(p);
    const victim = lock.image.packages.find((x) => x.name === 'tiny-mta');
    await appendFile(path.join(p.repoRoot, 'debian', victim?.filename as string), 'x');
    const r = await runBuilder(['img', 'cache'], p.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(path.basename(victim?.filename as string));
    const kept = await readdir(path.join(p.cacheDir, 'pkgCache', PROVIDER));
    expect(kept).toContain(path.basename(lock.image.packages.find((x) => x.name === 'app')?.filename as string));
    expect(kept).not.toContain(path.basename(victim?.filename as string));
  });
});
