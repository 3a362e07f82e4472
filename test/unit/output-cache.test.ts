// The output cache's stamps: a build's outputs as written match; a file
// written again, replaced, removed or made a link does not.
import { mkdtemp, rename, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BuildResult } from '../../src/commands/build.js';
import { outputsChanged, stampOutputs } from '../../src/pipeline/output-cache.js';

let dir: string;
const f = (name: string) => path.join(dir, name);

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'g3-outcache-'));
  for (const n of ['x.raw', 'x.spdx.json', 'x.manifest.json']) await writeFile(f(n), n);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The parts of a build result the output cache reads. */
const result = () =>
  ({
    compose: {
      artifacts: [{ file: 'x.raw', path: f('x.raw'), type: 'raw', size: 5, sha256: 'a'.repeat(64) }],
      sbom: { path: f('x.spdx.json'), packages: 1, licensed: 1, noAssertion: 0 },
      manifest: f('x.manifest.json'),
    },
  }) as unknown as BuildResult;

describe('output stamps', () => {
  it('records every output with its identity and the artifact SHA256, and finds them unchanged', async () => {
    const stamps = await stampOutputs(result());
    expect(stamps.map((s) => [path.basename(s.path), s.size, s.sha256])).toEqual([
      ['x.raw', 5, 'a'.repeat(64)],
      ['x.spdx.json', 11, ''],
      ['x.manifest.json', 15, ''],
    ]);
    expect(await outputsChanged(stamps)).toBeUndefined();
  });

  it.each([
    ['written with the same size (mtime moves)', async () => utimes(f('x.raw'), new Date(0), new Date(0)), 'was written or replaced since the last build'],
    [
      'replaced by another file',
      async () => {
        await writeFile(f('new'), 'x.raw');
        await rename(f('new'), f('x.raw'));
      },
      'was written or replaced since the last build',
    ],
    ['removed', async () => rm(f('x.spdx.json')), 'is gone'],
    [
      'made a symbolic link to an identical file',
      async () => {
        await writeFile(f('elsewhere'), 'x.manifest.json');
        await rm(f('x.manifest.json'));
        await symlink(f('elsewhere'), f('x.manifest.json'));
      },
      'is no longer a regular file',
    ],
  ])('says why when an output was %s', async (_what, change, words) => {
    const stamps = await stampOutputs(result());
    await change();
    expect(await outputsChanged(stamps)).toContain(words);
  });

  it('refuses to stamp an output that is not a regular file, and treats no outputs as nothing to reuse', async () => {
    await rm(f('x.raw'));
    await symlink(f('x.spdx.json'), f('x.raw'));
    await expect(stampOutputs(result())).rejects.toThrow(/is not a regular file/);
    expect(await outputsChanged([])).toBe('the last build recorded no outputs');
  });
});
