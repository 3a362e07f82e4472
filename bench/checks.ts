// Checks that every measured run did what it claims: a benchmark of a failing
// command is worthless. Each check throws an Error naming what was wrong.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { type DataSet, SECTION } from './data.js';
import type { CheckReport, RefreshReport } from '../src/cache/refresh.js';
import type { Run } from './measure.js';

/** What `cache --json` and `cache --check --json` print: the library's reports plus the command name. */
type RefreshJson = RefreshReport & { command: string };
type CheckJson = CheckReport & { command: string };

function expect(cond: boolean, message: string): asserts cond {
  if (!cond) throw new Error(message);
}

/** The command exited with `code` (0 by default). */
export function expectExit(run: Run, code = 0): void {
  expect(run.exitCode === code, `exit code ${run.exitCode}, expected ${code}`);
}

function json<T>(run: Run): T {
  try {
    return JSON.parse(run.stdout) as T;
  } catch {
    throw new Error('stdout is not the one JSON document --json promises');
  }
}

export interface RefreshWant {
  local?: number;
  shared?: number;
  origin?: number;
  linked?: number;
  copied?: number;
  writtenBack?: number;
}

/** A successful refresh whose JSON summary matches `want` exactly (unnamed counts must be 0). */
export function expectRefresh(run: Run, ds: DataSet, want: RefreshWant): void {
  expectExit(run);
  const j = json<RefreshJson>(run);
  const n = ds.items.length;
  expect(j.command === 'cache' && j.ok === true, `JSON says ok=${j.ok}`);
  expect(j.items === n, `JSON says ${j.items} items, the catalogue has ${n}`);
  expect(j.failures.length === 0 && j.missing.length === 0, `JSON lists ${j.failures.length} failures and ${j.missing.length} missing items`);
  expect(j.corrupt.length === 0, `JSON lists ${j.corrupt.length} corrupt copies (the data is intact, so none were expected)`);
  const counts: Array<[string, number, number]> = [
    ['hits.local', j.hits.local, want.local ?? 0],
    ['hits.shared', j.hits.shared, want.shared ?? 0],
    ['hits.origin', j.hits.origin, want.origin ?? 0],
    ['downloads', j.downloads, want.origin ?? 0],
    ['linkedFromShared', j.linkedFromShared, want.linked ?? 0],
    ['copiedFromShared', j.copiedFromShared, want.copied ?? 0],
    ['writtenBack', j.writtenBack, want.writtenBack ?? 0],
  ];
  for (const [name, got, exp] of counts) expect(got === exp, `JSON says ${name}=${got}, expected ${exp}`);
  if (j.downloads === n) expect(j.bytesDownloaded === ds.totalBytes, `JSON says bytesDownloaded=${j.bytesDownloaded}, expected ${ds.totalBytes}`);
  if (j.downloads === 0) expect(j.bytesDownloaded === 0, `JSON says bytesDownloaded=${j.bytesDownloaded} without downloads`);
  if (j.hits.shared === n) expect(j.bytesFromShared === ds.totalBytes, `JSON says bytesFromShared=${j.bytesFromShared}, expected ${ds.totalBytes}`);
}

/** A `cache --check` that found everything present and verified. */
export function expectCheckOk(run: Run, ds: DataSet): void {
  expectExit(run);
  const j = json<CheckJson>(run);
  expect(j.command === 'cache --check' && j.ok === true, `JSON says ok=${j.ok}`);
  expect(j.items === ds.items.length, `JSON says ${j.items} items, the catalogue has ${ds.items.length}`);
  expect(j.needsRefresh.length === 0, `JSON says ${j.needsRefresh.length} items need a refresh`);
}

/** The origin served each item exactly `each` times (and nothing else) between two snapshots. */
export function expectFetches(d: Map<string, number>, ds: DataSet, each: 0 | 1): void {
  const total = [...d.values()].reduce((a, b) => a + b, 0);
  if (each === 0) {
    expect(total === 0, `the origin served ${total} GETs, expected none`);
    return;
  }
  const expected = new Set(ds.items.map((it) => `/${SECTION}/${it.file}`));
  for (const [p, k] of d) {
    expect(expected.has(p), `the origin was asked for ${p}, which is not in the catalogue`);
    expect(k === 1, `the origin served ${p} ${k} times, expected once`);
  }
  expect(d.size === expected.size, `the origin served ${d.size} of the ${expected.size} files`);
}

async function sha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Every item is in `root`/pool with its size (and, with `hash`, its SHA256). */
export async function expectTree(root: string, ds: DataSet, opts: { hash?: boolean } = {}): Promise<void> {
  for (const it of ds.items) {
    const file = path.join(root, SECTION, it.file);
    const st = await stat(file).catch(() => undefined);
    expect(st?.isFile() === true, `${file} is missing`);
    expect(st.size === it.size, `${file} has ${st.size} bytes, expected ${it.size}`);
    if (opts.hash) expect((await sha256(file)) === it.sha256, `${file} has the wrong SHA256`);
  }
}

/** Each item in tier `a` is (linked) or is not (!linked) the same inode as in tier `b`. */
export async function expectLinked(a: string, b: string, ds: DataSet, linked: boolean): Promise<void> {
  for (const it of ds.items) {
    const [x, y] = await Promise.all([stat(path.join(a, SECTION, it.file)), stat(path.join(b, SECTION, it.file))]);
    const same = x.ino === y.ino && x.dev === y.dev;
    expect(same === linked, `${SECTION}/${it.file} in ${a} is ${same ? '' : 'not '}a hardlink of the one in ${b}`);
  }
}
