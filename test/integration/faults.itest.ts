// Origin faults: what is retried, what fails at once, and that a failure never
// costs a verified file or leaves a partial one under a final name.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Fault } from '../support/origin.js';
import { badFinalFiles, finalFiles, makeProject, type Project, runBuilder, tempFiles } from '../support/project.js';

let p: Project;
beforeEach(async () => {
  p = await makeProject({ count: 4, size: 256 * 1024 });
});
afterEach(async () => {
  await p.cleanup();
});

const urlPath = (i: number) => `/${p.files[i]!.section}/${p.files[i]!.file}`;
const itemName = (i: number) => `${p.files[i]!.section}/${p.files[i]!.file}`;

describe('transient faults are retried and end verified', () => {
  // Only the stall needs a short client timeout; it must still be long enough
  // that no healthy download on a loaded machine ever pauses that long.
  it.each<[string, Fault, number, string?]>([
    ['a connection reset mid-body', { kind: 'reset' }, 2],
    ['two 500 responses', { kind: 'status', status: 500 }, 2],
    ['a 503 response', { kind: 'status', status: 503 }, 1],
    ['a truncated body', { kind: 'truncate' }, 1],
    ['a stalled body', { kind: 'stall', ms: 20_000 }, 1, '3'],
  ])('recovers from %s', async (_name, fault, times, timeout) => {
    p.origin.fault(urlPath(0), fault, times);
    const r = await runBuilder(['latest', 'cache', '--json'], timeout ? { ...p.env, G3_HTTP_TIMEOUT: timeout } : p.env);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).downloads).toBe(4);
    expect(p.origin.requests(urlPath(0))).toBe(times + 1);
    expect(await badFinalFiles(p.local, p.files)).toEqual([]);
    expect(await tempFiles(p.dir)).toEqual([]);
  });

  it('waits as long as a 429 Retry-After asks before trying again', async () => {
    p.origin.fault(urlPath(1), { kind: 'status', status: 429, retryAfter: '2' }, 1);
    const r = await runBuilder(['latest', 'cache'], p.env);
    expect(r.code).toBe(0);
    // Measured between the two requests at the origin: the 50 ms backoff alone would be far shorter,
    // and a slow machine can only make the gap longer, never shorter.
    const [first, second] = p.origin.requestTimes(urlPath(1)) as [number, number];
    expect(p.origin.requests(urlPath(1))).toBe(2);
    expect(second - first).toBeGreaterThanOrEqual(2000);
  });
});

describe('permanent faults fail the item, keep the rest, and name item, URL and reason', () => {
  it.each<[string, Fault, RegExp, number]>([
    ['wrong bytes', { kind: 'wrong-bytes' }, /sha256 mismatch/, 1],
    ['a wrong Content-Length', { kind: 'wrong-length' }, /server announces \d+ bytes, expected \d+/, 1],
    ['a 404', { kind: 'status', status: 404 }, /HTTP 404/, 1],
    ['a 500 every time', { kind: 'status', status: 500 }, /HTTP 500/, 4],
  ])('fails on %s', async (_name, fault, reason, requests) => {
    p.origin.fault(urlPath(3), fault);
    const r = await runBuilder(['latest', 'cache', '--json'], p.env);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report.failures).toEqual([{ item: itemName(3), url: `${p.origin.url}${urlPath(3)}`, reason: expect.stringMatching(reason) }]);
    expect(r.stderr).toContain(`error: ${itemName(3)}: ${p.origin.url}${urlPath(3)}:`);
    expect(p.origin.requests(urlPath(3))).toBe(requests);
    // The other three are there and verified; the failed one is not, under any name.
    expect(await finalFiles(p.local)).toHaveLength(3);
    expect(await badFinalFiles(p.local, p.files)).toEqual([]);
    expect(await badFinalFiles(p.shared, p.files)).toEqual([]);
    expect(await tempFiles(p.dir)).toEqual([]);
    expect((await finalFiles(p.dir)).filter((f) => /failed/i.test(f))).toEqual([]);
  });

  it('reports a refused connection after its retries', async () => {
    await p.origin.close();
    const r = await runBuilder(['latest', 'cache', '--json'], { ...p.env, G3_RETRIES: '1' });
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report.failures).toHaveLength(4);
    expect(report.failures[0].reason).toMatch(/ECONNREFUSED/);
  });

  it('takes the item from its next URL when the first one serves bad bytes', async () => {
    const f = p.files[0]!;
    const cat = `targets:\n  latest:\n    artifacts:\n      - section: ${f.section}\n        file: ${f.file}\n        urls:\n          - ${p.origin.url}/bad/${f.file}\n          - ${p.origin.url}${urlPath(0)}\n        sha256: ${f.sha256}\n`;
    await writeFile(p.catalogue, cat);
    p.origin.setFile(`/bad/${f.file}`, Buffer.alloc(f.data.length, 7));
    const r = await runBuilder(['latest', 'cache', '--json'], p.env);
    expect(r.code).toBe(0);
    expect(p.origin.requests(`/bad/${f.file}`)).toBe(1);
    expect(p.origin.requests(urlPath(0))).toBe(1);
    expect(await badFinalFiles(p.local, [f])).toEqual([]);
    expect(await finalFiles(path.join(p.local))).toEqual([path.join(f.section, f.file)]);
  });
});
