// Signed indexes that attack the packages stage, through the real CLI: an xz
// bomb (a Packages.xz of a few hundred KiB that unpacks to 600 MiB) with the
// Release telling the truth, lying, or silent about the unpacked size; and
// stanzas whose names or Filenames would escape the package cache, collide
// with the toolkit's own files there, or carry shell metacharacters. The
// repositories are real and signed with the key the template trusts.
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { LockFile } from '../../src/lock/types.js';
import { plainOf, replaceIndex, xz, xzBomb } from '../support/debrepo-index.js';
import { runBuilder } from '../support/project.js';
import { makeTemplateProject, type TemplateProject } from '../support/template-project.js';

const MIB = 1024 * 1024;
const SHA = 'a'.repeat(64);

let p: TemplateProject;
beforeAll(async () => {
  p = await makeTemplateProject();
});
afterAll(async () => p.cleanup());

const mainRoot = () => path.join(p.repoRoot, 'debian');

/** The Packages text writeRepo made for trixie main. */
async function realIndex(): Promise<string> {
  return gunzipSync(await readFile(path.join(mainRoot(), 'dists/trixie/main/binary-amd64/Packages.gz'))).toString('utf8');
}

function stanza(name: string, filename: string, extra = ''): string {
  return `Package: ${name}\nVersion: 1.0-1\nArchitecture: amd64\n${extra}Filename: ${filename}\nSize: 1000\nSHA256: ${SHA}\n`;
}

const lock = (env: Record<string, string> = {}) => runBuilder(['img', 'lock'], { ...p.env, ...env });

describe('an xz bomb in a signed index', () => {
  // 1 MiB of valid stanzas, 600 times: 600 MiB unpacked.
  let bomb: Awaited<ReturnType<typeof xzBomb>>;
  beforeAll(async () => {
    const one = stanza('bomb', 'pool/main/b/bomb/bomb_1.0-1_amd64.deb', 'Depends: libc6\n');
    const block = Buffer.from(`${one}\n`.repeat(Math.floor(MIB / (one.length + 1))));
    bomb = await xzBomb(block, Math.ceil((600 * MIB) / block.length));
    expect(bomb.xz.length).toBeLessThan(2 * MIB);
    expect(bomb.plain.size).toBeGreaterThanOrEqual(600 * MIB);
  });
  beforeEach(async () => {
    await rm(p.lockFile, { force: true });
    await p.writeRepo([]);
    await p.writeTemplate(['dash']);
  });

  it('is refused before unpacking when the signed Release states its true size, beyond max_index_mib (exit 2)', async () => {
    await replaceIndex(mainRoot(), 'trixie', p.key, bomb.xz, bomb.plain);
    const r = await lock();
    expect(r.stderr).toMatch(
      new RegExp(`main/binary-amd64/Packages is ${bomb.plain.size} bytes unpacked, as the signed Release says: more than 256 MiB \\(max_index_mib\\)`),
    );
    expect(r.stderr).toMatch(/raise max_index_mib \(G3_MAX_INDEX_MIB\)/);
    expect(r.code).toBe(2);
  });

  it('is stopped at the size the signed Release states when it unpacks to more (exit 1)', async () => {
    const small = plainOf(await realIndex());
    await replaceIndex(mainRoot(), 'trixie', p.key, bomb.xz, small);
    const r = await lock();
    expect(r.stderr).toMatch(
      new RegExp(
        `main/binary-amd64/Packages\\.xz unpacks to more than the ${small.size} bytes the signed Release lists for main/binary-amd64/Packages; stopped there`,
      ),
    );
    expect(r.code).toBe(1);
  });

  it('is stopped at max_index_mib when the Release lists no unpacked size, with the default cap (exit 2)', async () => {
    await replaceIndex(mainRoot(), 'trixie', p.key, bomb.xz, 'omit');
    const r = await lock();
    expect(r.stderr).toMatch(/main\/binary-amd64\/Packages\.xz unpacks to more than 256 MiB \(max_index_mib\); stopped there/);
    expect(r.code).toBe(2);
  });

  it('is stopped at a smaller max_index_mib from the environment', async () => {
    await replaceIndex(mainRoot(), 'trixie', p.key, bomb.xz, 'omit');
    const r = await lock({ G3_MAX_INDEX_MIB: '2' });
    expect(r.stderr).toMatch(/unpacks to more than 2 MiB \(max_index_mib\); stopped there/);
    expect(r.code).toBe(2);
  });
});

