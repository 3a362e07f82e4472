// The finalize stage with the real qemu-img, gzip, xz and zstd on this machine:
// every type with every compression is made from a small GPT disk image, read
// back by qemu-img, compared with the source, and made twice to check which
// outputs are bit-reproducible.
import { createHash } from 'node:crypto';
import { copyFile, open, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type FinalArtifact, finalizeArtifacts } from '../../src/compose/outputs/finalize.js';
import { COMPRESSIONS, FORMATS } from '../../src/template/artifacts.js';
import { LocalRunner, type Runner } from '../../src/docker/runner.js';
import { StepError } from '../../src/errors.js';
import { run, runBinary } from '../../src/exec.js';
import type { CacheEvent } from '../../src/log/events.js';
import type { ImageTemplate } from '../../src/template/types.js';
import { useTempDirs } from '../unit/tmpdir.js';

const tempDir = useTempDirs('g3-finalize-itest-');
const runner = new LocalRunner();
const MiB = 1024 * 1024;
const SIZE = 8 * MiB;
const TYPES = Object.keys(FORMATS);
const EVERY_ARTIFACT = TYPES.flatMap((type) => [{ type }, ...Object.keys(COMPRESSIONS).map((compression) => ({ type, compression }))]);
const DECOMPRESS: Record<string, string> = { gz: 'gzip', xz: 'xz', zstd: 'zstd' };

function template(artifacts: Array<{ type: string; compression?: string }>): ImageTemplate {
  return { image: { name: 'edge', version: '1.0' }, disk: { size: '8MiB', artifacts } };
}

/** Deterministic, poorly compressible bytes: a SHA-256 counter stream. */
function noise(bytes: number, seed: string): Buffer {
  const out = Buffer.alloc(bytes);
  for (let i = 0; i * 32 < bytes; i++)
    createHash('sha256')
      .update(`${seed}:${i}`)
      .digest()
      .copy(out, i * 32);
  return out;
}

/** An 8 MiB sparse image with a GPT table, 1 MiB of noise in the first partition and text in the second. */
async function makeRaw(dir: string): Promise<string> {
  const raw = path.join(dir, 'edge-1.0.raw');
  await run({ command: 'truncate', args: ['-s', String(SIZE), raw] });
  await run(
    { command: 'sfdisk', args: ['--no-reread', '--no-tell-kernel', '-q', raw] },
    { input: 'label: gpt\nlabel-id: 8C8E6F0A-5D53-4C4B-9E3A-6F1D3C2B1A00\n,3MiB\n,\n' },
  );
  const fh = await open(raw, 'r+');
  try {
    await fh.write(noise(MiB, 'finalize'), 0, MiB, 1 * MiB);
    await fh.write(Buffer.from('hello from the second partition\n'.repeat(1000)), 0, undefined, 5 * MiB);
  } finally {
    await fh.close();
  }
  return raw;
}

/** qemu-img's name for an artifact type. */
const qemuFormat = (type: string) => FORMATS[type]?.qemu ?? 'raw';

/** Finalize every type with every compression from a fresh copy of `source`. */
async function finalizeAll(source: string): Promise<{ dir: string; out: FinalArtifact[]; events: CacheEvent[] }> {
  const dir = await tempDir();
  const raw = path.join(dir, 'edge-1.0.raw');
  await copyFile(source, raw);
  const events: CacheEvent[] = [];
  const out = await finalizeArtifacts(runner, { rawImage: raw, buildDir: dir, template: template(EVERY_ARTIFACT), emit: (e) => events.push(e) });
  return { dir, out, events };
}

