// The signed Debian repository fixture, checked with the real tools: gpgv for
// signatures, dpkg-deb for packages, and apt itself (served over HTTP on
// 127.0.0.1) for the repository as a whole.
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { run, runBinary } from '../../src/exec.js';
import { aptSimulate, aptUpdate, parseSimulate } from '../support/apt.js';
import {
  buildDeb,
  type Compression,
  corruptIndex,
  disposeKey,
  type FixturePackage,
  makeSigningKey,
  type RepoFixture,
  resignWith,
  type SigningKey,
  type SuiteSpec,
  tamperSignedText,
  writeRepo,
} from '../support/debrepo.js';
import { type Origin, startOrigin } from '../support/origin.js';
import { useTempDirs } from '../unit/tmpdir.js';

const tempDir = useTempDirs('g3-debrepo-');
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

let keyDir: string;
let key: SigningKey;
let stranger: SigningKey;
beforeAll(async () => {
  keyDir = await mkdtemp(path.join(tmpdir(), 'g3-keys-'));
  [key, stranger] = await Promise.all([makeSigningKey(keyDir, 'fixture'), makeSigningKey(keyDir, 'stranger')]);
});
afterAll(async () => {
  await Promise.all([key, stranger].filter(Boolean).map(disposeKey));
  await rm(keyDir, { recursive: true, force: true });
});

const origins: Origin[] = [];
afterEach(async () => {
  await Promise.all(origins.splice(0).map((o) => o.close()));
});

/** A small dependency graph: a versioned lib (two versions), an 'all' package, a virtual package. */
const PACKAGES: FixturePackage[] = [
  { name: 'hello', version: '1:2.0-1', depends: 'libgreet1 (>= 1.0), default-mta | mail-transport', preDepends: 'greet-data', recommends: 'extra' },
  { name: 'libgreet1', version: '0.9', multiArch: 'same' },
  { name: 'libgreet1', version: '1.1', multiArch: 'same', files: { 'usr/lib/libgreet.so.1': 'not really a library\n' } },
  { name: 'greet-data', version: '1.0', arch: 'all' },
  { name: 'postman', version: '1', provides: 'mail-transport' },
  { name: 'extra', version: '3' },
];
const EXPECTED_INSTALLS = [
  { name: 'greet-data', version: '1.0', arch: 'all' },
  { name: 'hello', version: '1:2.0-1', arch: 'amd64' },
  { name: 'libgreet1', version: '1.1', arch: 'amd64' },
  { name: 'postman', version: '1', arch: 'amd64' },
];

async function repo(spec: Partial<SuiteSpec> = {}, opts: { archs?: string[] } = {}): Promise<RepoFixture> {
  return writeRepo(await tempDir(), { key, ...opts, suites: [{ codename: 'fix', components: { main: PACKAGES }, ...spec }] });
}

async function serve(fixture: RepoFixture): Promise<Origin> {
  const origin = await startOrigin({ dir: fixture.root });
  origins.push(origin);
  return origin;
}

/** gpgv with only the given keyring (its own empty home, so no default keyring counts). */
async function gpgv(keyring: string, files: string[]) {
  const home = await tempDir();
  const r = await run({ command: 'gpgv', args: ['--homedir', home, '--keyring', keyring, ...files] }, { reject: false });
  return { ok: r.exitCode === 0, output: r.stderr };
}

const SIGNATURES: Array<[string, (f: RepoFixture) => string[]]> = [
  ['InRelease', (f) => [f.suites.fix!.inRelease!]],
  ['Release.gpg', (f) => [f.suites.fix!.releaseGpg!, f.suites.fix!.release]],
];

describe('signatures (gpgv)', () => {
  it.each(SIGNATURES)('gpgv accepts %s of a fresh repository', async (_name, files) => {
    const r = await gpgv(key.keyring, files(await repo()));
    expect(r.output).toMatch(/Good signature/);
    expect(r.ok).toBe(true);
  });

  it.each(SIGNATURES)('gpgv rejects %s after tamperSignedText', async (_name, files) => {
    const f = await repo();
    const before = await readFile(f.suites.fix!.release);
    await tamperSignedText(f.root, 'fix');
    const after = await readFile(f.suites.fix!.release);
    expect(after.length).toBe(before.length);
    expect([...after].filter((b, i) => b !== before[i])).toHaveLength(1);
    const r = await gpgv(key.keyring, files(f));
    expect(r.output).toMatch(/BAD signature/);
    expect(r.ok).toBe(false);
  });

  it.each(SIGNATURES)('gpgv rejects %s re-signed by an unknown key, which its own keyring accepts', async (_name, files) => {
    const f = await repo();
    await resignWith(f.root, 'fix', stranger);
    const r = await gpgv(key.keyring, files(f));
    expect(r.output).toMatch(/No public key/);
    expect(r.ok).toBe(false);
    expect((await gpgv(stranger.keyring, files(f))).ok).toBe(true);
  });

  it.each<[NonNullable<SuiteSpec['sign']>, string[]]>([
    ['both', ['InRelease', 'Release', 'Release.gpg']],
    ['inrelease', ['InRelease', 'Release']],
    ['detached', ['Release', 'Release.gpg']],
    ['none', ['Release']],
  ])("sign '%s' writes exactly %j", async (sign, expected) => {
    const f = await repo({ sign });
    const names = (await readdir(f.suites.fix!.dir)).filter((n) => /Release/.test(n)).sort();
    expect(names).toEqual(expected);
  });
});

