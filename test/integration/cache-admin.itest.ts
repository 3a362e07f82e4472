// cache status|verify|prune|clean through the CLI's main(), on real caches: the
// g3 tiers filled by a real `cache` run from an origin on 127.0.0.1, package
// caches filled by the refresh engine, and workspace snapshots published as
// the compose stages publish them.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { recordFileUse, recordUse } from '../../src/layout/last-use.js';
import { itemLockPath as lockPath } from '../../src/layout/paths.js';
import { refresh } from '../../src/cache/refresh.js';
import { stampPath } from '../../src/layout/paths.js';
import { main } from '../../src/cli/main.js';
import { installedPaths } from '../../src/layout/paths.js';
import { publishSnapshot } from '../../src/compose/rootfs/snapshot.js';
import { snapshotPaths } from '../../src/layout/paths.js';
import { silent } from '../../src/log/events.js';
import { captureStreams } from '../unit/streams.js';
import { finalFiles, makeProject, type Project, ROOT, sha256, startScript } from '../support/project.js';

const P1 = 'debian-debian13-x86_64';
const P2 = 'debian-debian12-aarch64';
const DAY = 86_400_000;

// biome-ignore lint/suspicious/noExplicitAny: reports are checked field by field below
type Json = Record<string, any>;

interface Fixture {
  p: Project;
  env: Record<string, string>;
  pkgRoot: string;
  workDir: string;
  pkgs: Record<string, Array<{ file: string; data: Buffer }>>;
  chrootKey: string;
  installedKeys: string[];
}

let f: Fixture;
const children: ChildProcess[] = [];

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string; json: () => Json }> {
  const { text, streams } = captureStreams();
  const code = await main(args, { ...streams, env: f.env, cwd: f.p.dir, projectRoot: f.p.dir, prog: 'builder' });
  return { code, ...text, json: () => JSON.parse(text.stdout) as Json };
}

async function snapshot(stampFile: string, tarball: string, key: string): Promise<void> {
  await mkdir(path.dirname(tarball), { recursive: true });
  const tmp = `${tarball}.new`;
  await writeFile(tmp, randomBytes(20_000));
  await publishSnapshot({ tarball, stamp: stampFile }, tmp, key, 10);
}

beforeEach(async () => {
  const p = await makeProject({ count: 6, size: 4096 });
  const workDir = path.join(p.dir, 'workspace');
  const pkgRoot = path.join(p.dir, 'cache', 'pkgCache');
  const env = { ...p.env, G3_CACHE_DIR: path.join(p.dir, 'cache'), G3_WORK_DIR: workDir };
  f = { p, env, pkgRoot, workDir, pkgs: {}, chrootKey: 'c'.repeat(64), installedKeys: ['a'.repeat(64), 'b'.repeat(64)] };
  filledFrom = Date.now();
  const filled = await cli(['latest', 'cache']);
  expect(filled.code, filled.stderr).toBe(0);
  // Package caches of two providers, through the refresh engine as `cache` fills them.
  f.pkgs = {
    [P1]: [1, 2, 3].map((i) => ({ file: `p1-${i}_1.0_amd64.deb`, data: randomBytes(3000 + i) })),
    [P2]: [{ file: 'p2-1_1.0_arm64.deb', data: randomBytes(5000) }],
  };
  const artifacts = Object.entries(f.pkgs).flatMap(([section, files]) =>
    files.map((x) => {
      p.origin.setFile(`/pool/${x.file}`, x.data);
      return {
        section,
        file: x.file,
        urls: [`${p.origin.url}/pool/${x.file}`],
        sha256: sha256(x.data),
        size: x.data.length,
        origin: { file: 'test', line: 0 },
      };
    }),
  );
  const r = await refresh(artifacts, {
    localRoot: pkgRoot,
    sharedPath: p.shared,
    sharedSub: 'pkgCache',
    workers: 2,
    offline: false,
    verify: false,
    lockStaleMs: 60_000,
    fetch: { timeoutMs: 5000, retries: 1, minBackoffMs: 10, maxRetryAfterMs: 1000 },
    emit: silent,
  });
  expect(r.ok).toBe(true);
  // P1's workspace: chroot snapshot with its unpacked chroot, two installed snapshots, one image build.
  const sp = snapshotPaths(workDir, P1);
  await snapshot(sp.stamp, sp.tarball, f.chrootKey);
  await mkdir(path.join(sp.chrootEnv, 'etc'), { recursive: true });
  await writeFile(path.join(sp.chrootEnv, 'etc', 'hostname'), 'chroot\n');
  for (const key of f.installedKeys) {
    const ip = installedPaths(workDir, P1, key);
    await snapshot(ip.stamp, ip.tarball, key);
  }
  await mkdir(path.join(workDir, P1, 'imagebuild', 'img1'), { recursive: true });
  await writeFile(path.join(workDir, P1, 'imagebuild', 'img1', 'img1.raw'), randomBytes(8000));
});

