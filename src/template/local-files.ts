// Host files a template names: additionalFiles[].local and
// packageRepositories[].pkey. After every symbolic link is resolved they must
// lie under the template's folder (keys also under the toolkit's own
// keyrings), so a template cannot read /etc/shadow into an image or a build
// context. `validate` and the build run these same functions; the build runs
// them again because files can change in between.
import { constants, type Stats } from 'node:fs';
import { type FileHandle, open, readlink, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { StepError, UserError } from '../errors.js';
import { ignoreNotFound, isNotFound } from '../fs/safe.js';
import { escapeInline, firstUnsafeChar } from '../text/untrusted.js';
import { locate } from './origin.js';
import type { AdditionalFile } from './types.js';

/** A path shown in a message: control and bidi characters escaped. */
const shown = (p: string) => escapeInline(p);

/** Why `final` is not an acceptable path in the image, or undefined when it is. */
export function finalPathProblem(final: string): string | undefined {
  if (final.includes('\0')) return 'contains a NUL character';
  const odd = firstUnsafeChar(final);
  if (odd) return `contains the control character ${odd.code}`;
  if (!final.startsWith('/')) return 'must be an absolute path in the image';
  if (final.split('/').includes('..')) return 'must not contain ".." segments';
  if (final.endsWith('/')) return 'must name a file, not a directory';
  return undefined;
}

/** Why `local`, as written, cannot name a file inside the template's folder (before looking at the disk), or undefined. */
export function localPathProblem(local: string): string | undefined {
  const odd = local.includes('\0') ? { code: 'NUL' } : firstUnsafeChar(local);
  if (odd) return `must not contain control characters (it has ${odd.code})`;
  const normal = path.posix.normalize(local);
  if (local === '' || path.posix.isAbsolute(local) || normal === '.' || normal === '..' || normal.startsWith('../')) {
    return `must be a file inside the template's directory, not "${shown(local)}"`;
  }
  return undefined;
}

/**
 * The folder a template key's relative paths are read from: that of the
 * template in the extends chain that wrote `obj`, else (a default template's
 * entry, or no record) that of `templateFile`, the target's own template.
 */
export function declaringDir(obj: object, chain: readonly string[], templateFile: string): string {
  const from = locate(obj)?.file;
  return path.dirname(from !== undefined && chain.includes(from) ? from : templateFile);
}

/** Where an additionalFiles entry's `local` file is: beside the template that named it (`fallbackDir` when not recorded). */
export function additionalFilePath(f: AdditionalFile, fallbackDir: string): string | undefined {
  if (!f.local) return undefined;
  return path.resolve(additionalFileDir(f, fallbackDir), f.local);
}

function additionalFileDir(f: AdditionalFile, fallbackDir: string): string {
  const from = locate(f)?.file;
  return from ? path.dirname(from) : fallbackDir;
}

/** A host file that passed the check: its real path (every link resolved) and what it is. */
export interface ConfinedFile {
  real: string;
  stats: Stats;
  /** The real path of the folder it lies in. */
  root: string;
}

/** `file` with every link resolved when it lies inside one of `roots`; `missing` when it does not exist; else why not. */
async function confine(file: string, roots: readonly string[]): Promise<ConfinedFile | { missing: true } | { problem: string }> {
  let real: string;
  try {
    real = await realpath(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (isNotFound(err) || code === 'ENOTDIR') return { missing: true };
    if (code === 'ELOOP') return { problem: `is a loop of symbolic links (${shown(file)})` };
    throw new StepError(`cannot resolve ${shown(file)}: ${(err as Error).message}`, { cause: err });
  }
  for (const r of roots) {
    // A folder that does not exist (no shipped keyrings) holds nothing.
    const root = await ignoreNotFound(realpath(r));
    if (root !== undefined && isInside(real, root)) return { real, root, stats: await stat(real) };
  }
  const where = roots.map((r) => shown(r)).join(' or ');
  return { problem: `resolves to ${shown(real)}, outside ${where} (a symbolic link or ".." leads out; copy the file in instead)` };
}

function isInside(p: string, root: string): boolean {
  const rel = path.relative(root, p);
  return rel !== '' && !rel.startsWith(`..${path.sep}`) && rel !== '..' && !path.isAbsolute(rel);
}

/**
 * The host file of an additionalFiles entry, checked: written as a relative
 * path, inside the folder of the template that names it after every link is
 * resolved, and a regular file (folders are not copied). A problem is a
 * UserError naming `where` (file:line: field, or the field path).
 */
export async function additionalFileSource(f: AdditionalFile, fallbackDir: string, where: string): Promise<ConfinedFile> {
  const local = f.local ?? '';
  const lexical = localPathProblem(local);
  if (lexical) throw new UserError(`${where} ${lexical}`, `Paths are relative to ${shown(additionalFileDir(f, fallbackDir))}.`);
  const dir = additionalFileDir(f, fallbackDir);
  const source = path.resolve(dir, local);
  const found = await confine(source, [dir]);
  const fail = (problem: string, hint: string): never => {
    throw new UserError(`${where}: ${shown(local)} ${problem}`, hint);
  };
  if ('missing' in found)
    return fail(`does not exist (looked for ${shown(source)})`, "Paths are relative to the template's directory; check the name or add the file.");
  if ('problem' in found) return fail(found.problem, "additionalFiles may only copy files that lie in the template's folder.");
  if (found.stats.isDirectory())
    return fail(`is not a regular file but a directory (${shown(source)})`, 'Name a file, not a directory: folders are not copied; list each file.');
  if (!found.stats.isFile()) return fail(`is not a regular file (${shown(source)})`, 'Name a file, not a directory.');
  return found;
}

/**
 * Read an additionalFiles entry's host file for the build, checked again as
 * `validate` checks it. The file is opened without following a link, and the
 * path the open file really has is checked once more, so a link swapped in
 * after the check cannot lead outside the template's folder.
 */
export async function readAdditionalFile(f: AdditionalFile, fallbackDir: string, where: string): Promise<{ bytes: Uint8Array; mode: string; source: string }> {
  const found = await additionalFileSource(f, fallbackDir, where);
  let fh: FileHandle;
  try {
    fh = await open(found.real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP')
      throw new UserError(`${where}: ${shown(f.local ?? '')} was replaced by a symbolic link while the build ran`, 'Run the build again.');
    throw new StepError(`${where}: cannot read ${shown(found.real)}: ${(err as Error).message}`, { cause: err });
  }
  try {
    // Where the open file really is; without /proc (not Linux) the checked real path stands.
    const opened = (await ignoreNotFound(readlink(`/proc/self/fd/${fh.fd}`))) ?? found.real;
    if (!isInside(opened, found.root))
      throw new UserError(
        `${where}: ${shown(f.local ?? '')} now resolves to ${shown(opened)}, outside ${shown(found.root)}`,
        'A link was swapped in while the build ran; run the build again.',
      );
    const st = await fh.stat();
    if (!st.isFile()) throw new UserError(`${where}: ${shown(f.local ?? '')} is not a regular file (${shown(found.real)})`, 'Name a file, not a directory.');
    // Keep scripts runnable; everything else gets the usual mode for configuration files.
    const mode = (st.mode & 0o111) !== 0 ? '0755' : '0644';
    return { bytes: await fh.readFile(), mode, source: found.real };
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new StepError(`${where}: cannot read ${shown(found.real)}: ${(err as Error).message}`, { cause: err });
  } finally {
    await fh.close();
  }
}

/** The folder of keyrings shipped with the toolkit. */
export function shippedKeyrings(projectRoot: string): string {
  return path.join(projectRoot, 'defaults', 'keyrings');
}

/**
 * The keyring file a repository's `pkey` names (default: Debian's archive
 * keyring), with every link resolved: a file beside the template, else one
 * of the toolkit's keyrings. It must lie under one of those two folders; a
 * problem (missing, outside, not a file) is a UserError starting with `where`.
 */
export async function resolveKeyFile(pkey: string | undefined, templateDir: string, projectRoot: string, where: string): Promise<string> {
  const shipped = shippedKeyrings(projectRoot);
  const name = pkey ?? 'debian-archive-keyring.gpg';
  const odd = name.includes('\0') ? { code: 'NUL' } : firstUnsafeChar(name);
  if (odd) throw new UserError(`${where}: pkey must not contain control characters (it has ${odd.code})`, 'Name a keyring file beside the template.');
  const candidates = path.isAbsolute(name) ? [name] : [path.resolve(templateDir, name), path.join(shipped, name)];
  for (const c of candidates) {
    const found = await confine(c, [templateDir, shipped]);
    if ('missing' in found) continue;
    if ('problem' in found)
      throw new UserError(`${where}: pkey ${shown(name)} ${found.problem}`, `Keys must lie in the template's folder or in ${shown(shipped)}.`);
    if (!found.stats.isFile())
      throw new UserError(`${where}: pkey ${shown(name)} is not a regular file (${shown(found.real)})`, 'Name a keyring file (.gpg or .asc).');
    return found.real;
  }
  throw new UserError(
    `${where}: pkey ${shown(name)} not found (looked in ${candidates.map(shown).join(', ')})`,
    'Put the keyring beside the template or in defaults/keyrings/.',
  );
}
