// Repository metadata against a real signed Debian repository (debs built by
// dpkg-deb, signatures by gpg) served over HTTP on 127.0.0.1.
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { StepError, UserError } from '../../src/errors.js';
import type { CacheEvent } from '../../src/log/events.js';
import { closeFetch } from '../../src/net/fetch.js';
import { loadRepository, loadRepositoryPinned } from '../../src/repo/deb/repository.js';
import type { MetadataOptions, RepoSpec } from '../../src/repo/deb/types.js';
import {
  corruptIndex,
  disposeKey,
  type FixturePackage,
  makeSigningKey,
  type SigningKey,
  type SuiteSpec,
  tamperSignedText,
  resignWith,
  writeRepo,
} from '../support/debrepo.js';
import { type Origin, startOrigin } from '../support/origin.js';

const PACKAGES: FixturePackage[] = [
  { name: 'hello', version: '1.0-1', depends: 'libc6 (>= 2.36)' },
  { name: 'hello-data', version: '1.0-1', arch: 'all' },
];
const HOUR = 3600_000;

let keyDir: string;
let key: SigningKey;
let otherKey: SigningKey;
const dirs: string[] = [];
const origins: Origin[] = [];

beforeAll(async () => {
  keyDir = await mkdtemp(path.join(os.tmpdir(), 'g3-repo-keys-'));
  key = await makeSigningKey(keyDir, 'repo key');
  otherKey = await makeSigningKey(keyDir, 'stranger key');
});
afterAll(async () => {
  await Promise.all([disposeKey(key), disposeKey(otherKey)]);
  await rm(keyDir, { recursive: true, force: true });
  await closeFetch();
});
afterEach(async () => {
  await Promise.all(origins.splice(0).map((o) => o.close()));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'g3-repo-meta-'));
  dirs.push(d);
  return d;
}

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** A written, served repository with one suite, plus a spec and options to load it. */
async function serve(suite: Partial<SuiteSpec> = {}, specOver: Partial<RepoSpec> = {}) {
  const root = await tempDir();
  const fixture = await writeRepo(root, { suites: [{ codename: 'trixie', components: { main: PACKAGES }, ...suite }], key });
  const origin = await startOrigin({ dir: root });
  origins.push(origin);
  const spec: RepoSpec = {
    id: 'fixture-trixie',
    url: `${origin.url}/`,
    codename: 'trixie',
    components: ['main'],
    archs: ['amd64'],
    keyrings: [key.keyring],
    trusted: false,
    ...specOver,
  };
  const events: CacheEvent[] = [];
  const opts: MetadataOptions = {
    storeDir: await tempDir(),
    offline: false,
    ignoreValidUntil: false,
    fetch: { timeoutMs: 5000, retries: 1, minBackoffMs: 10, maxRetryAfterMs: 1000 },
    emit: (e) => events.push(e),
  };
  const warnings = () => events.filter((e) => e.type === 'warning').map((e) => (e as { message: string }).message);
  return { root, fixture, origin, spec, opts, events, warnings, dists: path.join(root, 'dists', 'trixie') };
}

const names = (m: { packages: { name: string }[] }) => m.packages.map((p) => p.name).sort();