afterEach(async () => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  await f.p.cleanup();
});

/** When the fixture's fill began: every use it recorded lies between then and now. */
let filledFrom = 0;

const local = (i: number) => f.p.files[i] as { section: string; file: string; data: Buffer; sha256: string };

/** A real process that takes `lockDir` with the lock module and holds it until killed. */
async function holdLock(lockDir: string): Promise<ChildProcess> {
  const script = path.join(f.p.dir, 'hold-lock.mts');
  await writeFile(
    script,
    `import { acquireLock } from ${JSON.stringify(path.join(ROOT, 'src/fs/lock.ts'))};\nawait acquireLock(process.argv[2] as string, { staleMs: 60_000 });\nprocess.stdout.write('held\\n');\nsetInterval(() => undefined, 1000);\n`,
  );
  const child = startScript(script, [lockDir], {});
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => d.toString().includes('held') && resolve());
    child.on('exit', (code) => reject(new Error(`lock holder exited with ${code}`)));
  });
  return child;
}

/** Every prunable entry recorded as used an hour ago, except those given. */
async function recordAll(except: Record<string, Date> = {}): Promise<void> {
  const hourAgo = new Date(Date.now() - 3_600_000);
  const at = (key: string) => except[key] ?? hourAgo;
  for (const x of f.p.files) await recordUse(f.p.local, path.join(x.section, x.file), at(`local:${x.file}`));
  for (const [provider, files] of Object.entries(f.pkgs))
    for (const x of files) await recordUse(f.pkgRoot, path.join(provider, x.file), at(`packages:${x.file}`));
  const pr = path.join(f.workDir, P1);
  await recordFileUse(pr, snapshotPaths(f.workDir, P1).tarball, at('chroot'));
  for (const key of f.installedKeys) await recordFileUse(pr, installedPaths(f.workDir, P1, key).tarball, at(`installed:${key}`));
}

