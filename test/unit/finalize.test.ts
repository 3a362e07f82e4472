// The finalize stage's plan and command lines, and the order of its steps with
// a recording runner (no tools run); the real tools are in finalize.itest.ts.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { finalizeArtifacts } from '../../src/compose/outputs/finalize.js';
import { artifactPlan, compressCommand, convertCommand, keepsRaw } from '../../src/compose/outputs/plan.js';
import { artifactProblems, COMPRESSIONS, FORMATS } from '../../src/template/artifacts.js';
import type { Runner, StepOptions } from '../../src/docker/runner.js';
import { StepError, UserError } from '../../src/errors.js';
import type { CacheEvent } from '../../src/log/events.js';
import type { DiskTemplate, ImageTemplate } from '../../src/template/types.js';
import { useTempDirs } from './tmpdir.js';

const tempDir = useTempDirs('g3-finalize-');
type Artifacts = DiskTemplate['artifacts'];

function template(artifacts: Artifacts, image: ImageTemplate['image'] = { name: 'edge', version: '1.2' }): ImageTemplate {
  return { image, disk: { size: '8MiB', ...(artifacts === undefined ? {} : { artifacts }) } };
}

describe('artifactProblems', () => {
  it.each<[string, Artifacts, string[]]>([
    ['an unknown type', [{ type: 'raw' }, { type: 'iso' }], ['disk.artifacts[1].type: "iso" is not one of raw, qcow2, vhd, vhdx, vmdk']],
    ["qemu-img's name vpc instead of vhd", [{ type: 'vpc' }], ['disk.artifacts[0].type: "vpc" is not one of raw, qcow2, vhd, vhdx, vmdk']],
    ['a type in capitals', [{ type: 'QCOW2' }], ['disk.artifacts[0].type: "QCOW2" is not one of raw, qcow2, vhd, vhdx, vmdk']],
    ['a missing type', [{ compression: 'gz' }], ['disk.artifacts[0].type: is required, one of raw, qcow2, vhd, vhdx, vmdk']],
    [
      'an unknown compression',
      [{ type: 'raw' }, { type: 'raw', compression: 'bz2' }],
      ['disk.artifacts[1].compression: "bz2" is not one of gz, xz, zstd (leave it out for none)'],
    ],
    [
      'the file suffix zst instead of zstd',
      [{ type: 'qcow2', compression: 'zst' }],
      ['disk.artifacts[0].compression: "zst" is not one of gz, xz, zstd (leave it out for none)'],
    ],
    ['an empty compression', [{ type: 'raw', compression: '' }], ['disk.artifacts[0].compression: "" is not one of gz, xz, zstd (leave it out for none)']],
    [
      'a bad type and a bad compression together',
      [{ type: 'img', compression: 'lz4' }],
      [
        'disk.artifacts[0].type: "img" is not one of raw, qcow2, vhd, vhdx, vmdk',
        'disk.artifacts[0].compression: "lz4" is not one of gz, xz, zstd (leave it out for none)',
      ],
    ],
    [
      'the same uncompressed type twice',
      [{ type: 'qcow2' }, { type: 'raw' }, { type: 'qcow2' }],
      ['disk.artifacts[2]: qcow2 without compression is already listed as disk.artifacts[0]; remove one'],
    ],
    [
      'the same compressed output twice',
      [
        { type: 'raw', compression: 'xz' },
        { type: 'raw', compression: 'xz' },
      ],
      ['disk.artifacts[1]: raw with xz is already listed as disk.artifacts[0]; remove one'],
    ],
    [
      'an empty list',
      [],
      ['disk.artifacts: the list is empty; list at least one artifact (type one of raw, qcow2, vhd, vhdx, vmdk), or leave the key out for a raw image'],
    ],
    ['an entry that is not a mapping', [null as unknown as { type: string }], ['disk.artifacts[0]: must be a mapping such as {type: qcow2, compression: xz}']],
  ])('reports %s', (_name, artifacts, expected) => {
    expect(artifactProblems(artifacts)).toEqual(expected);
  });

  it.each<[string, Artifacts]>([
    ['no artifacts key (a raw image)', undefined],
    ['one raw image', [{ type: 'raw' }]],
    ['every type uncompressed', Object.keys(FORMATS).map((type) => ({ type }))],
    ['every type with every compression', Object.keys(FORMATS).flatMap((type) => Object.keys(COMPRESSIONS).map((compression) => ({ type, compression })))],
    ['one type plain and compressed', [{ type: 'vmdk' }, { type: 'vmdk', compression: 'gz' }, { type: 'vmdk', compression: 'zstd' }]],
  ])('accepts %s', (_name, artifacts) => {
    expect(artifactProblems(artifacts)).toEqual([]);
  });
});