describe('loadRepository online', () => {
  it('loads a repository signed with InRelease and reports who signed it', async () => {
    const r = await serve();
    const m = await loadRepository(r.spec, r.opts);
    expect(names(m)).toEqual(['hello', 'hello-data']);
    expect(m.packages.every((p) => p.repository === 'fixture-trixie')).toBe(true);
    expect(m.release).toMatchObject({
      sha256: sha(await readFile(path.join(r.dists, 'InRelease'))),
      signedBy: key.fingerprint,
      codename: 'trixie',
      suite: 'trixie',
    });
    expect(m.indexes).toEqual([expect.objectContaining({ component: 'main', arch: 'amd64', path: 'main/binary-amd64/Packages.xz' })]);
    expect(m.fromCache).toBe(false);
    expect(r.origin.requests('/dists/trixie/InRelease')).toBe(1);
    expect(r.origin.requests('/dists/trixie/Release')).toBe(0);
  });

  it('accepts an armored (.asc) keyring', async () => {
    const r = await serve({}, { keyrings: [key.armored] });
    expect((await loadRepository(r.spec, r.opts)).release.signedBy).toBe(key.fingerprint);
  });

  it('falls back to Release and Release.gpg when there is no InRelease', async () => {
    const r = await serve({ sign: 'detached' });
    const m = await loadRepository(r.spec, r.opts);
    expect(names(m)).toEqual(['hello', 'hello-data']);
    expect(m.release.sha256).toBe(sha(await readFile(path.join(r.dists, 'Release'))));
    expect(m.release.signedBy).toBe(key.fingerprint);
    expect([r.origin.requests('/dists/trixie/InRelease'), r.origin.requests('/dists/trixie/Release'), r.origin.requests('/dists/trixie/Release.gpg')]).toEqual([
      1, 1, 1,
    ]);
    expect(r.warnings()).toEqual([expect.stringContaining('no InRelease')]);
  });

  it('falls back to gzip and to the plain index when no xz is published', async () => {
    const gz = await serve({ compress: ['gz'] });
    expect((await loadRepository(gz.spec, gz.opts)).indexes[0]?.path).toBe('main/binary-amd64/Packages.gz');
    const plain = await serve({ compress: ['none'] });
    const m = await loadRepository(plain.spec, plain.opts);
    expect(m.indexes[0]?.path).toBe('main/binary-amd64/Packages');
    expect(names(m)).toEqual(['hello', 'hello-data']);
  });

  it('refuses an unsigned repository', async () => {
    const r = await serve({ sign: 'none' });
    const err = await loadRepository(r.spec, r.opts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toMatch(new RegExp(`repository ${r.origin.url} trixie: no signature`));
    expect((err as UserError).hint).toMatch(/trusted: true/);
  });

  it('loads an unsigned repository marked trusted, with a warning', async () => {
    const r = await serve({ sign: 'none' }, { trusted: true });
    const m = await loadRepository(r.spec, r.opts);
    expect(names(m)).toEqual(['hello', 'hello-data']);
    expect(m.release.signedBy).toBeUndefined();
    expect(r.warnings()).toContainEqual(expect.stringMatching(/no signature .*accepted because the repository is marked trusted/));
  });

  it.each(['inrelease', 'detached'] as const)('refuses a %s Release changed after signing', async (sign) => {
    const r = await serve({ sign });
    await tamperSignedText(r.root, 'trixie');
    await expect(loadRepository(r.spec, r.opts)).rejects.toThrow(/trixie: bad signature/);
  });

  it('refuses a Release signed by a key that is not in the keyrings, naming the key', async () => {
    const r = await serve({ sign: 'inrelease' });
    await resignWith(r.root, 'trixie', otherKey);
    await expect(loadRepository(r.spec, r.opts)).rejects.toThrow(new RegExp(`signed by unknown key ${otherKey.fingerprint.slice(-16)}`));
  });

  it('refuses metadata past its Valid-Until, and loads it with a warning when told to ignore that', async () => {
    const r = await serve({ date: new Date(Date.now() - 48 * HOUR), validUntil: new Date(Date.now() - 24 * HOUR) });
    await expect(loadRepository(r.spec, r.opts)).rejects.toThrow(/metadata expired on \d{4}-\d\d-\d\dT/);
    const m = await loadRepository(r.spec, { ...r.opts, ignoreValidUntil: true });
    expect(names(m)).toEqual(['hello', 'hello-data']);
    expect(r.warnings()).toContainEqual(expect.stringContaining('Valid-Until ignored'));
  });

  it('refuses a Release for another codename than the one asked for', async () => {
    const r = await serve();
    await symlink('trixie', path.join(r.root, 'dists', 'forky'));
    await expect(loadRepository({ ...r.spec, codename: 'forky' }, r.opts)).rejects.toThrow(/is for Codename trixie, Suite trixie, not forky/);
  });

  it('accepts a request by suite name (dists/stable) when the Release says Suite: stable', async () => {
    const r = await serve({ suite: 'stable' });
    const m = await loadRepository({ ...r.spec, codename: 'stable' }, r.opts);
    expect(m.release).toMatchObject({ codename: 'trixie', suite: 'stable' });
  });

  it('fails on an index whose content does not match the signed digest, naming the file and URL', async () => {
    const r = await serve();
    await corruptIndex(r.root, 'trixie', 'main/binary-amd64/Packages.xz');
    const err = await loadRepository(r.spec, r.opts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepError);
    expect((err as Error).message).toMatch(
      /cannot fetch main\/binary-amd64\/Packages\.xz from http:\/\/127\.0\.0\.1:\d+\/dists\/trixie\/main\/binary-amd64\/Packages\.xz: sha256 mismatch: expected [0-9a-f]{64}, got [0-9a-f]{64}/,
    );
    // A wrong digest is not a transient failure: no retry.
    expect(r.origin.requests('/dists/trixie/main/binary-amd64/Packages.xz')).toBe(1);
  });

  it('skips a component the Release does not have, with a warning', async () => {
    const r = await serve({}, { components: ['main', 'contrib'] });
    expect(names(await loadRepository(r.spec, r.opts))).toEqual(['hello', 'hello-data']);
    expect(r.warnings()).toEqual([expect.stringContaining('component contrib is not in the Release')]);
  });
});

describe('by-hash and the store', () => {
  it('fetches indexes by hash when the Release offers it', async () => {
    const r = await serve({ byHash: true });
    const m = await loadRepository(r.spec, r.opts);
    const ref = m.indexes[0];
    expect(r.origin.requests(`/dists/trixie/main/binary-amd64/by-hash/SHA256/${ref?.sha256}`)).toBe(1);
    expect(r.origin.requests('/dists/trixie/main/binary-amd64/Packages.xz')).toBe(0);
  });

  it('falls back to the plain index name when the by-hash file is missing', async () => {
    const r = await serve({ byHash: true });
    r.origin.fault(`/dists/trixie/main/binary-amd64/by-hash/SHA256/${await xzDigest(r.dists)}`, { kind: 'status', status: 404 });
    const m = await loadRepository(r.spec, r.opts);
    expect(names(m)).toEqual(['hello', 'hello-data']);
    expect(r.origin.requests('/dists/trixie/main/binary-amd64/Packages.xz')).toBe(1);
    expect(r.warnings()).toEqual([expect.stringMatching(/by-hash.*HTTP 404; trying/)]);
  });

  it('downloads nothing but InRelease on a second run', async () => {
    const r = await serve({ byHash: true });
    const first = await loadRepository(r.spec, r.opts);
    r.origin.resetCounts();
    r.events.length = 0;
    const second = await loadRepository(r.spec, r.opts);
    expect(r.origin.totalRequests()).toBe(1);
    expect(r.origin.requests('/dists/trixie/InRelease')).toBe(1);
    expect(second.packages).toEqual(first.packages);
    expect(r.events.filter((e) => e.type === 'info' && e.message.startsWith('fetched'))).toHaveLength(1);
  });

  it('refetches a stored index that was damaged on disk', async () => {
    const r = await serve();
    const first = await loadRepository(r.spec, r.opts);
    const ref = first.indexes[0];
    await writeFile(path.join(r.opts.storeDir, 'by-hash', 'sha256', ref?.sha256 ?? ''), 'garbage');
    r.origin.resetCounts();
    expect((await loadRepository(r.spec, r.opts)).packages).toEqual(first.packages);
    expect(r.origin.requests('/dists/trixie/main/binary-amd64/Packages.xz')).toBe(1);
    expect(r.warnings()).toContainEqual(expect.stringContaining('is corrupt'));
  });
});

describe('loadRepository offline', () => {
  it('resolves from the store after a warm run without any request', async () => {
    const r = await serve();
    const online = await loadRepository(r.spec, r.opts);
    r.origin.resetCounts();
    const offline = await loadRepository(r.spec, { ...r.opts, offline: true });
    expect(r.origin.totalRequests()).toBe(0);
    expect(offline.fromCache).toBe(true);
    expect(offline.packages).toEqual(online.packages);
    expect(offline.release).toEqual(online.release);
  });

  it('works offline for a detached-signed repository', async () => {
    const r = await serve({ sign: 'detached' });
    const online = await loadRepository(r.spec, r.opts);
    await r.origin.close();
    expect((await loadRepository(r.spec, { ...r.opts, offline: true })).release).toEqual(online.release);
  });

  it('refuses to run offline with an empty store', async () => {
    const r = await serve();
    const err = await loadRepository(r.spec, { ...r.opts, offline: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(/no verified metadata for repository .* trixie .*; run once online/);
    expect(r.origin.totalRequests()).toBe(0);
  });

  it('checks the stored signature again (a keyring change takes effect offline)', async () => {
    const r = await serve();
    await loadRepository(r.spec, r.opts);
    await expect(loadRepository({ ...r.spec, keyrings: [otherKey.keyring] }, { ...r.opts, offline: true })).rejects.toThrow(/signed by unknown key/);
  });

  it('checks Valid-Until again against the clock', async () => {
    const r = await serve({ validUntil: new Date(Date.now() + HOUR) });
    await loadRepository(r.spec, r.opts);
    const later = () => new Date(Date.now() + 2 * HOUR);
    await expect(loadRepository(r.spec, { ...r.opts, offline: true, now: later })).rejects.toThrow(/metadata expired on/);
  });

  it('fails offline when a stored index is damaged', async () => {
    const r = await serve();
    const m = await loadRepository(r.spec, r.opts);
    await writeFile(path.join(r.opts.storeDir, 'by-hash', 'sha256', m.indexes[0]?.sha256 ?? ''), 'garbage');
    await expect(loadRepository(r.spec, { ...r.opts, offline: true })).rejects.toThrow(/no verified copy of main\/binary-amd64\/Packages\.xz/);
  });
});

describe('loadRepositoryPinned', () => {
  it('loads the pinned digests from the store after the repository moved on, without requests', async () => {
    const r = await serve({ byHash: true });
    const locked = await loadRepository(r.spec, r.opts);
    await writeRepo(r.root, { suites: [{ codename: 'trixie', byHash: true, components: { main: [...PACKAGES, { name: 'newer', version: '1' }] } }], key });
    expect(names(await loadRepository(r.spec, r.opts))).toContain('newer');
    r.origin.resetCounts();
    const pinned = await loadRepositoryPinned(r.spec, { releaseSha256: locked.release.sha256, indexes: locked.indexes }, { ...r.opts, offline: true });
    expect(names(pinned)).toEqual(['hello', 'hello-data']);
    expect(pinned.fromCache).toBe(true);
    expect(r.origin.totalRequests()).toBe(0);
  });

  it('fetches pinned indexes by hash into an empty store while the Release is unchanged', async () => {
    const r = await serve({ byHash: true });
    const locked = await loadRepository(r.spec, r.opts);
    r.origin.resetCounts();
    const fresh = { ...r.opts, storeDir: await tempDir() };
    const pinned = await loadRepositoryPinned(r.spec, { releaseSha256: locked.release.sha256, indexes: locked.indexes }, fresh);
    expect(pinned.packages).toEqual(locked.packages);
    expect(pinned.fromCache).toBe(false);
    expect(r.origin.requests(`/dists/trixie/main/binary-amd64/by-hash/SHA256/${locked.indexes[0]?.sha256}`)).toBe(1);
  });

  it('refuses a pin whose Release the server no longer serves and the store lacks', async () => {
    const r = await serve();
    const locked = await loadRepository(r.spec, r.opts);
    await writeRepo(r.root, { suites: [{ codename: 'trixie', components: { main: [{ name: 'other', version: '2' }] } }], key });
    const pin = { releaseSha256: locked.release.sha256, indexes: locked.indexes };
    await expect(loadRepositoryPinned(r.spec, pin, { ...r.opts, storeDir: await tempDir() })).rejects.toThrow(/the Release changed since the lock was written/);
  });

  it('refuses a pin that names an index the pinned Release does not list', async () => {
    const r = await serve();
    const locked = await loadRepository(r.spec, r.opts);
    const bogus = locked.indexes.map((i) => ({ ...i, sha256: 'f'.repeat(64) }));
    await expect(loadRepositoryPinned(r.spec, { releaseSha256: locked.release.sha256, indexes: bogus }, r.opts)).rejects.toThrow(
      /does not list with that digest/,
    );
  });

  it('accepts a pinned Release past its Valid-Until (the lock chose it)', async () => {
    const r = await serve({ validUntil: new Date(Date.now() + HOUR) });
    const locked = await loadRepository(r.spec, r.opts);
    const later = () => new Date(Date.now() + 48 * HOUR);
    const pinned = await loadRepositoryPinned(
      r.spec,
      { releaseSha256: locked.release.sha256, indexes: locked.indexes },
      { ...r.opts, offline: true, now: later },
    );
    expect(pinned.packages).toEqual(locked.packages);
  });
});

/** The digest of the published Packages.xz, from the file itself. */
async function xzDigest(dists: string): Promise<string> {
  return sha(await readFile(path.join(dists, 'main', 'binary-amd64', 'Packages.xz')));
}