describe('finalizeArtifacts with the real tools', () => {
  it('makes every type with every compression, each readable and equal in content to the raw image, reproducible where claimed', async () => {
    const source = await makeRaw(await tempDir());
    const first = await finalizeAll(source);
    const { dir, out } = first;

    const expectedFiles = TYPES.flatMap((t) => [
      `edge-1.0.${FORMATS[t]?.ext}`,
      ...Object.values(COMPRESSIONS).map((c) => `edge-1.0.${FORMATS[t]?.ext}.${c.suffix}`),
    ]);
    expect(out.map((a) => a.file)).toEqual(expectedFiles);
    // Only the artifacts: no scratch directory or temporary file is left behind.
    expect((await readdir(dir)).sort()).toEqual([...expectedFiles].sort());
    const sourceBytes = await readFile(source);
    // Buffer.equals: a deep toEqual over 8 MiB takes most of a minute.
    expect((await readFile(path.join(dir, 'edge-1.0.raw'))).equals(sourceBytes), 'the raw artifact is the source image').toBe(true);

    for (const a of out) {
      const bytes = await readFile(a.path);
      expect({ file: a.file, size: a.size, sha256: a.sha256 }).toEqual({
        file: a.file,
        size: bytes.length,
        sha256: createHash('sha256').update(bytes).digest('hex'),
      });
      if (a.compression) {
        // Decompressed, each equals the uncompressed artifact of its type (one conversion feeds both).
        const tool = DECOMPRESS[a.compression] as string;
        const plain = await runBinary({ command: tool, args: ['-dc', '--', a.path] });
        expect(plain.stdout.equals(await readFile(path.join(dir, `edge-1.0.${FORMATS[a.type]?.ext}`))), `${a.file} decompresses to its type's file`).toBe(true);
        continue;
      }
      const fmt = qemuFormat(a.type);
      // A fixed VHD has its footer at the end, which qemu-img does not probe for; the others are probed.
      const probe = a.type === 'vhd' ? ['-f', fmt] : [];
      const info = JSON.parse((await run({ command: 'qemu-img', args: ['info', ...probe, '--output=json', a.path] })).stdout) as {
        format: string;
        'virtual-size': number;
      };
      expect({ file: a.file, format: info.format, size: info['virtual-size'] }).toEqual({ file: a.file, format: fmt, size: SIZE });
      const cmp = await run({ command: 'qemu-img', args: ['compare', '-f', 'raw', '-F', fmt, source, a.path] }, { reject: false });
      expect({ file: a.file, exit: cmp.exitCode, out: cmp.stdout.trim() }).toEqual({ file: a.file, exit: 0, out: 'Images are identical.' });
    }

    // A second build from the same raw bytes: the same bytes exactly where FORMATS claims so.
    const second = await finalizeAll(source);
    const again = new Map(second.out.map((a) => [a.file, a.sha256]));
    const same = out.map((a) => ({ file: a.file, identical: again.get(a.file) === a.sha256 }));
    expect(same).toEqual(out.map((a) => ({ file: a.file, identical: FORMATS[a.type]?.reproducible })));
    expect(first.events.map((e) => ('message' in e ? e.message : ''))).toContain('compressing edge-1.0.qcow2.xz with xz');
  });

  it('writes gz on every core, holes skipped: gzip reads it back to the raw image, and a second run gives the same bytes', async () => {
    const source = await makeRaw(await tempDir());
    const once = async () => {
      const dir = await tempDir();
      const raw = path.join(dir, 'edge-1.0.raw');
      await copyFile(source, raw);
      const events: CacheEvent[] = [];
      const tpl = template([
        { type: 'raw', compression: 'gz' },
        { type: 'qcow2', compression: 'gz' },
      ]);
      const out = await finalizeArtifacts(runner, { rawImage: raw, buildDir: dir, template: tpl, emit: (e) => events.push(e) });
      return { out, events, dir };
    };
    const first = await once();
    const gz = first.out.find((a) => a.file === 'edge-1.0.raw.gz') as FinalArtifact;
    expect(first.events.map((e) => ('message' in e ? e.message : ''))).toContain('compressing edge-1.0.raw.gz with gz (every core, holes skipped)');
    const test = await runBinary({ command: 'gzip', args: ['-t', '--', gz.path] }, { reject: false });
    expect(test.exitCode, test.stderr).toBe(0);
    const plain = await runBinary({ command: 'gzip', args: ['-dc', '--', gz.path] });
    expect(plain.stdout.equals(await readFile(source)), 'gzip -dc of the gz artifact is the raw image').toBe(true);
    // The qcow2 made by qemu-img where the runner runs, compressed here: qemu-img reads it back to the raw image too.
    const qcow2gz = first.out.find((a) => a.file === 'edge-1.0.qcow2.gz') as FinalArtifact;
    const qcow2 = path.join(first.dir, 'back.qcow2');
    await writeFile(qcow2, (await runBinary({ command: 'gzip', args: ['-dc', '--', qcow2gz.path] })).stdout);
    const back = path.join(first.dir, 'back.raw');
    await runBinary({ command: 'qemu-img', args: ['convert', '-f', 'qcow2', '-O', 'raw', qcow2, back] });
    expect((await readFile(back)).equals(await readFile(source))).toBe(true);
    const second = await once();
    expect(second.out.map((a) => [a.file, a.sha256])).toEqual(first.out.map((a) => [a.file, a.sha256]));
  });

  it('removes the raw image when no artifact is an uncompressed raw image', async () => {
    const dir = await tempDir();
    const raw = await makeRaw(dir);
    const out = await finalizeArtifacts(runner, {
      rawImage: raw,
      buildDir: dir,
      template: template([{ type: 'raw', compression: 'gz' }, { type: 'qcow2' }]),
      emit: () => undefined,
    });
    expect(out.map((a) => a.file)).toEqual(['edge-1.0.raw.gz', 'edge-1.0.qcow2']);
    expect((await readdir(dir)).sort()).toEqual(['edge-1.0.qcow2', 'edge-1.0.raw.gz']);
  });

  it('leaves no output file, keeps the raw image and throws a StepError when a compressor fails after writing', async () => {
    const dir = await tempDir();
    const raw = await makeRaw(dir);
    // The real xz runs and writes its whole output, then the step is reported failed.
    const failingXz: Runner = {
      where: 'host',
      async run(argv, opts) {
        const r = await runner.run(argv, opts);
        if (argv[0] === 'xz') throw new StepError('xz failed with exit code 1: simulated', { command: argv, exitCode: 1, stderr: 'simulated' });
        return r;
      },
    };
    const err = await finalizeArtifacts(failingXz, {
      rawImage: raw,
      buildDir: dir,
      template: template([{ type: 'vmdk', compression: 'xz' }]),
      emit: () => undefined,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepError);
    expect((err as Error).message).toContain('making edge-1.0.vmdk.xz');
    expect(await readdir(dir)).toEqual(['edge-1.0.raw']);
  });

  it('throws a StepError naming the artifacts and leaves no file when qemu-img cannot read the raw image', async () => {
    const dir = await tempDir();
    const err = await finalizeArtifacts(runner, {
      rawImage: path.join(dir, 'missing.raw'),
      buildDir: dir,
      template: template([{ type: 'qcow2' }, { type: 'qcow2', compression: 'zstd' }]),
      emit: () => undefined,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepError);
    expect((err as Error).message).toMatch(/^finalize: making edge-1\.0\.qcow2, edge-1\.0\.qcow2\.zst: converting .*missing\.raw to qcow2 failed/);
    expect((err as StepError).details.command?.[0]).toBe('qemu-img');
    expect(await readdir(dir)).toEqual([]);
  });
});