describe('artifactPlan', () => {
  it.each<[string, Artifacts, string[], boolean]>([
    ['no artifacts key', undefined, ['edge-1.2.raw'], true],
    ['a raw image', [{ type: 'raw' }], ['edge-1.2.raw'], true],
    ['a gzipped raw image only', [{ type: 'raw', compression: 'gz' }], ['edge-1.2.raw.gz'], false],
    ['raw plain and xz', [{ type: 'raw', compression: 'xz' }, { type: 'raw' }], ['edge-1.2.raw.xz', 'edge-1.2.raw'], true],
    ['qcow2 with zstd', [{ type: 'qcow2', compression: 'zstd' }], ['edge-1.2.qcow2.zst'], false],
    [
      'vhd, vhdx and vmdk',
      [{ type: 'vhd' }, { type: 'vhdx', compression: 'gz' }, { type: 'vmdk', compression: 'xz' }],
      ['edge-1.2.vhd', 'edge-1.2.vhdx.gz', 'edge-1.2.vmdk.xz'],
      false,
    ],
  ])('names the files of %s', (_name, artifacts, files, rawKept) => {
    const plan = artifactPlan(template(artifacts));
    expect(plan.map((a) => a.file)).toEqual(files);
    expect(keepsRaw(plan)).toBe(rawKept);
  });

  it('keeps type and compression beside each file name', () => {
    expect(artifactPlan(template([{ type: 'vhd', compression: 'zstd' }, { type: 'qcow2' }]))).toEqual([
      { type: 'vhd', compression: 'zstd', file: 'edge-1.2.vhd.zst' },
      { type: 'qcow2', file: 'edge-1.2.qcow2' },
    ]);
  });

  it('names files image-0 like the raw image when the template has no image name or version', () => {
    expect(artifactPlan(template([{ type: 'qcow2' }], {}))[0]?.file).toBe('image-0.qcow2');
  });

  it('throws a UserError listing every problem for an invalid list', () => {
    const err = (() => {
      try {
        artifactPlan(template([{ type: 'iso' }, { type: 'raw', compression: 'rar' }]));
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toContain('disk.artifacts[0].type: "iso"');
    expect((err as Error).message).toContain('disk.artifacts[1].compression: "rar"');
  });
});

describe('command lines', () => {
  it.each([
    ['qcow2', ['qemu-img', 'convert', '-f', 'raw', '-O', 'qcow2', '/b/x.raw', '/b/w/x.qcow2']],
    ['vhd', ['qemu-img', 'convert', '-f', 'raw', '-O', 'vpc', '-o', 'subformat=fixed,force_size=on', '/b/x.raw', '/b/w/x.vhd']],
    ['vhdx', ['qemu-img', 'convert', '-f', 'raw', '-O', 'vhdx', '-o', 'subformat=dynamic', '/b/x.raw', '/b/w/x.vhdx']],
    ['vmdk', ['qemu-img', 'convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=streamOptimized', '/b/x.raw', '/b/w/x.vmdk']],
  ])('converts to %s with the raw format stated, never probed', (type, argv) => {
    expect(convertCommand(type, '/b/x.raw', `/b/w/x.${FORMATS[type]?.ext}`)).toEqual(argv);
  });

  it.each([
    ['xz', ['xz', '-6', '--threads=0', '--no-adjust', '--check=crc64', '-k', '-f', '-q', '--', '/w/x.raw']],
    ['zstd', ['zstd', '-10', '-T0', '-k', '-f', '-q', '--no-progress', '-o', '/w/x.raw.zst', '--', '/w/x.raw']],
  ])('compresses with %s deterministically, keeping the input', (compression, argv) => {
    expect(compressCommand(compression, '/w/x.raw')).toEqual(argv);
  });

  it('has no command for gz, which gzip.ts writes', () => {
    expect(() => compressCommand('gz', '/w/x.raw')).toThrow(/unknown compression gz/);
  });
});

/** A runner that records every command and succeeds, except where `fail` says so. */
function recorder(fail?: (argv: string[]) => boolean): Runner & { calls: Array<{ argv: string[]; env?: Record<string, string> }> } {
  const calls: Array<{ argv: string[]; env?: Record<string, string> }> = [];
  return {
    where: 'host',
    calls,
    async run(argv: string[], opts: StepOptions = {}) {
      calls.push({ argv, ...(opts.env ? { env: opts.env } : {}) });
      if (fail?.(argv) && opts.reject !== false)
        throw new StepError(`${argv[0]} failed with exit code 1: boom`, { command: argv, exitCode: 1, stderr: 'boom' });
      return { exitCode: 0, stdout: '', stderr: '' };
    },
  };
}

describe('finalizeArtifacts with a recording runner', () => {
  it('converts once per type, compresses in the scratch directory, renames into place and removes the unwanted raw image', async () => {
    const dir = await tempDir();
    const tpl = template([{ type: 'qcow2', compression: 'xz' }, { type: 'qcow2' }, { type: 'raw', compression: 'gz' }]);
    // The recording runner makes nothing: the files it would have made are there, and the gz is written here (moved by the runner).
    for (const f of ['edge-1.2.qcow2.xz', 'edge-1.2.qcow2', 'edge-1.2.raw.gz']) await writeFile(path.join(dir, f), f);
    const runner = recorder();
    const events: CacheEvent[] = [];
    const raw = path.join(dir, 'edge-1.2.raw');
    await writeFile(raw, 'raw image bytes');
    await mkdir(path.join(dir, '.edge-1.2.finalize'));
    const work = path.join(dir, '.edge-1.2.finalize');
    const out = await finalizeArtifacts(runner, { rawImage: raw, buildDir: dir, template: tpl, emit: (e) => events.push(e) });

    const argvs = runner.calls.map((c) => c.argv);
    // Prepared first, cleaned last; each format's commands in order, the formats side by side.
    expect(argvs.slice(0, 2)).toEqual([
      ['rm', '-rf', '--', work],
      ['mkdir', '-p', '--', work],
    ]);
    expect(argvs.slice(-2)).toEqual([
      ['rm', '-rf', '--', work],
      ['rm', '-f', '--', raw],
    ]);
    const qcow2 = [
      convertCommand('qcow2', raw, path.join(work, 'edge-1.2.qcow2')),
      compressCommand('xz', path.join(work, 'edge-1.2.qcow2')),
      ['mv', '-f', '-T', '--', path.join(work, 'edge-1.2.qcow2.xz'), path.join(dir, 'edge-1.2.qcow2.xz')],
      ['mv', '-f', '-T', '--', path.join(work, 'edge-1.2.qcow2'), path.join(dir, 'edge-1.2.qcow2')],
    ];
    const rawGz = [
      ['ln', '-s', '--', raw, path.join(work, 'edge-1.2.raw')],
      ['mv', '-f', '-T', '--', path.join(work, 'edge-1.2.raw.gz'), path.join(dir, 'edge-1.2.raw.gz')],
    ];
    const middle = argvs.slice(2, -2);
    expect(middle).toHaveLength(qcow2.length + rawGz.length);
    const inOrder = (want: string[][]) => middle.filter((a) => want.some((w) => JSON.stringify(w) === JSON.stringify(a)));
    expect(inOrder(qcow2)).toEqual(qcow2);
    expect(inOrder(rawGz)).toEqual(rawGz);
    // Side by side: the raw image's link is made before the qcow2 conversion has ended.
    expect(middle.findIndex((a) => a[0] === 'ln')).toBeLessThan(middle.findIndex((a) => a[0] === 'xz'));
    // The gz was written from the raw image itself (not through the link), in the scratch directory.
    expect(gunzipSync(await readFile(path.join(work, 'edge-1.2.raw.gz'))).toString()).toBe('raw image bytes');
    expect(runner.calls.find((c) => c.argv[0] === 'xz')?.env).toEqual({ XZ_DEFAULTS: '', XZ_OPT: '' });
    expect(out.map((a) => [a.file, a.type, a.compression, a.size])).toEqual([
      ['edge-1.2.qcow2.xz', 'qcow2', 'xz', 17],
      ['edge-1.2.qcow2', 'qcow2', undefined, 14],
      ['edge-1.2.raw.gz', 'raw', 'gz', 15],
    ]);
    expect(out[0]?.path).toBe(path.join(dir, 'edge-1.2.qcow2.xz'));
    expect(out[0]?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(events.map((e) => ('message' in e ? e.message : ''))).toContain('removing edge-1.2.raw: no artifact is an uncompressed raw image');
  });

  it('tells onReady of every artifact, in template order, once all are under their final names, before it returns', async () => {
    const dir = await tempDir();
    const tpl = template([{ type: 'raw', compression: 'gz' }, { type: 'raw' }, { type: 'vhdx' }, { type: 'qcow2', compression: 'xz' }]);
    // The runner makes nothing: the files it would have moved into place are there already.
    for (const f of ['edge-1.2.vhdx', 'edge-1.2.qcow2.xz', 'edge-1.2.raw.gz']) await writeFile(path.join(dir, f), f);
    await mkdir(path.join(dir, '.edge-1.2.finalize'));
    const raw = path.join(dir, 'edge-1.2.raw');
    await writeFile(raw, 'raw image bytes');
    const told: Array<{ file: string; size: number; path: string; moved: number }> = [];
    let calls = 0;
    const moved: string[] = [];
    const runner: Runner = {
      where: 'host',
      async run(argv: string[]) {
        if (argv[0] === 'mv') moved.push(path.basename(argv.at(-1) as string));
        return { exitCode: 0, stdout: '', stderr: '' };
      },
    };
    const out = await finalizeArtifacts(runner, {
      rawImage: raw,
      buildDir: dir,
      template: tpl,
      emit: () => undefined,
      onReady: (artifacts) => {
        calls++;
        for (const a of artifacts) told.push({ file: a.file, size: a.size, path: a.path, moved: moved.length });
      },
    });
    expect(calls).toBe(1);
    expect(told.map((t) => t.file)).toEqual(['edge-1.2.raw.gz', 'edge-1.2.raw', 'edge-1.2.vhdx', 'edge-1.2.qcow2.xz']);
    // Told once every one was moved into place, each with its path and size there.
    expect(told.every((t) => t.moved === 3)).toBe(true);
    expect(told[2]).toMatchObject({ path: path.join(dir, 'edge-1.2.vhdx'), size: 'edge-1.2.vhdx'.length });
    expect(out.map((a) => a.file)).toEqual(told.map((t) => t.file));
  });

  it('tells onReady of nothing after a failure', async () => {
    const dir = await tempDir();
    const raw = path.join(dir, 'edge-1.2.raw');
    await writeFile(raw, 'raw');
    const told: string[] = [];
    const err = await finalizeArtifacts(
      recorder((argv) => argv[0] === 'qemu-img'),
      {
        rawImage: raw,
        buildDir: dir,
        template: template([{ type: 'qcow2' }, { type: 'raw', compression: 'gz' }]),
        emit: () => undefined,
        onReady: (artifacts) => told.push(...artifacts.map((a) => a.file)),
      },
    ).catch((e: unknown) => e);
    expect((err as Error).message).toContain('converting');
    expect(told).toEqual([]);
  });

  it('removes the scratch directory only after every format has ended when one fails', async () => {
    const dir = await tempDir();
    const raw = path.join(dir, 'edge-1.2.raw');
    const order: string[] = [];
    let release: () => void = () => undefined;
    const slow = new Promise<void>((ok) => {
      release = ok;
    });
    const runner: Runner = {
      where: 'host',
      async run(argv: string[]) {
        order.push(argv[0] as string);
        if (argv[0] === 'qemu-img' && argv.includes('vhdx')) {
          // The vhdx conversion is still running when the zstd compression fails.
          await slow;
          order.push('vhdx done');
        }
        if (argv[0] === 'zstd') {
          setTimeout(release, 20);
          throw new StepError('zstd failed with exit code 1: boom', { command: argv, exitCode: 1, stderr: 'boom' });
        }
        return { exitCode: 0, stdout: '', stderr: '' };
      },
    };
    const err = await finalizeArtifacts(runner, {
      rawImage: raw,
      buildDir: dir,
      template: template([{ type: 'vhdx' }, { type: 'raw', compression: 'zstd' }]),
      emit: () => undefined,
    }).catch((e: unknown) => e);
    expect((err as Error).message).toContain('compressing with zstd failed');
    expect(order.indexOf('vhdx done')).toBeGreaterThan(-1);
    expect(order.lastIndexOf('rm')).toBeGreaterThan(order.indexOf('vhdx done'));
  });

  it('runs no command but the scratch directory for a plain raw image already in place', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'edge-1.2.raw'), 'disk');
    const runner = recorder();
    const out = await finalizeArtifacts(runner, {
      rawImage: path.join(dir, 'edge-1.2.raw'),
      buildDir: dir,
      template: template(undefined),
      emit: () => undefined,
    });
    expect(runner.calls.map((c) => c.argv[0])).toEqual(['rm', 'mkdir', 'rm']);
    expect(out).toEqual([
      { file: 'edge-1.2.raw', path: path.join(dir, 'edge-1.2.raw'), type: 'raw', size: 4, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
    ]);
  });

  it('moves a raw image written elsewhere to its final name', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'edge-1.2.raw'), 'disk');
    const runner = recorder();
    await finalizeArtifacts(runner, { rawImage: '/elsewhere/disk.img', buildDir: dir, template: template([{ type: 'raw' }]), emit: () => undefined });
    expect(runner.calls.at(-1)?.argv).toEqual(['mv', '-f', '-T', '--', '/elsewhere/disk.img', path.join(dir, 'edge-1.2.raw')]);
  });

  it('throws a StepError naming the artifact, removes the scratch directory and keeps the raw image when a compressor fails', async () => {
    const dir = await tempDir();
    const runner = recorder((argv) => argv[0] === 'zstd');
    const raw = path.join(dir, 'edge-1.2.raw');
    const events: CacheEvent[] = [];
    const err = await finalizeArtifacts(runner, {
      rawImage: raw,
      buildDir: dir,
      template: template([{ type: 'vmdk', compression: 'zstd' }]),
      emit: (e) => events.push(e),
    }).catch((e: unknown) => e);
    expect(events).toContainEqual({
      type: 'debug',
      message: 'vmdk artifacts differ between builds of the same image: the descriptor holds a random content ID (CID); qemu-img cannot set it',
    });
    expect(err).toBeInstanceOf(StepError);
    expect((err as StepError).message).toBe('finalize: making edge-1.2.vmdk.zst: compressing with zstd failed: zstd failed with exit code 1: boom');
    expect((err as StepError).details).toMatchObject({ exitCode: 1, stderr: 'boom', command: expect.arrayContaining(['zstd']) });
    const argvs = runner.calls.map((c) => c.argv);
    expect(argvs.at(-1)).toEqual(['rm', '-rf', '--', path.join(dir, '.edge-1.2.finalize')]);
    expect(argvs.some((a) => a[0] === 'mv' || (a[0] === 'rm' && a.includes(raw)))).toBe(false);
  });

  it('warns when the scratch directory cannot be removed at the end, and still finishes', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'edge-1.2.raw'), 'disk');
    const work = path.join(dir, '.edge-1.2.finalize');
    let rms = 0;
    const runner: Runner = {
      where: 'host',
      async run(argv: string[]) {
        // The first rm prepares the scratch directory; the second, at the end, fails.
        if (argv[0] === 'rm' && argv.includes(work) && ++rms === 2) return { exitCode: 1, stdout: '', stderr: 'rm: cannot remove: Read-only file system\n' };
        return { exitCode: 0, stdout: '', stderr: '' };
      },
    };
    const events: CacheEvent[] = [];
    const out = await finalizeArtifacts(runner, {
      rawImage: path.join(dir, 'edge-1.2.raw'),
      buildDir: dir,
      template: template(undefined),
      emit: (e) => events.push(e),
    });
    expect(out.map((a) => a.file)).toEqual(['edge-1.2.raw']);
    expect(events).toContainEqual({
      type: 'warning',
      message: `could not remove the scratch directory ${work}: rm: cannot remove: Read-only file system; the next build removes it`,
    });
  });

  it('names the Debian package when a tool is missing where the build runs', async () => {
    const dir = await tempDir();
    const runner: Runner = {
      where: 'container g3c-test',
      async run(argv) {
        if (argv[0] === 'qemu-img') throw new StepError('docker exec failed with exit code 127: qemu-img: not found', { command: argv, exitCode: 127 });
        return { exitCode: 0, stdout: '', stderr: '' };
      },
    };
    const err = await finalizeArtifacts(runner, {
      rawImage: path.join(dir, 'x.raw'),
      buildDir: dir,
      template: template([{ type: 'qcow2' }]),
      emit: () => undefined,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepError);
    expect((err as Error).message).toContain('install the Debian package qemu-utils in container g3c-test');
  });
});
