import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import type { CacheEvent } from '../../src/log/events.js';
import { MetadataStore } from '../../src/repo/deb/store.js';
import type { SuiteState } from '../../src/repo/deb/types.js';
import { useTempDirs } from './tmpdir.js';

const tempDir = useTempDirs('g3-repo-store-');
const sha = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

async function newStore() {
  const dir = await tempDir();
  const events: CacheEvent[] = [];
  return { dir, events, store: new MetadataStore(dir, (e) => events.push(e)) };
}

async function put(store: MetadataStore, data: string) {
  const tmp = await store.tempBlob();
  await writeFile(tmp, data);
  return store.adopt(tmp);
}

const state = (releaseSha: string): SuiteState => ({
  version: 1,
  url: 'http://127.0.0.1:1/debian',
  codename: 'trixie',
  release: { kind: 'inline', sha256: releaseSha, size: 10 },
  indexes: [{ component: 'main', arch: 'amd64', path: 'main/binary-amd64/Packages.xz', sha256: sha('x'), size: 1 }],
  verifiedAt: '2026-01-01T00:00:00.000Z',
});

describe('MetadataStore blobs', () => {
  it('keeps an adopted file under by-hash/sha256/<hex> and finds it by digest', async () => {
    const { dir, store } = await newStore();
    const put1 = await put(store, 'hello');
    expect(put1).toEqual({ sha256: sha('hello'), size: 5, file: path.join(dir, 'by-hash', 'sha256', sha('hello')) });
    expect(await store.find({ sha256: sha('hello'), size: 5 })).toBe(put1.file);
    expect(await readFile(put1.file, 'utf8')).toBe('hello');
  });

  it('leaves no temporary file behind after adopting or discarding', async () => {
    const { dir, store } = await newStore();
    await put(store, 'a');
    const tmp = await store.tempBlob();
    await writeFile(tmp, 'b');
    await store.discard(tmp);
    expect(await readdir(path.join(dir, 'by-hash', 'sha256'))).toEqual([sha('a')]);
  });

  it('answers undefined for a digest it does not hold, without warnings', async () => {
    const { events, store } = await newStore();
    expect(await store.find({ sha256: sha('absent') })).toBeUndefined();
    expect(events).toEqual([]);
  });

  it.each([
    ['its content changed', 'hellp', 5],
    ['it was truncated', 'hel', 5],
  ])('deletes a stored blob and warns when %s', async (_why, replacement, size) => {
    const { events, store } = await newStore();
    const { file, sha256 } = await put(store, 'hello');
    await writeFile(file, replacement);
    expect(await store.find({ sha256, size })).toBeUndefined();
    await expect(readFile(file)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(events).toEqual([{ type: 'warning', message: expect.stringContaining(`${file} is corrupt`) }]);
  });

  it('treats a right hash with an unexpected size as corrupt', async () => {
    const { store } = await newStore();
    const { sha256 } = await put(store, 'hello');
    expect(await store.find({ sha256, size: 6 })).toBeUndefined();
  });

  it.each(['ABC', '../etc/passwd', sha('x').toUpperCase(), `${sha('x')}0`])('refuses %s as a digest', async (bad) => {
    const { store } = await newStore();
    expect(() => store.blobPath(bad)).toThrow(UserError);
  });
});

describe('MetadataStore suite state', () => {
  it('reads back the state it wrote', async () => {
    const { store } = await newStore();
    await store.writeState('trixie-main', state(sha('r')));
    expect(await store.readState('trixie-main')).toEqual(state(sha('r')));
  });

  it('replaces the state of a suite and keeps other suites apart', async () => {
    const { store } = await newStore();
    await store.writeState('a', state(sha('1')));
    await store.writeState('b', state(sha('2')));
    await store.writeState('a', state(sha('3')));
    expect((await store.readState('a'))?.release.sha256).toBe(sha('3'));
    expect((await store.readState('b'))?.release.sha256).toBe(sha('2'));
  });

  it('answers undefined for a suite never verified', async () => {
    const { store } = await newStore();
    expect(await store.readState('never')).toBeUndefined();
  });

  it.each([
    ['not JSON', '{"version":'],
    ['another version', JSON.stringify({ ...state(sha('r')), version: 2 })],
    ['a release without digest', JSON.stringify({ ...state(sha('r')), release: { kind: 'inline' } })],
  ])('ignores a state file that is %s, with a warning', async (_what, text) => {
    const { dir, events, store } = await newStore();
    await mkdir(path.join(dir, 'suites'), { recursive: true });
    await writeFile(path.join(dir, 'suites', 'x.json'), text);
    expect(await store.readState('x')).toBeUndefined();
    expect(events).toEqual([{ type: 'warning', message: expect.stringContaining('unreadable') }]);
  });

  it.each(['../escape', 'a/b', '.hidden', ''])('refuses the repository id %j as a file name', async (id) => {
    const { store } = await newStore();
    await expect(store.writeState(id, state(sha('r')))).rejects.toThrow(UserError);
    await expect(store.readState(id)).rejects.toThrow(UserError);
  });

  it('remembers the detached signature of a Release by the Release digest', async () => {
    const { store } = await newStore();
    expect(await store.signatureFor(sha('rel'))).toBeUndefined();
    await store.recordSignature(sha('rel'), { sha256: sha('sig'), size: 3 });
    expect(await store.signatureFor(sha('rel'))).toEqual({ sha256: sha('sig'), size: 3 });
  });
});
