// Keyrings as gpgv wants them. gpgv 2.2 reads only binary keyrings (an armored
// .asc is "invalid packet" and every signature looks like an unknown key), so
// armored files are dearmored once into the store, named by their own hash.
import type { Stats } from 'node:fs';
import { open, rm, stat } from 'node:fs/promises';
import { makeTempDir } from '../../fs/temp.js';
import path from 'node:path';
import { writeFileAtomic } from '../../fs/atomic.js';
import { hashFile } from '../../fs/hash.js';
import { StepError, UserError } from '../../errors.js';
import { runBinary } from '../../exec.js';
import { ignoreNotFound } from '../../fs/safe.js';
import { escapeInline } from '../../text/untrusted.js';

/** True when the file starts like ASCII armor rather than a binary OpenPGP packet. */
export async function isArmored(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(1024);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    // A binary packet's first byte has its high bit set, so never starts with '-'.
    return buf.subarray(0, bytesRead).toString('latin1').trimStart().startsWith('-----BEGIN PGP');
  } finally {
    await fh.close();
  }
}

/**
 * Binary keyring paths for gpgv: binary ones as given, armored ones dearmored
 * into `<storeDir>/keyrings/`. A trusted repository without keyrings gets an
 * empty one, so gpgv still extracts the signed text (and reports the key as unknown).
 */
export async function binaryKeyrings(keyrings: string[], storeDir: string, where: string, trusted: boolean): Promise<string[]> {
  if (keyrings.length === 0 && trusted) return [await emptyKeyring(storeDir)];
  if (keyrings.length === 0)
    throw new UserError(
      `${where}: no keyring configured to check its signature`,
      'Name the archive keyring of the repository (e.g. /usr/share/keyrings/debian-archive-keyring.gpg), or mark it trusted: true only if you accept unsigned metadata.',
    );
  const out: string[] = [];
  for (const file of keyrings) {
    const st = await statKeyring(file, where);
    if (!st)
      throw new UserError(`${where}: keyring ${escapeInline(file)} not found`, 'Check the keyring path (absolute) or install the package that ships it.');
    if (!st.isFile()) throw new UserError(`${where}: keyring ${escapeInline(file)} is not a regular file`, 'Name a keyring file (.gpg or .asc).');
    out.push((await isArmored(file)) ? await dearmored(file, storeDir) : file);
  }
  return out;
}

/** stat of a keyring, undefined when it does not exist; a failure other than "not there" (permission, a loop of links) is reported as such. */
async function statKeyring(file: string, where: string): Promise<Stats | undefined> {
  try {
    return await ignoreNotFound(stat(file));
  } catch (err) {
    throw new StepError(`${where}: cannot read keyring ${escapeInline(file)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
      cause: err,
    });
  }
}

async function emptyKeyring(storeDir: string): Promise<string> {
  const file = path.join(storeDir, 'keyrings', 'empty.gpg');
  if (!(await ignoreNotFound(stat(file)))) await writeFileAtomic(file, Buffer.alloc(0));
  return file;
}

async function dearmored(file: string, storeDir: string): Promise<string> {
  const { sha256 } = await hashFile(file);
  const dest = path.join(storeDir, 'keyrings', `${sha256}.gpg`);
  if (await ignoreNotFound(stat(dest))) return dest;
  // gpg wants a home directory even to dearmor; a throwaway one keeps ~/.gnupg untouched.
  const home = await makeTempDir('g3-gpg-');
  try {
    const { stdout } = await runBinary(
      { command: 'gpg', args: ['--batch', '--no-options', '--homedir', home, '--dearmor'] },
      { inputFile: file, package: 'gnupg' },
    );
    if (stdout.length === 0) throw new UserError(`keyring ${file} holds no key`, 'Use the armored (.asc) or binary (.gpg) export of the archive signing key.');
    await writeFileAtomic(dest, stdout);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
  return dest;
}