describe('packages (dpkg-deb)', () => {
  it('dpkg-deb --field shows every control field given', async () => {
    const p: FixturePackage = {
      name: 'libfancy2',
      version: '2:1.0~rc1-3',
      depends: 'libc6 (>= 2.36), zlib1g',
      preDepends: 'dpkg (>= 1.19)',
      provides: 'fancy (= 1.0)',
      conflicts: 'oldfancy',
      breaks: 'fancy-tools (<< 1.0)',
      recommends: 'fancy-doc',
      essential: true,
      priority: 'required',
      multiArch: 'same',
      section: 'libs',
      files: { 'usr/share/doc/libfancy2/README': 'hello\n', 'DEBIAN/postinst': '#!/bin/sh\nexit 0\n' },
    };
    const deb = await buildDeb(await tempDir(), p);
    expect(path.basename(deb.file)).toBe('libfancy2_1.0~rc1-3_amd64.deb');
    expect(deb.sha256).toBe(sha256(await readFile(deb.file)));
    expect(deb.size).toBe((await stat(deb.file)).size);
    const fields = (await run({ command: 'dpkg-deb', args: ['--field', deb.file] })).stdout;
    for (const line of [
      'Package: libfancy2',
      'Version: 2:1.0~rc1-3',
      'Architecture: amd64',
      'Depends: libc6 (>= 2.36), zlib1g',
      'Pre-Depends: dpkg (>= 1.19)',
      'Provides: fancy (= 1.0)',
      'Conflicts: oldfancy',
      'Breaks: fancy-tools (<< 1.0)',
      'Recommends: fancy-doc',
      'Essential: yes',
      'Priority: required',
      'Multi-Arch: same',
      'Section: libs',
      'Installed-Size: 1',
    ]) {
      expect(fields.split('\n')).toContain(line);
    }
    const contents = (await run({ command: 'dpkg-deb', args: ['--contents', deb.file] })).stdout;
    expect(contents).toMatch(/root\/root .* \.\/usr\/share\/doc\/libfancy2\/README$/m);
    const scripts = (await run({ command: 'dpkg-deb', args: ['--ctrl-tarfile', deb.file] })).stdout;
    expect(scripts).toContain('exit 0');
  });

  it('builds the same bytes for the same package and different bytes for a different one', async () => {
    const [a, b, c] = await Promise.all([
      buildDeb(await tempDir(), { name: 'same', version: '1' }),
      buildDeb(await tempDir(), { name: 'same', version: '1' }),
      buildDeb(await tempDir(), { name: 'same', version: '1', files: { 'etc/same.conf': 'x=1\n' } }),
    ]);
    expect(b.sha256).toBe(a.sha256);
    expect(c.sha256).not.toBe(a.sha256);
  });

  it.each([
    ['hello', '1.0', 'amd64', 'pool/main/h/hello/hello_1.0_amd64.deb'],
    ['libfoo1', '1:2.3-1', 'amd64', 'pool/main/libf/libfoo1/libfoo1_2.3-1_amd64.deb'],
    ['lib', '1', 'all', 'pool/main/l/lib/lib_1_all.deb'],
    ['zdata', '0.1', 'all', 'pool/main/z/zdata/zdata_0.1_all.deb'],
  ])('places %s %s (%s) at %s', async (name, version, arch, filename) => {
    const f = await writeRepo(await tempDir(), { suites: [{ codename: 'fix', components: { main: [{ name, version, arch }] } }] });
    expect(f.debs[`${name}_${version}_${arch}`]?.filename).toBe(filename);
    expect((await stat(path.join(f.root, filename))).isFile()).toBe(true);
  });
});

