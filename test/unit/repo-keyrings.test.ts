import { mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StepError, UserError } from '../../src/errors.js';
import { binaryKeyrings, isArmored } from '../../src/repo/deb/keyrings.js';
import { verifyClearsigned, verifyDetached } from '../../src/repo/deb/signature.js';
import { run } from '../../src/exec.js';
import { disposeKey, makeSigningKey, type SigningKey } from '../support/debrepo.js';
import { useTempDirs } from './tmpdir.js';

const tempDir = useTempDirs('g3-repo-keys-');

/** Sign `file` with the test key: clearsigned or detached (armored). */
async function sign(k: SigningKey, mode: '--clearsign' | '--detach-sign', file: string, out: string) {
  const args = ['--batch', '--yes', '--quiet', '--homedir', k.home, '--pinentry-mode', 'loopback', '--passphrase', ''];
  await run({ command: 'gpg', args: [...args, '--local-user', k.fingerprint, '--armor', '--output', out, mode, file] });
}
let keyDir: string;
let key: SigningKey;

beforeAll(async () => {
  keyDir = await mkdtemp('/tmp/g3-repo-keys-fixed-');
  key = await makeSigningKey(keyDir, 'keyrings test');
});
afterAll(async () => {
  await disposeKey(key);
  await rm(keyDir, { recursive: true, force: true });
});

describe('keyrings for gpgv', () => {
  it('tells armored keys from binary keyrings by content', async () => {
    expect(await isArmored(key.armored)).toBe(true);
    expect(await isArmored(key.keyring)).toBe(false);
  });

  it('passes binary keyrings through and dearmors armored ones into the store, once', async () => {
    const store = await tempDir();
    const [bin, asc] = await binaryKeyrings([key.keyring, key.armored], store, 'repository x', false);
    expect(bin).toBe(key.keyring);
    expect(asc?.startsWith(path.join(store, 'keyrings'))).toBe(true);
    expect(await readFile(asc as string)).toEqual(await readFile(key.keyring));
    const before = (await stat(asc as string)).mtimeMs;
    const [again] = await binaryKeyrings([key.armored], store, 'repository x', false);
    expect(again).toBe(asc);
    expect((await stat(again as string)).mtimeMs).toBe(before);
  });

  it('names a keyring that does not exist', async () => {
    const store = await tempDir();
    await expect(binaryKeyrings(['/nonexistent/key.gpg'], store, 'repository x', false)).rejects.toThrow(
      /repository x: keyring \/nonexistent\/key.gpg not found/,
    );
  });

  it('reports a keyring it cannot read as such, not as missing', async () => {
    const store = await tempDir();
    const loop = path.join(store, 'loop.gpg');
    await symlink(loop, loop);
    const err = await binaryKeyrings([loop], store, 'repository x', false).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepError);
    expect((err as Error).message).toBe(`repository x: cannot read keyring ${loop}: ELOOP`);
  });

  it('refuses a keyring that is a directory', async () => {
    const store = await tempDir();
    await expect(binaryKeyrings([store], store, 'repository x', false)).rejects.toThrow(`repository x: keyring ${store} is not a regular file`);
  });

  it('refuses a repository without keyrings unless it is trusted', async () => {
    const store = await tempDir();
    await expect(binaryKeyrings([], store, 'repository x', false)).rejects.toThrow(UserError);
    const [empty] = await binaryKeyrings([], store, 'repository x', true);
    expect((await stat(empty as string)).size).toBe(0);
  });
});

describe('gpgv checks', () => {
  it.each(['binary', 'armored'] as const)('accepts a clearsigned file with the %s key and returns the text gpgv wrote', async (form) => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'Release'), 'Codename: trixie\n');
    await sign(key, '--clearsign', path.join(dir, 'Release'), path.join(dir, 'InRelease'));
    const keyrings = await binaryKeyrings([form === 'binary' ? key.keyring : key.armored], dir, 'repository x', false);
    const { verdict, text } = await verifyClearsigned(path.join(dir, 'InRelease'), keyrings);
    expect(verdict).toMatchObject({ ok: true, fingerprint: key.fingerprint });
    expect(text).toBe('Codename: trixie\n');
  });

  it('rejects a detached signature over changed data', async () => {
    const dir = await tempDir();
    const release = path.join(dir, 'Release');
    await writeFile(release, 'Codename: trixie\n');
    await sign(key, '--detach-sign', release, path.join(dir, 'Release.gpg'));
    expect(await verifyDetached(path.join(dir, 'Release.gpg'), release, [key.keyring])).toMatchObject({ ok: true });
    await writeFile(release, 'Codename: trixiE\n');
    expect(await verifyDetached(path.join(dir, 'Release.gpg'), release, [key.keyring])).toMatchObject({ ok: false, problem: 'bad signature' });
  });
});
