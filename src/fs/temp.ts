// The toolkit's own temporary folders (a converted image, a gpg home, a
// docker build's id file, a private DOCKER_CONFIG), all under one root: the
// resolved temp_dir (G3_TEMP_DIR), else the OS temp dir. Cache and work folders
// keep their own hidden temporary names; this is for everything else.
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { StepError, UserError } from '../errors.js';

let root: string | undefined;

/** Make `dir` the root of every temporary folder (the CLI sets the resolved temp_dir); undefined: the OS temp dir. */
export function setTempRoot(dir: string | undefined): void {
  root = dir;
}

/** Where temporary folders go now. */
export function tempRoot(): string {
  return root ?? os.tmpdir();
}

/** A new private folder under `base` (default: tempRoot()) named `prefix` plus random characters. */
export async function makeTempDir(prefix: string, base = tempRoot()): Promise<string> {
  try {
    return await mkdtemp(path.join(base, prefix));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    const why = `cannot make a temporary folder in ${base} (temp_dir): ${(err as Error).message}`;
    // A folder that is not there or not writable is a setting to fix; a full or failing disk is not.
    if (['ENOENT', 'ENOTDIR', 'EACCES', 'EPERM', 'EROFS', 'ELOOP'].includes(code)) {
      throw new UserError(
        why,
        'Set temp_dir (G3_TEMP_DIR, or temp_dir in the config file) to a folder that exists and is writable, or leave it unset for the OS temp dir.',
      );
    }
    throw new StepError(why, { cause: err });
  }
}
