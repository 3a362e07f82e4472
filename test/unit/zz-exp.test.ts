import { randomBytes, createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { symlink, writeFile, mkdtemp } from 'node:fs/promises';
import path from 'node:path';
import os from 'node:os';
import { it, expect } from 'vitest';
import { pullBlob, headBlob } from '../../src/registry/blobs.js';
import { useRegistryServers } from './registry-servers.js';
const servers = useRegistryServers();
const hex = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
async function serve(big: Buffer, errBody: string) {
  const server = createServer((req, res) => {
    if (req.url?.includes('err')) { res.writeHead(500, {'content-type':'application/json'}); res.end(errBody); return; }
    res.writeHead(200, { 'content-length': big.length }); res.end(big);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}
it('symlink dest with a big body', async () => {
  const big = randomBytes(8 * 1024 * 1024);
  const host = await serve(big, '');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'exp-'));
  await writeFile(path.join(dir, 'v'), 'keep');
  await symlink(path.join(dir, 'v'), path.join(dir, 'p'));
  const s = { registry: host, repository: 'a/b', timeoutMs: 500 };
  const err = await pullBlob(s, { sha256: hex(big), size: big.length }, path.join(dir, 'p'), { timeoutMs: 500, minBytesPerSecond: 0 }).catch((e) => e);
  console.log(err?.constructor?.name, err?.message, err?.retryable);
  const s2 = { registry: host, repository: 'a/b', timeoutMs: 20000 };
  for (let i = 0; i < 6; i++) { const t = Date.now(); const e = await pullBlob(s2, { sha256: hex(big), size: big.length }, path.join(dir, 'p'), { timeoutMs: 20000, minBytesPerSecond: 0 }).catch((e) => e); console.log(i, Date.now() - t, e?.message?.slice(0,40)); }
  const t = Date.now(); console.log('head', await headBlob(s2, 'x'), Date.now() - t);
});
it('big error body', async () => {
  const host = await serve(Buffer.alloc(0), 'x'.repeat(200 * 1024));
  const s = { registry: host, repository: 'a/b', timeoutMs: 500 };
  const err = await headBlob({ ...s }, 'err').catch((e) => e);
  const { pullBlob: pb } = await import('../../src/registry/blobs.js');
  const e2 = await pb(s, { sha256: 'err', size: 1 }, '/tmp/exp/x', { timeoutMs: 500 }).catch((e) => e);
  console.log(err?.message?.slice(0, 100), e2?.message?.slice(0, 150));
  await new Promise((r) => setTimeout(r, 1000));
});
