// The cache registry between hosts: Debian's docker-registry (CNCF
// Distribution) on 127.0.0.1 with htpasswd auth. Host A (a catalogue copy with
// its own caches and work folder, no shared folder) builds `latest` and fills
// the registry; host B, with A's lock and the mirror unreachable, builds the
// same image bit for bit from the registry alone (packages, tools and the
// installed-package snapshot). Then the faults: a blob altered in the
// registry's storage, the registry down, a wrong password, and four builders
// pushing the same lock at once. Both "hosts" share this machine's Docker
// daemon (its base and composer images are made from the verified package
// cache either way).
import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, open, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/exec.js';
import { hashFile } from '../../src/fs/hash.js';
import { lockTag } from '../../src/registry/cache-manifest.js';
import { buildEnv, copyProjectCatalogue, type RunResult, runBuilder } from '../support/project.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';

const USER = 'g3-cache';
const PASSWORD = `Pw-${randomBytes(9).toString('base64url')}`;
/** A port nothing listens on: the mirror of host B, and a registry that is down. */
const CLOSED = 'http://127.0.0.1:9/debian';

interface Built {
  cache: { items: number; downloads: number; hits: { registry: number; origin: number }; registry?: { pulled: number } };
  compose: { image: string; installed: string; snapshot: string };
}

interface Cached {
  items: number;
  hits: { local: number; registry: number; origin: number };
  corrupt: Array<{ item: string; tier: string }>;
  registry: { unusable: string | null; pushFailed: string | null; pushed: number; present: number; manifests: string[] } | null;
  ok: boolean;
}