/** Parse the SHA256 list of a Release file. */
function releaseDigests(text: string): Map<string, { sha256: string; size: number }> {
  const list = text.split(/^SHA256:\n/m)[1] ?? '';
  const out = new Map<string, { sha256: string; size: number }>();
  for (const m of list.matchAll(/^ ([0-9a-f]{64}) +(\d+) (\S+)$/gm)) out.set(m[3]!, { sha256: m[1]!, size: Number(m[2]) });
  return out;
}

describe('indexes and Release', () => {
  it.each<[Compression[], string[]]>([
    [
      ['xz', 'gz'],
      ['Packages.gz', 'Packages.xz'],
    ],
    [['none'], ['Packages']],
    [['gz'], ['Packages.gz']],
  ])('compress %j writes %j, each listed in Release with its size and digest', async (compress, names) => {
    const f = await repo({ compress, byHash: true });
    const dir = path.join(f.suites.fix!.dir, 'main/binary-amd64');
    const files = (await readdir(dir)).filter((n) => n.startsWith('Packages')).sort();
    expect(files).toEqual(names);
    const digests = releaseDigests(await readFile(f.suites.fix!.release, 'utf8'));
    const plain = digests.get('main/binary-amd64/Packages');
    expect(plain).toBeDefined();
    for (const name of names) {
      const data = await readFile(path.join(dir, name));
      expect(digests.get(`main/binary-amd64/${name}`)).toEqual({ sha256: sha256(data), size: data.length });
      const text = name.endsWith('.gz')
        ? gunzipSync(data)
        : name.endsWith('.xz')
          ? (await runBinary({ command: 'xz', args: ['-dc'] }, { input: data })).stdout
          : data;
      expect({ sha256: sha256(text), size: text.length }).toEqual(plain);
      expect(await readFile(path.join(dir, 'by-hash/SHA256', sha256(data)))).toEqual(data);
    }
  });

  it("puts 'all' packages into every architecture's index, sorted by name", async () => {
    const f = await repo({ compress: ['none'] }, { archs: ['amd64', 'arm64'] });
    for (const arch of ['amd64', 'arm64']) {
      const text = await readFile(path.join(f.suites.fix!.dir, `main/binary-${arch}/Packages`), 'utf8');
      const names = [...text.matchAll(/^Package: (\S+)$/gm)].map((m) => m[1]);
      const want = arch === 'amd64' ? ['extra', 'greet-data', 'hello', 'libgreet1', 'libgreet1', 'postman'] : ['greet-data'];
      expect(names).toEqual(want);
    }
    expect(await readFile(f.suites.fix!.release, 'utf8')).toMatch(/^Architectures: amd64 arm64$/m);
  });

  it('writes RFC 2822 UTC dates, Valid-Until and Acquire-By-Hash when asked', async () => {
    const f = await repo({ date: new Date('2025-08-09T09:17:26Z'), validUntil: new Date('2025-08-16T09:17:26Z'), byHash: true, suite: 'stable' });
    const text = await readFile(f.suites.fix!.release, 'utf8');
    expect(text).toMatch(/^Date: Sat, 09 Aug 2025 09:17:26 UTC$/m);
    expect(text).toMatch(/^Valid-Until: Sat, 16 Aug 2025 09:17:26 UTC$/m);
    expect(text).toMatch(/^Acquire-By-Hash: yes$/m);
    expect(text).toMatch(/^Suite: stable\nCodename: fix$/m);
    expect(await readFile(path.join(f.root, 'dists/stable/Release'), 'utf8')).toBe(text);
  });

  it('corruptIndex changes the file and its by-hash copy so neither matches Release', async () => {
    const f = await repo({ byHash: true });
    const rel = 'main/binary-amd64/Packages.xz';
    const listed = releaseDigests(await readFile(f.suites.fix!.release, 'utf8')).get(rel)!;
    await corruptIndex(f.root, 'fix', rel);
    const data = await readFile(path.join(f.suites.fix!.dir, rel));
    expect(data.length).toBe(listed.size);
    expect(sha256(data)).not.toBe(listed.sha256);
    const copy = await readFile(path.join(f.suites.fix!.dir, 'main/binary-amd64/by-hash/SHA256', listed.sha256));
    expect(sha256(copy)).not.toBe(listed.sha256);
  });

  it('corruptIndex names the written indexes when the path does not exist', async () => {
    const f = await repo();
    await expect(corruptIndex(f.root, 'fix', 'main/binary-i386/Packages.xz')).rejects.toThrow(/does not exist.*fixture\.suites\.fix\.indexes/);
  });
});

