// An overlay's baseline named by an https URL, served from 127.0.0.1 with a
// test certificate (the CLI trusts it through NODE_EXTRA_CA_CERTS): `lock`
// fetches it, pins its SHA256 and reads its packages; `cache` fetches and
// verifies it like any cached file; a changed file upstream is refused with
// the way out (`lock --update`), which pins the new one. The baseline is a
// small GPT image made here (a FAT ESP in g3-composer's layout, an ext4 root
// with os-release and a dpkg database), against the signed test repository.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/exec.js';
import { runBuilder } from '../support/project.js';
import { BASE, makeTemplateProject, type TemplateProject } from '../support/template-project.js';

const MIB = 1024 * 1024;
const ESP_START = 2048;
const ESP_SECTORS = 32 * 2048;
const ROOT_START = ESP_START + ESP_SECTORS;

/** A 80 MiB GPT image: a FAT ESP with g3/vmlinuz and a systemd-boot entry, an ext4 root with these installed packages. */
async function makeBaseline(dir: string, packages: Array<{ name: string; version: string; essential?: boolean }>): Promise<string> {
  const raw = path.join(dir, 'base.raw');
  const tree = path.join(dir, 'root');
  await mkdir(path.join(tree, 'etc'), { recursive: true });
  await mkdir(path.join(tree, 'var/lib/dpkg'), { recursive: true });
  await writeFile(path.join(tree, 'etc/os-release'), 'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nID=debian\nVERSION_ID="13"\n');
  const stanza = (p: (typeof packages)[number]) =>
    `Package: ${p.name}\nStatus: install ok installed\n${p.essential ? 'Essential: yes\n' : ''}Architecture: amd64\nVersion: ${p.version}\n`;
  await writeFile(path.join(tree, 'var/lib/dpkg/status'), packages.map(stanza).join('\n'));
  const sh = async (command: string, args: string[], input?: string) => {
    const r = await run({ command, args }, { input, reject: false, env: { MTOOLS_SKIP_CHECK: '1' } });
    expect(r.exitCode, `${command} ${args.join(' ')}: ${r.stderr}`).toBe(0);
  };
  await sh('truncate', ['-s', `${80 * MIB}`, raw]);
  await sh(
    'sfdisk',
    ['--no-reread', '--no-tell-kernel', raw],
    `label: gpt\nstart=${ESP_START}, size=${ESP_SECTORS}, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=esp\nstart=${ROOT_START}, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name=root\n`,
  );
  await sh('mkfs.fat', ['-F', '16', '--offset', String(ESP_START), raw, String(ESP_SECTORS / 2)]);
  const esp = `${raw}@@${ESP_START * 512}`;
  await sh('mmd', ['-i', esp, '::/g3', '::/loader', '::/loader/entries', '::/EFI', '::/EFI/BOOT']);
  await writeFile(path.join(dir, 'entry.conf'), 'title base\nlinux /g3/vmlinuz\n');
  await sh('mcopy', ['-i', esp, path.join(dir, 'entry.conf'), '::/g3/vmlinuz']);
  await sh('mcopy', ['-i', esp, path.join(dir, 'entry.conf'), '::/loader/entries/g3.conf']);
  await sh('mkfs.ext4', ['-q', '-F', '-E', `offset=${ROOT_START * 512}`, '-d', tree, raw, `${(80 * MIB - ROOT_START * 512 - 34 * 512) / 1024}k`]);
  return raw;
}

const sha256 = async (file: string) =>
  createHash('sha256')
    .update(await readFile(file))
    .digest('hex');