describe('an OCI registry as the cache tier between hosts', () => {
  let dir: string;
  let registry: TestRegistry;
  /** Host A's catalogue copy: its lock is the one every other host gets. */
  let catalogueA: string;
  let builtA: Built;
  let imageA: string;

  /** A host of its own: a catalogue copy with A's lock, and its own caches and work folder. */
  async function host(name: string): Promise<{ env: Record<string, string>; catalogue: string; cacheDir: string }> {
    const root = path.join(dir, name);
    const catalogue = await copyProjectCatalogue(path.join(root, 'docker'));
    await copyFile(path.join(path.dirname(catalogueA), 'latest.lock.json'), path.join(root, 'docker', 'latest.lock.json'));
    const cacheDir = path.join(root, 'cache');
    return { env: { ...registryEnv(), ...buildEnv(catalogue, cacheDir, path.join(root, 'work')) }, catalogue, cacheDir };
  }

  function registryEnv(repository = 'team/g3-cache', password = PASSWORD): Record<string, string> {
    return {
      G3_CACHE_REGISTRY: `${registry.host}/${repository}`,
      REGISTRY_USERNAME: USER,
      REGISTRY_PASSWORD: password,
      G3_RETRIES: '1',
      G3_RETRY_BACKOFF_MS: '50',
    };
  }

  const ok = (r: RunResult) => expect(r.code, `${r.stderr.slice(-3000)}\n${r.stdout.slice(-3000)}`).toBe(0);

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'g3-registry-tier-'));
    registry = await startRegistry({ auth: { username: USER, password: PASSWORD } });
    catalogueA = await copyProjectCatalogue(path.join(dir, 'a', 'docker'));
    const env = { ...registryEnv(), ...buildEnv(catalogueA, path.join(dir, 'a', 'cache'), path.join(dir, 'a', 'work')) };
    const r = await runBuilder(['latest', 'build', '--json'], env);
    ok(r);
    builtA = JSON.parse(r.stdout) as Built;
    imageA = builtA.compose.image;
  }, 1_200_000);

  afterAll(async () => {
    await registry?.stop();
    if (dir) await run({ command: 'rm', args: ['-rf', dir] }, { reject: false });
  });

  it('host A fills the registry: every blob of its lock, the manifest tagged by the lock digest, and the snapshots', { timeout: 300_000 }, async () => {
    expect(builtA.cache.hits.origin).toBe(builtA.cache.items);
    const env = { ...registryEnv(), ...buildEnv(catalogueA, path.join(dir, 'a', 'cache'), path.join(dir, 'a', 'work')) };
    const status = await runBuilder(['cache', 'status', '--json'], env);
    ok(status);
    const sets = (JSON.parse(status.stdout) as { registry: { sets: Array<{ what: string; tag: string; manifest: boolean; blobs: number; present: number }> } })
      .registry.sets;
    const latest = sets.find((s) => s.what === 'lock latest.lock.json');
    const digest = (await hashFile(path.join(path.dirname(catalogueA), 'latest.lock.json'))).sha256;
    expect(latest).toMatchObject({ tag: lockTag(digest), manifest: true });
    expect(latest?.present).toBe(latest?.blobs);
    expect(latest?.blobs).toBeGreaterThan(100);
    // The snapshots have manifests of their own, found by the keys a host computes from the lock.
    const tags = JSON.parse(
      (await run({ command: 'curl', args: ['-sf', '-u', `${USER}:${PASSWORD}`, `http://${registry.host}/v2/team/g3-cache/tags/list`] })).stdout,
    ) as { tags: string[] };
    expect(tags.tags).toEqual(
      expect.arrayContaining([lockTag(digest), expect.stringMatching(/^chroot-[0-9a-f]{64}$/), expect.stringMatching(/^installed-[0-9a-f]{64}$/)]),
    );
    const verify = await runBuilder(['cache', 'verify', '--registry', '--json'], env);
    ok(verify);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, problems: [] });
  });

  it('host B, with the mirror unreachable, builds the same image bit for bit from the registry alone', { timeout: 900_000 }, async () => {
    const b = await host('b');
    const r = await runBuilder(['latest', 'build', '--json'], { ...b.env, G3_MIRROR: CLOSED, G3_SECURITY_MIRROR: CLOSED });
    ok(r);
    const built = JSON.parse(r.stdout) as Built;
    expect(built.cache.downloads).toBe(0);
    expect(built.cache.hits.registry).toBe(built.cache.items);
    expect(built.compose.installed).toBe('fetched');
    expect(await hashFile(built.compose.image)).toEqual(await hashFile(imageA));
  });

  it('a blob altered in the registry is reported, never used nor written anywhere, and taken from the origin', { timeout: 300_000 }, async () => {
    const lock = JSON.parse(await readFile(path.join(path.dirname(catalogueA), 'latest.lock.json'), 'utf8')) as {
      image: { packages: Array<{ name: string; sha256: string; size: number; filename: string }> };
    };
    const victim = lock.image.packages.find((p) => p.name === 'zlib1g') ?? lock.image.packages[0];
    if (!victim) throw new Error('the lock lists no packages');
    const data = path.join(registry.dir, 'data', 'docker', 'registry', 'v2', 'blobs', 'sha256', victim.sha256.slice(0, 2), victim.sha256, 'data');
    const fh = await open(data, 'r+');
    const original = Buffer.alloc(8);
    await fh.read(original, 0, 8, 100);
    await fh.write(Buffer.from('tampered'), 0, 8, 100);
    await fh.close();
    // Put back at the end: the registry keeps one copy per digest for all its repositories, and a push of the right
    // bytes does not replace a stored blob, so the later tests would meet it again.
    const restore = async () => {
      const back = await open(data, 'r+');
      await back.write(original, 0, 8, 100);
      await back.close();
    };
    try {
      const verify = await runBuilder(['cache', 'verify', '--registry', '--json'], (await host('verifier')).env);
      expect(verify.code).toBe(1);
      const report = JSON.parse(verify.stdout) as { problems: Array<{ name: string; problem: string }> };
      expect(report.problems).toEqual([expect.objectContaining({ problem: 'corrupt', name: expect.stringContaining(path.basename(victim.filename)) })]);

      const c = await host('c');
      const r = await runBuilder(['latest', 'cache', '--json'], c.env);
      ok(r);
      const cached = JSON.parse(r.stdout) as Cached;
      expect(cached.corrupt).toEqual([expect.objectContaining({ tier: 'registry', item: expect.stringContaining(path.basename(victim.filename)) })]);
      expect(cached.hits.origin).toBe(1);
      expect(cached.hits.registry).toBe(cached.items - 1);
      expect(r.stderr).toMatch(/cache registry's copy of .* is corrupt, not used/);
      // The file in C's package cache is the verified one, not the registry's bytes.
      const local = path.join(c.cacheDir, 'pkgCache', 'debian-debian13-x86_64', path.basename(victim.filename));
      expect((await hashFile(local)).sha256).toBe(victim.sha256);
    } finally {
      await restore();
    }
  });

  it('a registry that is down, or refuses the password, is one warning: the cache fills from the origin', { timeout: 300_000 }, async () => {
    const down = await host('down');
    const r = await runBuilder(['latest', 'cache', '--json'], { ...down.env, G3_CACHE_REGISTRY: '127.0.0.1:9/g3-cache' });
    ok(r);
    const cached = JSON.parse(r.stdout) as Cached;
    expect(cached.ok).toBe(true);
    expect(cached.hits.origin).toBe(cached.items);
    expect(cached.registry?.unusable).toMatch(/cannot reach|ECONNREFUSED/);
    expect(r.stderr.match(/cache registry .* not used for the rest of this run/g)).toHaveLength(1);

    const wrong = await host('wrong');
    const bad = `Wrong-${randomBytes(6).toString('hex')}`;
    const w = await runBuilder(['latest', 'cache', '--json'], { ...wrong.env, REGISTRY_PASSWORD: bad });
    ok(w);
    const wc = JSON.parse(w.stdout) as Cached;
    expect(wc.hits.origin).toBe(wc.items);
    expect(w.stderr).toMatch(/credentials from REGISTRY_\* \(user g3-cache\) were rejected/);
    expect(w.stderr.match(/not used for the rest of this run/g)).toHaveLength(1);
    expect(`${w.stdout}${w.stderr}`).not.toContain(bad);
    // --push with a refusing registry is an error, not a warning.
    const pushed = await runBuilder(['latest', 'cache', '--push'], { ...wrong.env, REGISTRY_PASSWORD: bad });
    expect(pushed.code).toBe(1);
    expect(pushed.stderr).toMatch(/the cache registry was not filled/);
  });

  it('four builders pushing the same lock into an empty repository at once all succeed, and the registry verifies', { timeout: 600_000 }, async () => {
    const hosts = await Promise.all(['p1', 'p2', 'p3', 'p4'].map((n) => host(n)));
    const results = await Promise.all(hosts.map((h) => runBuilder(['latest', 'cache', '--push', '--json'], { ...h.env, ...registryEnv('race/g3-cache') })));
    for (const r of results) ok(r);
    const reports = results.map((r) => JSON.parse(r.stdout) as Cached);
    for (const c of reports) expect(c.registry).toMatchObject({ unusable: null, pushFailed: null });
    // Every blob was uploaded by one builder or found by another; none went missing.
    const uploaded = reports.reduce((n, c) => n + (c.registry?.pushed ?? 0), 0);
    expect(uploaded).toBeGreaterThan(0);
    const verify = await runBuilder(['cache', 'verify', '--registry', '--json'], { ...hosts[0]?.env, ...registryEnv('race/g3-cache') });
    ok(verify);
    const v = JSON.parse(verify.stdout) as { ok: boolean; good: number; withoutManifest: string[] };
    expect(v.ok).toBe(true);
    expect(v.good).toBe(reports[0]?.items);
    expect(v.withoutManifest).not.toContain('lock latest.lock.json');
  });
});