/** Every entry under the host's apt directories with size and mtime, to prove apt runs left them alone. */
async function snapshot(dirs: string[]): Promise<string[]> {
  const out: string[] = [];
  async function walk(p: string): Promise<void> {
    const st = await stat(p).catch(() => undefined);
    if (!st) return;
    out.push(`${p} ${st.size} ${st.mtimeMs}`);
    if (st.isDirectory()) for (const name of (await readdir(p)).sort()) await walk(path.join(p, name));
  }
  for (const d of dirs) await walk(d);
  return out;
}

describe('apt accepts the repository and refuses broken ones', () => {
  const HOST_APT = ['/etc/apt', '/var/lib/apt', '/var/cache/apt'];
  let before: string[];
  beforeAll(async () => {
    before = await snapshot(HOST_APT);
  });

  const sources = (o: Origin, k: SigningKey = key) => `deb [signed-by=${k.keyring}] ${o.url}/ fix main`;

  it.each<[string, Partial<SuiteSpec>]>([
    ['InRelease and Release.gpg, xz and gz', {}],
    ['only InRelease, by-hash', { sign: 'inrelease', byHash: true }],
    ['only Release.gpg, gz', { sign: 'detached', compress: ['gz'] }],
    ['an uncompressed index', { compress: ['none'] }],
  ])('apt verifies and installs from a repository with %s', async (_name, spec) => {
    const origin = await serve(await repo(spec));
    const r = await aptSimulate({ sources: sources(origin), packages: ['hello'] });
    const installs = [...r.installs].sort((a, b) => (a.name < b.name ? -1 : 1));
    expect(installs).toEqual(EXPECTED_INSTALLS);
    expect(r.warnings).toEqual([]);
  });

  it('apt fetches indexes by hash when the Release says Acquire-By-Hash', async () => {
    const f = await repo({ byHash: true });
    const origin = await serve(f);
    const up = await aptUpdate({ sources: sources(origin) });
    expect(up.warnings).toEqual([]);
    expect(up.ok).toBe(true);
    const digest = releaseDigests(await readFile(f.suites.fix!.release, 'utf8')).get('main/binary-amd64/Packages.xz')!.sha256;
    expect(origin.requests(`/dists/fix/main/binary-amd64/by-hash/SHA256/${digest}`)).toBe(1);
    expect(origin.requests('/dists/fix/main/binary-amd64/Packages.xz')).toBe(0);
  });

  it.each<[string, (f: RepoFixture) => Promise<unknown>, Partial<SuiteSpec>, RegExp]>([
    ['tampered signed text', (f) => tamperSignedText(f.root, 'fix'), {}, /BADSIG|signatures were invalid/],
    ['a tampered Release under Release.gpg', (f) => tamperSignedText(f.root, 'fix'), { sign: 'detached' }, /BADSIG/],
    ['a signature by an unknown key', (f) => resignWith(f.root, 'fix', stranger), {}, /NO_PUBKEY/],
    ['a corrupt index', (f) => corruptIndex(f.root, 'fix', 'main/binary-amd64/Packages.xz'), { compress: ['xz'] }, /Hash Sum mismatch/],
    ['a corrupt by-hash index', (f) => corruptIndex(f.root, 'fix', 'main/binary-amd64/Packages.xz'), { compress: ['xz'], byHash: true }, /Hash Sum mismatch/],
    ['an expired Release', async () => {}, { date: new Date('2020-01-01T00:00:00Z'), validUntil: new Date('2020-01-08T00:00:00Z') }, /expired/],
    ['no signature', async () => {}, { sign: 'none' }, /is not signed|does not have a Release file/],
  ])('apt refuses a repository with %s', async (_name, fault, spec, message) => {
    const f = await repo(spec);
    await fault(f);
    const origin = await serve(f);
    const up = await aptUpdate({ sources: sources(origin) });
    expect(up.output).toMatch(message);
    expect(up.ok).toBe(false);
    await expect(aptSimulate({ sources: sources(origin), packages: ['hello'] })).rejects.toThrow(message);
  });

  it('parses Inst lines of apt-get --simulate, with and without an old version', () => {
    const out = ['Inst a (1.0 o:s [amd64])', 'Inst b [0.9] (1:2.0-1 o:s, o:t [all])', 'Conf a (1.0 o:s [amd64])', 'Remv c [1]'].join('\n');
    expect(parseSimulate(out)).toEqual([
      { name: 'a', version: '1.0', arch: 'amd64' },
      { name: 'b', version: '1:2.0-1', arch: 'all' },
    ]);
  });

  it('left /etc/apt, /var/lib/apt and /var/cache/apt untouched', async () => {
    expect(await snapshot(HOST_APT)).toEqual(before);
  });
});