describe('stanzas that break Debian policy in a signed index', () => {
  const HOSTILE = [
    stanza('escape', '../../../etc/cron.d/x.deb'),
    stanza('absolute', '/etc/passwd.deb'),
    stanza('grapher', 'pool/main/latest.dot'),
    stanza('chrooter', 'chrootpkgs.dot'),
    stanza('x;reboot', 'pool/main/x/x_1.0-1_amd64.deb'),
    stanza('\u001b[2Jclear', 'pool/main/c/c_1.0-1_amd64.deb'),
    stanza('uses-escape', 'pool/main/u/uses-escape_1.0-1_amd64.deb', 'Depends: escape\n'),
    stanza('twin-a', 'pool/main/a/twin_1.0-1_amd64.deb'),
    stanza('twin-b', 'pool/main/b/twin_1.0-1_amd64.deb').replace(SHA, 'b'.repeat(64)),
  ];
  beforeEach(async () => {
    await rm(p.lockFile, { force: true });
    await p.writeRepo([]);
    const text = `${(await realIndex()).trimEnd()}\n\n${HOSTILE.join('\n')}`;
    await replaceIndex(mainRoot(), 'trixie', p.key, await xz(Buffer.from(text)), plainOf(text));
  });

  it('leaves them out with one warning naming the index and each entry, escaped, and locks the rest', async () => {
    await p.writeTemplate(['dash']);
    const r = await lock();
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/debian trixie: main\/binary-amd64\/Packages\.xz: left out 6 entries that break Debian policy or could leave the package cache/);
    expect(r.stderr).toContain('Filename "../../../etc/cron.d/x.deb" has a ".." path segment');
    expect(r.stderr).toContain('Filename "/etc/passwd.deb" is an absolute path');
    expect(r.stderr).toContain('Filename "pool/main/latest.dot" does not name a .deb file');
    expect(r.stderr).toContain('Package "x;reboot" is not a Debian package name');
    expect(r.stderr).toContain('Package "\\u001b[2Jclear"');
    expect(r.stderr).not.toContain('\u001b[2J');
    const l = JSON.parse(await readFile(p.lockFile, 'utf8')) as LockFile;
    expect(l.image.packages.map((x) => x.name)).toContain('dash');
    expect(JSON.stringify(l)).not.toMatch(/escape|absolute|grapher|reboot|\.dot/);
  });

  it('fails clearly when the template requests a package whose only entry was left out (exit 2)', async () => {
    await p.writeTemplate(['dash', 'escape']);
    const r = await lock();
    expect(r.stderr).toMatch(
      /requested package escape: its entries in the signed indexes were left out: repository \S+ trixie, main\/binary-amd64\/Packages\.xz line \d+: Filename "\.\.\/\.\.\/\.\.\/etc\/cron\.d\/x\.deb" has a "\.\." path segment/,
    );
    expect(r.code).toBe(2);
  });

  it('names the left-out entry when a dependency needs it (exit 2)', async () => {
    await p.writeTemplate(['dash', 'uses-escape']);
    const r = await lock();
    expect(r.stderr).toMatch(
      /uses-escape -> escape: .*left out of main\/binary-amd64\/Packages\.xz .*Filename "\.\.\/\.\.\/\.\.\/etc\/cron\.d\/x\.deb" has a "\.\." path segment/s,
    );
    expect(r.code).toBe(2);
  });

  it('fails the lock, not a later cache run, when two chosen packages share a file name (exit 2)', async () => {
    await p.writeTemplate(['dash', 'twin-a', 'twin-b']);
    const r = await lock();
    expect(r.stderr).toMatch(/twin-a and twin-b .*share the file name twin_1\.0-1_amd64\.deb in the package cache/);
    expect(r.code).toBe(2);
  });
});
