// Real .deb files for test repositories, built with dpkg-deb from a small
// tree. Builds are cached by content within the process because many tests
// build the same handful of packages.
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { run } from '../../src/exec.js';

// A package to build; relation fields are written verbatim (dpkg syntax).
export interface FixturePackage {
  name: string;
  version: string;
  /** Default 'amd64'; or 'all'. */
  arch?: string;
  depends?: string;
  preDepends?: string;
  provides?: string;
  conflicts?: string;
  breaks?: string;
  recommends?: string;
  essential?: boolean;
  /** Default 'optional'. */
  priority?: string;
  multiArch?: string;
  /** Default 'misc'. */
  section?: string;
  /** Path inside the package → content. `DEBIAN/postinst` and friends become maintainer scripts. */
  files?: Record<string, string>;
}

export interface BuiltDeb {
  file: string;
  size: number;
  sha256: string;
  /** Packages indexes still carry MD5sum. */
  md5: string;
}

// A fixed timestamp makes the same package build to the same bytes in every run.
const SOURCE_DATE_EPOCH = '1700000000';
const MAINTAINER = 'g3 fixture <fixture@example.invalid>';
const SCRIPTS = new Set(['preinst', 'postinst', 'prerm', 'postrm', 'config']);

const cache = new Map<string, Promise<Buffer>>();

// The architecture a fixture package is built for.
export function archOf(p: FixturePackage): string {
  return p.arch ?? 'amd64';
}

// The pool file name: name_version_arch.deb, without the epoch as Debian does.
export function debFileName(p: FixturePackage): string {
  return `${p.name}_${p.version.replace(/^\d+:/, '')}_${archOf(p)}.deb`;
}

// Debian's pool directory: lib packages use a four-letter prefix (libf/libfoo).
export function poolDir(component: string, p: FixturePackage): string {
  const prefix = p.name.startsWith('lib') && p.name.length > 3 ? p.name.slice(0, 4) : p.name.slice(0, 1);
  return `pool/${component}/${prefix}/${p.name}`;
}

function installedSizeKiB(p: FixturePackage): number {
  let bytes = 0;
  for (const [file, content] of Object.entries(p.files ?? {})) {
    if (!file.startsWith('DEBIAN/')) bytes += Buffer.byteLength(content);
  }
  return Math.max(1, Math.ceil(bytes / 1024));
}

// Control fields in Debian's usual order; shared by DEBIAN/control and the Packages index.
export function controlFields(p: FixturePackage): Array<[string, string]> {
  const optional: Array<[string, string | undefined]> = [
    ['Multi-Arch', p.multiArch],
    ['Essential', p.essential ? 'yes' : undefined],
    ['Pre-Depends', p.preDepends],
    ['Depends', p.depends],
    ['Recommends', p.recommends],
    ['Conflicts', p.conflicts],
    ['Breaks', p.breaks],
    ['Provides', p.provides],
  ];
  return [
    ['Package', p.name],
    ['Version', p.version],
    ['Architecture', archOf(p)],
    ['Maintainer', MAINTAINER],
    ['Installed-Size', String(installedSizeKiB(p))],
    ...optional.filter((f): f is [string, string] => f[1] !== undefined && f[1] !== ''),
    ['Section', p.section ?? 'misc'],
    ['Priority', p.priority ?? 'optional'],
    ['Description', `fixture package ${p.name}\n Built by the g3-composer test fixture.`],
  ];
}

// Render fields as one deb822 stanza (no trailing blank line).
export function stanza(fields: Array<[string, string]>): string {
  return fields.map(([k, v]) => `${k}: ${v}\n`).join('');
}

/** A cache key covering everything that changes the built bytes. */
function contentKey(p: FixturePackage): string {
  const files = Object.entries(p.files ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([controlFields(p), files]);
}

/** Refuse paths that would escape the build tree; they are test bugs. */
function checkedPath(root: string, file: string): string {
  const full = path.resolve(root, file);
  if (path.isAbsolute(file) || !full.startsWith(root + path.sep)) {
    throw new Error(`fixture package: file path ${JSON.stringify(file)} must be relative and stay inside the package`);
  }
  return full;
}

async function build(p: FixturePackage): Promise<Buffer> {
  const work = await mkdtemp(path.join(tmpdir(), 'g3-deb-'));
  try {
    const tree = path.join(work, 'tree');
    await mkdir(path.join(tree, 'DEBIAN'), { recursive: true });
    await writeFile(path.join(tree, 'DEBIAN/control'), stanza(controlFields(p)));
    for (const [file, content] of Object.entries(p.files ?? {})) {
      const full = checkedPath(tree, file);
      await mkdir(path.dirname(full), { recursive: true });
      await writeFile(full, content);
      // dpkg-deb refuses maintainer scripts that are not executable.
      const script = file.startsWith('DEBIAN/') && SCRIPTS.has(file.slice(7));
      await chmod(full, script ? 0o755 : 0o644);
    }
    const out = path.join(work, 'out.deb');
    await run({ command: 'dpkg-deb', args: ['--build', '--root-owner-group', '-Znone', tree, out] }, { env: { SOURCE_DATE_EPOCH }, package: 'dpkg' });
    return await readFile(out);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

// Build (or reuse) the .deb for p and write it to outDir under its pool file name.
export async function buildDeb(outDir: string, p: FixturePackage): Promise<BuiltDeb> {
  const key = contentKey(p);
  let bytes = cache.get(key);
  if (!bytes) {
    bytes = build(p);
    cache.set(key, bytes);
    // A failed build is not cached, so a fixed test can retry in the same process.
    bytes.catch(() => cache.delete(key));
  }
  const data = await bytes;
  await mkdir(outDir, { recursive: true });
  const file = path.join(path.resolve(outDir), debFileName(p));
  await writeFile(file, data);
  const digest = (algo: string) => createHash(algo).update(data).digest('hex');
  return { file, size: data.length, sha256: digest('sha256'), md5: digest('md5') };
}
