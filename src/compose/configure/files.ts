// systemConfig.additionalFiles: host files (relative to the template's
// directory) copied to absolute paths in the image. All of them are read and
// checked before the image is changed, so a typo fails the build early.
import { UserError } from '../../errors.js';
import { finalPathProblem, readAdditionalFile } from '../../template/local-files.js';
import type { AdditionalFile } from '../../template/types.js';
import { type Emit, writeInImage } from './io.js';
import type { Runner } from '../../docker/runner.js';

export interface PreparedFile {
  /** Absolute path in the image. */
  final: string;
  bytes: Uint8Array;
  /** "0755" when the source has any execute bit, else "0644". */
  mode: string;
  /** As written in the template, for messages. */
  local: string;
}

// The same checks `validate` makes (template/local-files.ts), made again here because files change.
export { finalPathProblem } from '../../template/local-files.js';

/** Check every entry and read its source from the host. */
export async function prepareFiles(files: AdditionalFile[], templateDir: string): Promise<PreparedFile[]> {
  const out: PreparedFile[] = [];
  for (const [i, f] of files.entries()) {
    const where = `systemConfig.additionalFiles[${i}]`;
    const final = f.final ?? '';
    const problem = finalPathProblem(final);
    if (problem)
      throw new UserError(`${where}.final ${problem}: ${JSON.stringify(final)}`, 'Give the absolute path the file should have in the image, e.g. /etc/motd.');
    // Inside the template's folder after every link is resolved, a regular file; read without following a link.
    const { bytes, mode } = await readAdditionalFile(f, templateDir, `${where}.local`);
    out.push({ final, local: f.local ?? '', bytes, mode });
  }
  return out;
}

/** Write the prepared files into the image, in template order. */
export async function installFiles(runner: Runner, rootfs: string, files: PreparedFile[], emit: Emit): Promise<void> {
  for (const f of files) {
    await writeInImage(runner, rootfs, f.final, f.bytes, f.mode);
    emit({ type: 'info', message: `added ${f.final} (mode ${f.mode}, from ${f.local})` });
  }
}
