// A fresh temporary directory per test, removed afterwards.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';

/** Call at the top of a describe/file: returns a function that makes a temp dir removed after the test. */
export function useTempDirs(prefix = 'g3-unit-'): (base?: string) => Promise<string> {
  const made: string[] = [];
  afterEach(async () => {
    await Promise.all(made.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });
  return async (base = os.tmpdir()) => {
    const dir = await mkdtemp(path.join(base, prefix));
    made.push(dir);
    return dir;
  };
}