describe('an overlay baseline named by an https URL', () => {
  let p: TemplateProject;
  let server: Server;
  let url: string;
  let served: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    p = await makeTemplateProject();
    await p.writeRepo([
      { name: 'apt', version: '3.0.3', depends: 'libc6' },
      { name: 'hello', version: '2.10-5', depends: 'libc6 (>= 2.34)' },
      // Takes over awk from the baseline's mawk, which it conflicts with.
      { name: 'newawk', version: '1.0-1', depends: 'libc6', provides: 'awk', conflicts: 'mawk' },
    ]);
    // The baseline has the base system installed, at the repository's versions.
    served = await makeBaseline(
      p.dir,
      BASE.map((b) => ({ name: b.name, version: b.version, essential: b.essential })),
    );
    const cert = path.join(p.dir, 'cert.pem');
    const key = path.join(p.dir, 'key.pem');
    const made = await run(
      {
        command: 'openssl',
        args: [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:P-256',
          '-nodes',
          '-days',
          '1',
          '-subj',
          '/CN=127.0.0.1',
          '-addext',
          'subjectAltName=IP:127.0.0.1',
          '-keyout',
          key,
          '-out',
          cert,
        ],
      },
      { reject: false },
    );
    expect(made.exitCode, made.stderr).toBe(0);
    server = createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => {
      if (req.url !== '/base.raw') {
        res.writeHead(404).end();
        return;
      }
      const body = readFileSync(served);
      res.writeHead(200, { 'content-length': body.length }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/base.raw`;
    env = { ...p.env, NODE_EXTRA_CA_CERTS: cert };
    await p.writeTemplate(['hello'], `baseline:\n  mode: overlay\n  source: {url: "${url}", format: raw}\n`);
  }, 120_000);

  afterAll(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await p?.cleanup();
  });

  type Lock = {
    baseline: { source: { url?: string }; sha256: string; size: number; packages: Array<{ name: string }> };
    image: { packages: Array<{ name: string }> };
  };
  const readLock = async () => JSON.parse(await readFile(p.lockFile, 'utf8')) as Lock;
  const cachedBaseline = (sha: string, cacheDir = p.cacheDir) => path.join(cacheDir, 'pkgCache', 'debian-debian13-x86_64', `baseline-${sha.slice(0, 16)}.raw`);

  it('lock fetches it over https, pins its SHA256 and size, reads its packages and installs only what it lacks', async () => {
    const r = await runBuilder(['img', 'lock'], env);
    expect(r.code, r.stderr).toBe(0);
    const lock = await readLock();
    const want = await sha256(served);
    expect(lock.baseline).toMatchObject({ source: { url }, sha256: want, size: 80 * MIB });
    expect(lock.baseline.packages.map((x) => x.name).sort()).toEqual(BASE.map((b) => b.name).sort());
    expect(lock.image.packages.map((x) => x.name)).toEqual(['hello']);
    expect(await sha256(cachedBaseline(want))).toBe(want);
  });

  it('cache fetches and verifies it from the origin into an empty package cache', async () => {
    const fresh = path.join(p.dir, 'cache-fresh');
    const r = await runBuilder(['img', 'cache'], { ...env, G3_CACHE_DIR: fresh, SHARED_G3_CACHE_PATH: '' });
    expect(r.code, r.stderr).toBe(0);
    const lock = await readLock();
    expect(await sha256(cachedBaseline(lock.baseline.sha256, fresh))).toBe(lock.baseline.sha256);
  });

  it('refuses a file changed upstream, saying to run lock --update, which pins the new one', async () => {
    const before = (await readLock()).baseline.sha256;
    // A byte in the root filesystem's unused space: still a valid image, other bytes.
    const fh = await open(served, 'r+');
    await fh.write(Buffer.from([0x5a]), 0, 1, 80 * MIB - 64 * 1024);
    await fh.close();
    const after = await sha256(served);
    expect(after).not.toBe(before);
    const fresh = path.join(p.dir, 'cache-changed');
    const r = await runBuilder(['img', 'cache'], { ...env, G3_CACHE_DIR: fresh, SHARED_G3_CACHE_PATH: '' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/sha256 mismatch/);
    expect(r.stderr).toMatch(/is not the file the lock pins .* run: .* img lock --update/);
    const update = await runBuilder(['img', 'lock', '--update'], env);
    expect(update.code, update.stderr).toBe(0);
    expect((await readLock()).baseline.sha256).toBe(after);
  });

  it('refuses a package that conflicts with the baseline, unless conflictPolicy allow-explicit lets the one the template names replace it', async () => {
    const source = `baseline:\n  mode: overlay\n  source: {url: "${url}", format: raw}\n`;
    await p.writeTemplate(['newawk'], source);
    const fail = await runBuilder(['img', 'lock', '--update'], env);
    expect(fail.code).toBe(2);
    expect(fail.stderr).toMatch(/newawk conflicts with mawk/);
    await p.writeTemplate(['newawk'], `${source}overlayPolicy: {conflictPolicy: allow-explicit}\n`);
    const allow = await runBuilder(['img', 'lock', '--update'], env);
    expect(allow.code, allow.stderr).toBe(0);
    expect(allow.stderr).toMatch(/the baseline's mawk conflicts with newawk, which the template names: it is removed/);
    const lock = (await readLock()) as Lock & { baseline: { removed?: unknown } };
    expect(lock.baseline.removed).toEqual([{ name: 'mawk', by: 'newawk' }]);
    expect(lock.image.packages.map((x) => x.name)).toEqual(['newawk']);
  });

  it('refuses a plain http URL at validation, and an unpinned URL with --offline', async () => {
    await p.writeTemplate(['hello'], `baseline:\n  mode: overlay\n  source: {url: "${url.replace('https:', 'http:')}"}\n`);
    const plain = await runBuilder(['img', 'validate'], env);
    expect(plain.code).toBe(2);
    expect(plain.stderr).toMatch(/img\.yml:\d+: baseline\.source\.url must be an https:\/\/ URL \(plain http is refused\)/);
    await p.writeTemplate(['hello'], `baseline:\n  mode: overlay\n  source: {url: "${url}?again", format: raw}\n`);
    const offline = await runBuilder(['img', 'lock', '--update', '--offline'], env);
    expect(offline.code).toBe(2);
    expect(offline.stderr).toMatch(/--offline: the baseline .* is not pinned yet/);
  });
});
