// Temporary folders go under the resolved temp_dir, and a temp_dir that cannot
// hold one is a user error naming it.
import { readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { makeTempDir, setTempRoot, tempRoot } from '../../src/fs/temp.js';
import { useTempDirs } from './tmpdir.js';

const tempDir = useTempDirs('g3-temp-root-');
afterEach(() => setTempRoot(undefined));

describe('makeTempDir', () => {
  it('makes folders under the OS temp dir until a temp root is set, then under it', async () => {
    expect(tempRoot()).toBe(os.tmpdir());
    const root = await tempDir();
    setTempRoot(root);
    const made = await makeTempDir('g3-x-');
    expect(path.dirname(made)).toBe(root);
    expect(path.basename(made)).toMatch(/^g3-x-.{6}$/);
    expect(await readdir(root)).toEqual([path.basename(made)]);
    await rm(made, { recursive: true });
  });

  it.each<[string, (dir: string) => Promise<string>]>([
    ['a folder that does not exist', async (dir) => path.join(dir, 'absent')],
    [
      'a file',
      async (dir) => {
        const f = path.join(dir, 'file');
        await writeFile(f, '');
        return f;
      },
    ],
  ])('refuses %s as temp_dir with a user error naming it', async (_what, make) => {
    const base = await make(await tempDir());
    setTempRoot(base);
    const err = await makeTempDir('g3-x-').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toMatch(new RegExp(`^cannot make a temporary folder in ${base} \\(temp_dir\\): `));
    expect((err as UserError).hint).toContain('G3_TEMP_DIR');
  });

  it('takes an explicit base over the temp root', async () => {
    const [root, base] = [await tempDir(), await tempDir()];
    setTempRoot(root);
    const made = await makeTempDir('g3-y-', base);
    expect(path.dirname(made)).toBe(base);
    await rm(made, { recursive: true });
  });
});