describe('cache status', () => {
  it('counts entries and bytes per tier and group, with last use and the workspace snapshot keys', async () => {
    const r = await cli(['cache', 'status', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const s = r.json();
    expect(s.command).toBe('cache status');
    const tier = (t: string) => s.tiers.find((x: Json) => x.tier === t);
    for (const section of ['debs', 'tools']) {
      const files = f.p.files.filter((x) => x.section === section);
      const g = tier('local').groups.find((x: Json) => x.group === section);
      expect(g).toMatchObject({ entries: files.length, bytes: files.reduce((n, x) => n + x.data.length, 0), unrecorded: 0 });
      expect(Date.parse(g.lastUse)).toBeGreaterThanOrEqual(filledFrom - 1000);
      expect(Date.parse(g.lastUse)).toBeLessThanOrEqual(Date.now());
    }
    expect(tier('shared').entries).toBe(6);
    expect(tier('packages').groups.map((g: Json) => [g.group, g.entries])).toEqual([
      [P2, 1],
      [P1, 3],
    ]);
    const ws = s.workspace.find((w: Json) => w.provider === P1);
    expect(ws.chroot.key).toBe(f.chrootKey);
    expect(ws.chroot.bytes).toBe(20_000 + (await readFile(snapshotPaths(f.workDir, P1).stamp)).length + 'chroot\n'.length);
    expect(ws.installed.map((i: Json) => i.key).sort()).toEqual(f.installedKeys);
    expect(ws.imageBuilds).toEqual([expect.objectContaining({ name: 'img1', bytes: 8000 })]);
    expect(s.providers).toEqual([P2, P1]);
  });

  it('says "last use: unknown" with the mtime for entries without a record, and limits itself to --provider-id', async () => {
    await mkdir(path.join(f.p.local, 'extra'));
    await writeFile(path.join(f.p.local, 'extra', 'hand-made.bin'), 'x');
    const text = await cli(['cache', 'status']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^local\s+extra\s+1\s+1 B\s+unknown \(mtime \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\)$/m);
    expect(text.stdout).toMatch(new RegExp(`^${P1}\\s+chroot\\s+cccccccccccccccc…`, 'm'));
    const one = (await cli(['cache', 'status', '--provider-id', P2, '--json'])).json();
    expect(one.totals.entries).toBe(2);
    expect(one.tiers.flatMap((t: Json) => t.groups.map((g: Json) => [t.tier, g.group, g.entries]))).toEqual([
      ['packages', P2, 1],
      ['shared-packages', P2, 1],
    ]);
  });
});

describe('cache verify', () => {
  it('removes corrupt files with their stamps, keeps every good one, and exits 1', async () => {
    const bad = local(0);
    const badFile = path.join(f.p.local, bad.section, bad.file);
    // A new inode: the shared copy (a hardlink of the same file) stays good.
    await rm(badFile);
    await writeFile(badFile, Buffer.alloc(bad.data.length, 1));
    const pkg = f.pkgs[P1]?.[0] as { file: string; data: Buffer };
    await rm(path.join(f.pkgRoot, P1, pkg.file));
    await writeFile(path.join(f.pkgRoot, P1, pkg.file), pkg.data.subarray(0, 100));
    const ip = installedPaths(f.workDir, P1, f.installedKeys[0] as string);
    await writeFile(ip.tarball, 'not the snapshot');
    const before = await finalFiles(f.p.dir);

    const r = await cli(['cache', 'verify', '--json']);
    expect(r.code, r.stderr).toBe(1);
    const v = r.json();
    expect(v.corrupt.map((c: Json) => [c.tier, c.group, c.name, c.removed])).toEqual([
      ['packages', P1, pkg.file, true],
      ['local', bad.section, bad.file, true],
      ['workspace', P1, f.installedKeys[0], true],
    ]);
    expect(v.corrupt.every((c: Json) => /sha256|size/.test(c.reason))).toBe(true);
    const gone = [
      badFile,
      stampPath(f.p.local, bad.section, bad.file),
      path.join(f.pkgRoot, P1, pkg.file),
      stampPath(f.pkgRoot, P1, pkg.file),
      ip.tarball,
      ip.stamp,
    ];
    expect((await finalFiles(f.p.dir)).map((x) => path.join(f.p.dir, x))).toEqual(before.map((x) => path.join(f.p.dir, x)).filter((x) => !gone.includes(x)));
    for (const g of gone) await expect(access(g)).rejects.toThrow();
    for (const x of f.p.files.slice(1)) expect(sha256(await readFile(path.join(f.p.local, x.section, x.file)))).toBe(x.sha256);
    expect(sha256(await readFile(path.join(f.p.shared, bad.section, bad.file)))).toBe(bad.sha256);

    const again = await cli(['cache', 'verify', '--json']);
    expect(again.code).toBe(0);
    expect(again.json()).toMatchObject({ ok: true, corrupt: [] });
  });

  it('checks files without a stamp against the catalogue, and leaves a corrupt file whose lock a build holds', async () => {
    const [unstamped, stampless, held] = [local(2), local(3), local(4)];
    const at = (x: { section: string; file: string }) => path.join(f.p.local, x.section, x.file);
    for (const x of [unstamped, stampless]) await rm(stampPath(f.p.local, x.section, x.file));
    for (const x of [unstamped, held]) {
      await rm(at(x));
      await writeFile(at(x), randomBytes(x.data.length));
    }
    const holder = await holdLock(lockPath(f.p.local, held.section, held.file));
    const r = await cli(['cache', 'verify', '--provider-id', P1, '--json']);
    // --provider-id leaves the g3 sections of no provider alone.
    expect(r.json().corrupt).toEqual([]);
    const all = await cli(['cache', 'verify', '--json']);
    expect(all.code).toBe(1);
    const v = all.json();
    expect(v.corrupt.map((c: Json) => [c.name, c.removed])).toEqual([
      [unstamped.file, true],
      [held.file, false],
    ]);
    expect(v.corrupt[0].reason).toMatch(/from its catalogue/);
    expect(v.corrupt[1].note).toMatch(`not removed: held by pid ${holder.pid}`);
    expect(v.unverified).toEqual([]);
    await expect(access(at(unstamped))).rejects.toThrow();
    expect(sha256(await readFile(at(stampless)))).toBe(stampless.sha256);
    await expect(access(at(held))).resolves.toBeUndefined();
  });
});

describe('cache prune', () => {
  it('removes entries unused for longer than --older-than, oldest first, and --dry-run removes nothing', async () => {
    const [a, b, c] = [local(0), local(2), local(4)];
    await recordAll({
      [`local:${a.file}`]: new Date(Date.now() - 30 * DAY),
      [`local:${b.file}`]: new Date(Date.now() - 10 * DAY),
      [`local:${c.file}`]: new Date(Date.now() - 5 * DAY),
    });
    const before = await finalFiles(f.p.dir);
    const dry = await cli(['cache', 'prune', '--older-than', '7d', '--dry-run', '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.json().removed.map((e: Json) => e.name)).toEqual([a.file, b.file]);
    expect(await finalFiles(f.p.dir)).toEqual(before);

    const r = await cli(['cache', 'prune', '--older-than', '7d', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().removed.map((e: Json) => e.name)).toEqual([a.file, b.file]);
    for (const x of [a, b]) {
      await expect(access(path.join(f.p.local, x.section, x.file))).rejects.toThrow();
      await expect(access(stampPath(f.p.local, x.section, x.file))).rejects.toThrow();
      // The shared cache is not pruned from here.
      await expect(access(path.join(f.p.shared, x.section, x.file))).resolves.toBeUndefined();
    }
    await expect(access(path.join(f.p.local, c.section, c.file))).resolves.toBeUndefined();
  });

  it('with --max-size removes the least recently used until the rest fits', async () => {
    await recordAll({
      [`installed:${f.installedKeys[1]}`]: new Date(Date.now() - 9 * DAY),
      [`packages:${f.pkgs[P2]?.[0]?.file}`]: new Date(Date.now() - 8 * DAY),
      [`local:${local(1).file}`]: new Date(Date.now() - 7 * DAY),
    });
    const total = (await cli(['cache', 'prune', '--max-size', '1T', '--dry-run', '--json'])).json().before.bytes as number;
    // Just over what is left without the two oldest: those two go, the third stays.
    const twoOldest = 20_000 + (await readFile(installedPaths(f.workDir, P1, f.installedKeys[1] as string).stamp)).length + 5000;
    const r = await cli(['cache', 'prune', '--max-size', String(total - twoOldest), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = r.json();
    expect(report.removed.map((e: Json) => e.name)).toEqual([f.installedKeys[1], f.pkgs[P2]?.[0]?.file]);
    expect(report.fits).toBe(true);
    expect(report.after.bytes).toBe(total - twoOldest);
    await expect(access(path.join(f.p.local, local(1).section, local(1).file))).resolves.toBeUndefined();
  });

  it('skips an entry whose lock a running build holds, and says who holds it', async () => {
    const [a, b] = [local(0), local(1)];
    await recordAll({ [`local:${a.file}`]: new Date(Date.now() - 30 * DAY), [`local:${b.file}`]: new Date(Date.now() - 20 * DAY) });
    const holder = await holdLock(lockPath(f.p.local, a.section, a.file));
    const r = await cli(['cache', 'prune', '--older-than', '7d', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = r.json();
    expect(report.removed.map((e: Json) => e.name)).toEqual([b.file]);
    expect(report.held).toEqual([expect.objectContaining({ name: a.file, reason: expect.stringContaining(`held by pid ${holder.pid} on `) })]);
    expect(sha256(await readFile(path.join(f.p.local, a.section, a.file)))).toBe(a.sha256);
  });
});

describe('cache clean', () => {
  it('--dry-run lists what would go and removes nothing', async () => {
    const before = await finalFiles(f.p.dir);
    const r = await cli(['cache', 'clean', '--all', '--dry-run', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = r.json();
    expect(report).toMatchObject({ command: 'cache clean', scope: 'all', dryRun: true, held: [], failed: [] });
    expect(report.removed).toHaveLength(6 + 4 + 1 + 2 + 1);
    expect(await finalFiles(f.p.dir)).toEqual(before);
  });

  it("leaves a provider's packages alone while one of its builds runs (the lock a build holds from before its cache refresh)", async () => {
    const lockDir = path.join(f.workDir, P1, 'imagebuild', 'build-4242-0a1b2c3d.lock');
    const holder = await holdLock(lockDir);
    const before = await finalFiles(f.pkgRoot);
    try {
      const r = await cli(['cache', 'clean', '--packages', '--provider-id', P1, '--json']);
      expect(r.code, r.stderr).toBe(0);
      const report = r.json();
      expect(report.removed).toEqual([]);
      expect(report.held.length).toBeGreaterThan(0);
      for (const h of report.held) expect(h.reason).toContain(`pid ${holder.pid}`);
      expect(await finalFiles(f.pkgRoot)).toEqual(before);
      expect(before.filter((x) => x.startsWith(`${P1}/`)).length).toBeGreaterThan(0);
    } finally {
      holder.kill('SIGKILL');
      await rm(lockDir, { recursive: true, force: true });
    }
  });

  it("--packages --provider-id removes only that provider's package cache", async () => {
    const r = await cli(['cache', 'clean', '--packages', '--provider-id', P2, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().removed.map((e: Json) => e.path)).toEqual([path.join(f.pkgRoot, P2, 'p2-1_1.0_arm64.deb')]);
    expect((await finalFiles(f.pkgRoot)).sort()).toEqual((f.pkgs[P1] ?? []).map((x) => path.join(P1, x.file)).sort());
    expect(await finalFiles(f.p.local)).toHaveLength(6);
  });

  it('--workspace removes snapshots and image builds but leaves what a running build holds', async () => {
    const holder = await holdLock(path.join(f.workDir, P1, 'imagebuild', 'img1.lock'));
    const r = await cli(['cache', 'clean', '--workspace', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = r.json();
    expect(report.removed.map((e: Json) => e.kind).sort()).toEqual(['chroot', 'installed', 'installed']);
    expect(report.held).toEqual([expect.objectContaining({ kind: 'imagebuild', reason: expect.stringContaining(`pid ${holder.pid}`) })]);
    expect(await finalFiles(path.join(f.workDir, P1))).toEqual([
      path.join('imagebuild', 'img1.lock', 'owner.json'),
      path.join('imagebuild', 'img1', 'img1.raw'),
    ]);
    // The package cache and the g3-cache are another scope.
    expect(await finalFiles(f.pkgRoot)).toHaveLength(4);
  });

  it('--all removes the local caches and workspace, never the shared cache', async () => {
    const shared = await finalFiles(f.p.shared);
    const r = await cli(['cache', 'clean', '--all']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/removed 14 entries/);
    for (const root of [f.p.local, f.pkgRoot, path.join(f.workDir, P1)]) expect(await finalFiles(root)).toEqual([]);
    expect(await finalFiles(f.p.shared)).toEqual(shared);
  });
});

describe('bad input', () => {
  it.each([
    [['cache', 'prune'], /cache prune needs --older-than, --max-size or both/],
    [['cache', 'prune', '--older-than', '10x'], /--older-than "10x" is not an age/],
    [['cache', 'prune', '--older-than', '180'], /--older-than "180" has no unit/],
    [['cache', 'prune', '--max-size', '20Q'], /--max-size "20Q" is not a size/],
    [['cache', 'clean'], /needs one of --packages, --workspace and --all/],
    [['cache', 'clean', '--packages', '--all'], /not --packages and --all/],
    [['cache', 'clean', '--all', '--provider-id', '../etc'], /--provider-id "\.\.\/etc" must be a plain name/],
    [['cache', 'verify', '--provider-id', '.hidden'], /must not start with "\."/],
    [['cache', 'status', '--provider-id', 'nope'], new RegExp(`no cache or workspace holds provider "nope"\\nKnown provider ids: ${P2}, ${P1}\\.`)],
  ])('%j exits 2 with a clear message and removes nothing', async (args, message) => {
    const before = await finalFiles(f.p.dir);
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(await finalFiles(f.p.dir)).toEqual(before);
  });
});
