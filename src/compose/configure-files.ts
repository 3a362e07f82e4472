// systemConfig.additionalFiles: host files (relative to the template's
// directory) copied to absolute paths in the image. All of them are read and
// checked before the image is changed, so a typo fails the build early.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { StepError, UserError } from '../errors.js';
import type { AdditionalFile } from '../template/types.js';
import { type Emit, writeInImage } from './configure-io.js';
import type { Runner } from './runner.js';

export interface PreparedFile {
  /** Absolute path in the image. */
  final: string;
  bytes: Uint8Array;
  /** "0755" when the source has any execute bit, else "0644". */
  mode: string;
  /** As written in the template, for messages. */
  local: string;
}

/** Why `final` is not an acceptable path in the image, or undefined when it is. */
export function finalPathProblem(final: string): string | undefined {
  if (final.includes('\0')) return 'contains a NUL character';
  if (!final.startsWith('/')) return 'must be an absolute path in the image';
  if (final.split('/').includes('..')) return 'must not contain ".." segments';
  if (final.endsWith('/')) return 'must name a file, not a directory';
  return undefined;
}

/** Check every entry and read its source from the host. */
export async function prepareFiles(files: AdditionalFile[], templateDir: string): Promise<PreparedFile[]> {
  const out: PreparedFile[] = [];
  for (const [i, f] of files.entries()) {
    const where = `systemConfig.additionalFiles[${i}]`;
    const final = f.final ?? '';
    const problem = finalPathProblem(final);
    if (problem) throw new UserError(`${where}.final ${problem}: ${JSON.stringify(final)}`, 'Give the absolute path the file should have in the image, e.g. /etc/motd.');
    const local = f.local ?? '';
    const source = path.resolve(templateDir, local);
    const rel = path.relative(templateDir, source);
    if (local === '' || rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
      throw new UserError(`${where}.local must be a file inside the template's directory, not ${JSON.stringify(local)}`, `Paths are relative to ${templateDir}.`);
    }
    out.push({ final, local, ...(await readSource(source, local, where)) });
  }
  return out;
}

async function readSource(source: string, local: string, where: string): Promise<{ bytes: Uint8Array; mode: string }> {
  try {
    const st = await stat(source);
    if (!st.isFile()) throw new UserError(`${where}.local: ${local} is not a regular file (${source})`, 'Name a file, not a directory.');
    // Keep scripts runnable; everything else gets the usual mode for configuration files.
    const mode = (st.mode & 0o111) !== 0 ? '0755' : '0644';
    return { bytes: await readFile(source), mode };
  } catch (err) {
    if (err instanceof UserError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new UserError(`${where}.local: ${local} does not exist (looked for ${source})`, "Paths are relative to the template's directory; check the name or add the file.");
    }
    throw new StepError(`${where}.local: cannot read ${source}: ${(err as Error).message}`, { cause: err });
  }
}

/** Write the prepared files into the image, in template order. */
export async function installFiles(runner: Runner, rootfs: string, files: PreparedFile[], emit: Emit): Promise<void> {
  for (const f of files) {
    await writeInImage(runner, rootfs, f.final, f.bytes, f.mode);
    emit({ type: 'info', message: `added ${f.final} (mode ${f.mode}, from ${f.local})` });
  }
}
