// Issue 13, item 1: an origin that closes each connection right after the body
// (HTTP/1.0, as `python3 -m http.server`) while the client's body stream is
// paused by backpressure. undici 7 died there with an uncatchable
// `AssertionError: assert(!this.paused)` (undici bug #5360, fixed in undici 8,
// which needs Node >= 22.19). Eight real `./builder.sh ... cache` runs at
// once, many rounds, then a SIGKILL loop mid-download.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ignoreNotFound } from '../../src/fs/safe.js';
import { type Http10Origin, startHttp10Origin } from '../support/http10-origin.js';
import { badFinalFiles, collect, finalFiles, ROOT, type RunResult, sha256, type TestFile, tempFiles, writeCatalogue } from '../support/project.js';

const MiB = 1024 * 1024;
const ROUNDS = Number(process.env.G3_BACKPRESSURE_ROUNDS ?? 10);
const PARALLEL = 8;

let dir: string;
let origin: Http10Origin;
let files: TestFile[];
let env: Record<string, string>;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'g3-backpressure-'));
  // Several MiB each: far more than undici's body buffer, so the body stream pauses many times per file.
  files = Array.from({ length: 4 }, (_, i) => {
    const data = randomBytes(6 * MiB + i * 4099);
    return { section: 'big', file: `blob-${i}.bin`, data, sha256: sha256(data) };
  });
  origin = await startHttp10Origin(Object.fromEntries(files.map((f) => [`/${f.section}/${f.file}`, f.data])));
  const catalogue = path.join(dir, 'targets.yml');
  await writeCatalogue(catalogue, 'latest', files, origin.url);
  env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/root',
    CI: '1',
    G3_TARGETS: catalogue,
    G3_CACHE_DIR: path.join(dir, 'cache'),
    G3_WORK_DIR: path.join(dir, 'workspace'),
    G3_RETRY_BACKOFF_MS: '50',
    G3_RETRIES: '3',
    G3_HTTP_TIMEOUT: '20',
  };
});
afterEach(async () => {
  await origin.close();
  await rm(dir, { recursive: true, force: true });
});

/** Start the real shim, as users do, with a local tier and a shared tier ('' for none). */
function start(local: string, shared: string): ChildProcess {
  return spawn(path.join(ROOT, 'builder.sh'), ['latest', 'cache', '--json', '--shared-cache', shared], {
    cwd: dir,
    env: { ...env, G3_LOCAL_CACHE: local },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

const describeRun = (r: RunResult) => `exit ${r.code} signal ${r.signal}\n${r.stderr.slice(-2000)}`;

describe('an origin that closes the connection after each body, under backpressure', () => {
  it(`${PARALLEL} parallel cache runs for ${ROUNDS} rounds all exit 0 with every file verified, never an AssertionError`, async () => {
    const locals = Array.from({ length: PARALLEL }, (_, i) => path.join(dir, `local-${i}`));
    for (let round = 0; round < ROUNDS; round++) {
      // Empty local tiers and no shared tier: every run downloads every file in every round.
      await Promise.all(locals.map((d) => rm(d, { recursive: true, force: true })));
      const results = await Promise.all(locals.map((d) => collect(start(d, ''))));
      for (const r of results) {
        expect(r.stderr + r.stdout, describeRun(r)).not.toContain('AssertionError');
        expect(r.code, describeRun(r)).toBe(0);
        expect(JSON.parse(r.stdout).downloads).toBe(files.length);
      }
      for (const d of locals) {
        expect(await finalFiles(d)).toHaveLength(files.length);
        expect(await badFinalFiles(d, files)).toEqual([]);
      }
    }
    for (const f of files) expect(origin.requests(`/${f.section}/${f.file}`)).toBe(ROUNDS * PARALLEL);
  });

  it('SIGKILL mid-download, again and again, never leaves a partial file under a final name; the next run completes', async () => {
    const shared = path.join(dir, 'shared');
    const locals = [path.join(dir, 'local-a'), path.join(dir, 'local-b')];
    for (let round = 0; round < 8; round++) {
      // Nothing anywhere: every item must be downloaded, each once (the shared tier's locks).
      for (const d of [...locals, shared]) await rm(d, { recursive: true, force: true });
      await mkdir(shared);
      origin.hold(512 * 1024 + round * 65_536);
      const kids = locals.map((d) => start(d, shared));
      const ends = kids.map((k) => collect(k));
      // The origin has sent part of every item's body and holds the rest (a run that ends first fails the test) ...
      await Promise.race([
        origin.held(files.length),
        ...ends.map((e) => e.then((r) => Promise.reject(new Error(`a run ended before the kill: ${describeRun(r)}`)))),
      ]);
      // ... and the builders have written some of it to their temporary files.
      expect(await waitFor(async () => (await partialBytes(dir)) > 0), 'a temporary file with bytes in it').toBe(true);
      for (const k of kids) k.kill('SIGKILL');
      const results = await Promise.all(ends);
      origin.release();
      for (const r of results) expect(r.signal, describeRun(r)).toBe('SIGKILL');
      // Killed mid-download: temporary files may remain, but no final name holds anything unverified.
      expect(await tempFiles(dir)).not.toEqual([]);
      for (const d of [...locals, shared]) expect(await badFinalFiles(d, files)).toEqual([]);
    }
    const r = await collect(start(locals[0]!, shared));
    expect(r.stderr + r.stdout, describeRun(r)).not.toContain('AssertionError');
    expect(r.code, describeRun(r)).toBe(0);
    for (const d of [locals[0]!, shared]) {
      expect(await finalFiles(d)).toHaveLength(files.length);
      expect(await badFinalFiles(d, files)).toEqual([]);
    }
  });
});

/** Bytes in temporary files under `root` (downloads in progress or left by a kill). */
async function partialBytes(root: string): Promise<number> {
  let n = 0;
  // A download in progress may rename its temporary file away between the listing and the stat.
  for (const f of await tempFiles(root)) n += (await ignoreNotFound(stat(f)))?.size ?? 0;
  return n;
}

/** Check `cond` until it holds, at most 20 s; the bound only ends a broken run. */
async function waitFor(cond: () => Promise<boolean>): Promise<boolean> {
  for (let i = 0; i < 400; i++) {
    if (await cond()) return true;
    await delay(50);
  }
  return false;
}
