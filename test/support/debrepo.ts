// A real, signed Debian repository on disk for tests: .deb files built by
// dpkg-deb, Packages indexes and Release files written by our own code, and
// gpg signatures. Serve `root` with startOrigin({dir: root}). The fault
// helpers break a written repository the ways a mirror can be broken.
import { createHash } from 'node:crypto';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { runBinary } from '../../src/exec.js';
import { archOf, buildDeb, type FixturePackage, poolDir } from './debrepo-deb.js';
import { type SignMode, type SigningKey, signRelease } from './debrepo-key.js';
import { type IndexDigest, type PoolEntry, packagesIndex, releaseText } from './debrepo-meta.js';

export { buildDeb, type FixturePackage } from './debrepo-deb.js';
export { disposeKey, makeSigningKey, type SignMode, type SigningKey } from './debrepo-key.js';
export { corruptIndex, resignWith, tamperSignedText } from './debrepo-faults.js';

export type Compression = 'xz' | 'gz' | 'none';

// One dists/<codename> of the repository.
export interface SuiteSpec {
  codename: string;
  /** Suite name (e.g. 'stable'); default the codename. A different name gets a dists/<suite> symlink. */
  suite?: string;
  /** Component → packages; default { main: [] }. */
  components?: Record<string, FixturePackage[]>;
  /** Release Date; default now. */
  date?: Date;
  validUntil?: Date;
  /** Acquire-By-Hash: yes, plus by-hash/SHA256/<digest> copies of every index file. */
  byHash?: boolean;
  /** Default ['xz', 'gz']; 'none' writes the uncompressed Packages file too. */
  compress?: Compression[];
  /** Default 'both' when a key is given, else 'none'. */
  sign?: SignMode;
}

export interface SuiteFiles {
  /** Absolute path of dists/<codename>. */
  dir: string;
  /** Absolute paths of the Release files written. */
  release: string;
  inRelease?: string;
  releaseGpg?: string;
  /** Index files written, relative to dir (e.g. 'main/binary-amd64/Packages.xz'). */
  indexes: string[];
}

export interface RepoFixture {
  root: string;
  suites: Record<string, SuiteFiles>;
  /** Key name_version_arch (version as given, epoch included). */
  debs: Record<string, { filename: string; size: number; sha256: string }>;
}

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** The bytes of each requested compression of one index text. */
async function compressed(text: string, kinds: Compression[]): Promise<Array<[string, Buffer]>> {
  const plain = Buffer.from(text);
  const out: Array<[string, Buffer]> = [];
  for (const kind of kinds) {
    if (kind === 'none') out.push(['', plain]);
    if (kind === 'gz') out.push(['.gz', gzipSync(plain, { level: 9 })]);
    if (kind === 'xz') {
      const xz = await runBinary({ command: 'xz', args: ['-c', '-T1'] }, { input: plain, package: 'xz-utils' });
      out.push(['.xz', xz.stdout]);
    }
  }
  return out;
}

/** Build one suite's debs and indexes; returns the Release digest list and written files. */
async function writeIndexes(root: string, dir: string, spec: SuiteSpec, archs: string[], debs: RepoFixture['debs']) {
  const files: IndexDigest[] = [];
  const indexes: string[] = [];
  for (const [component, pkgs] of Object.entries(spec.components ?? { main: [] })) {
    const entries: PoolEntry[] = [];
    for (const pkg of pkgs) {
      const pool = poolDir(component, pkg);
      const built = await buildDeb(path.join(root, pool), pkg);
      const filename = `${pool}/${path.basename(built.file)}`;
      entries.push({ pkg, filename, size: built.size, sha256: built.sha256, md5: built.md5 });
      debs[`${pkg.name}_${pkg.version}_${archOf(pkg)}`] = { filename, size: built.size, sha256: built.sha256 };
    }
    for (const arch of archs) {
      const rel = `${component}/binary-${arch}`;
      await mkdir(path.join(dir, rel), { recursive: true });
      const text = packagesIndex(entries, arch);
      // Debian lists the uncompressed Packages in Release even when only compressed files exist.
      files.push({ path: `${rel}/Packages`, size: Buffer.byteLength(text), sha256: sha256(text) });
      for (const [ext, data] of await compressed(text, spec.compress ?? ['xz', 'gz'])) {
        const file = `${rel}/Packages${ext}`;
        const digest = sha256(data);
        await writeFile(path.join(dir, file), data);
        indexes.push(file);
        if (ext) files.push({ path: file, size: data.length, sha256: digest });
        if (spec.byHash) {
          await mkdir(path.join(dir, rel, 'by-hash/SHA256'), { recursive: true });
          await writeFile(path.join(dir, rel, 'by-hash/SHA256', digest), data);
        }
      }
    }
  }
  return { files, indexes };
}

// Write a complete repository under root (pool/ and dists/), signed with key when given.
export async function writeRepo(root: string, opts: { suites: SuiteSpec[]; key?: SigningKey; archs?: string[] }): Promise<RepoFixture> {
  const abs = path.resolve(root);
  const archs = opts.archs ?? ['amd64'];
  const fixture: RepoFixture = { root: abs, suites: {}, debs: {} };
  for (const spec of opts.suites) {
    const dir = path.join(abs, 'dists', spec.codename);
    await mkdir(dir, { recursive: true });
    const { files, indexes } = await writeIndexes(abs, dir, spec, archs, fixture.debs);
    const date = spec.date ?? new Date(Math.floor(Date.now() / 1000) * 1000);
    const suite = spec.suite ?? spec.codename;
    const components = Object.keys(spec.components ?? { main: [] });
    const release = path.join(dir, 'Release');
    const text = releaseText({ codename: spec.codename, suite, date, validUntil: spec.validUntil, archs, components, byHash: !!spec.byHash, files });
    await writeFile(release, text);
    const signed = await signRelease(dir, spec.sign ?? (opts.key ? 'both' : 'none'), opts.key, spec.codename);
    if (suite !== spec.codename) await symlink(spec.codename, path.join(abs, 'dists', suite)).catch(ignoreExisting);
    fixture.suites[spec.codename] = { dir, release, ...signed, indexes };
  }
  return fixture;
}

function ignoreExisting(err: NodeJS.ErrnoException): void {
  if (err.code !== 'EEXIST') throw err;
}
