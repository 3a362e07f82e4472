// Faults for a repository written by writeRepo, applied after it: the ways a
// mirror or a man in the middle can break signed metadata.
import { createHash } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type SigningKey, signRelease } from './debrepo-key.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

const exists = (file: string) =>
  stat(file).then(
    () => true,
    () => false,
  );

/** dists/<codename> of a written repository, or a clear error. */
async function suiteDir(root: string, codename: string): Promise<string> {
  const dir = path.join(path.resolve(root), 'dists', codename);
  if (!(await exists(path.join(dir, 'Release')))) throw new Error(`no Release in ${dir}: call writeRepo with suite ${codename} first`);
  return dir;
}

/** Change one byte of the Label value, keeping the file's length and structure. */
function tamper(text: string): string {
  const at = text.indexOf('\nLabel: ');
  if (at < 0) throw new Error('tamperSignedText: no Label field found');
  const i = at + '\nLabel: '.length;
  const c = text[i] ?? '';
  return text.slice(0, i) + (c === 'X' ? 'Y' : 'X') + text.slice(i + 1);
}

// Fault: change one byte of the signed text of InRelease and of Release (signatures now bad).
export async function tamperSignedText(root: string, codename: string): Promise<void> {
  const dir = await suiteDir(root, codename);
  for (const name of ['Release', 'InRelease']) {
    const file = path.join(dir, name);
    if (await exists(file)) await writeFile(file, tamper(await readFile(file, 'utf8')));
  }
}

// Fault: change an index file after signing (hash mismatch), and its by-hash copy too.
export async function corruptIndex(root: string, codename: string, relPath: string): Promise<void> {
  const dir = await suiteDir(root, codename);
  const file = path.join(dir, relPath);
  const data = await readFile(file).catch(() => {
    throw new Error(`corruptIndex: ${file} does not exist; written indexes are listed in fixture.suites.${codename}.indexes`);
  });
  const byHash = path.join(path.dirname(file), 'by-hash/SHA256', sha256(data));
  // Flip a byte in the middle: same size, different digest (and for xz/gz, broken data).
  const mid = Math.floor(data.length / 2);
  data[mid] = (data[mid] ?? 0) ^ 0xff;
  await writeFile(file, data);
  if (await exists(byHash)) await writeFile(byHash, data);
}

// Fault: re-sign the suite's Release (as it is now) with another key.
export async function resignWith(root: string, codename: string, key: SigningKey): Promise<void> {
  const dir = await suiteDir(root, codename);
  const hasIn = await exists(path.join(dir, 'InRelease'));
  const hasGpg = await exists(path.join(dir, 'Release.gpg'));
  const sign = hasIn && !hasGpg ? 'inrelease' : hasGpg && !hasIn ? 'detached' : 'both';
  await signRelease(dir, sign, key, codename);
}
