// Writes a raw disk image from a disk plan: a sparse file, the partition
// table, then each filesystem built straight into its place in the file
// (mke2fs -E offset, mkfs.fat --offset, mtools at an offset). No loop devices
// and no mounts, so it works in an unprivileged container and leaves nothing
// attached to the host when a step fails.
import path from 'node:path';
import { StepError, UserError } from '../../errors.js';
import { formatSize } from '../../units/size.js';
import { type DiskPlan, derivedUuid, mountPointProblem, type PartitionPlan, sfdiskScript } from './plan.js';
import { listDirIn, type Runner, statIn } from '../../docker/runner.js';

/** FAT32 sectors per cluster: the largest of 8, 4, 2, 1 that leaves the partition at least 65525 clusters with room to spare. */
export function fat32SectorsPerCluster(sizeSectors: number): number {
  for (const spc of [8, 4, 2]) if (sizeSectors / spc >= 66_000) return spc;
  return 1;
}

export interface AssembleOptions {
  /** The image's root filesystem tree; mount points of other partitions are emptied (moved to stagingDir). */
  rootDir: string;
  imagePath: string;
  /** Where the content of non-root partitions is moved, one directory per partition id. */
  stagingDir: string;
  /** Fixes filesystem timestamps and hash seeds, for reproducible images. */
  sourceDateEpoch?: number;
  onProgress?: (msg: string) => void;
}

/** Build the raw disk image `opts.imagePath` from `plan`, its filesystems filled from `opts.rootDir`. */
export async function assembleDisk(runner: Runner, plan: DiskPlan, opts: AssembleOptions): Promise<void> {
  const say = opts.onProgress ?? (() => {});
  const img = opts.imagePath;
  say(`creating the ${formatSize(plan.sizeBytes)} image ${img}`);
  await step(`creating the image file ${img}`, async () => {
    // Cutting to 0 first drops whatever an earlier build left at this path, so every byte reads as zero.
    await runner.run(['truncate', '-s', '0', img]);
    await runner.run(['truncate', '-s', String(plan.sizeBytes), img]);
  });
  say(`writing the ${plan.table === 'gpt' ? 'GPT' : 'MBR'} partition table`);
  await step(`writing the partition table of ${img}`, () => runner.run(['sfdisk', '--no-reread', '--no-tell-kernel', img], { input: sfdiskScript(plan) }));
  const content = await stageMountPoints(runner, plan, opts, say);
  for (const p of plan.partitions) {
    if (!p.fsType) continue;
    const what = `partition "${p.id}" (${p.index} of ${plan.partitions.length}, ${p.fatBits ? `fat${p.fatBits}` : p.fsType})`;
    say(`creating ${p.fsType} on ${what}${p.mountPoint ? ` for ${p.mountPoint}` : ''}`);
    if (p.fsType === 'vfat') await makeFat(runner, p, img, content.get(p.id), opts, what);
    else await makeExt(runner, p, img, content.get(p.id), opts, what);
  }
}

/**
 * Move the content of every non-root mount point out of rootDir, leaving an
 * empty directory to mount on. Deepest first, so /boot/efi's files leave
 * /boot before /boot itself is moved. Returns each partition's content directory.
 */
async function stageMountPoints(runner: Runner, plan: DiskPlan, opts: AssembleOptions, say: (msg: string) => void): Promise<Map<string, string>> {
  const content = new Map<string, string>();
  const mounted = plan.partitions.filter((p) => p.mountPoint !== undefined);
  const depth = (p: PartitionPlan) => (p.mountPoint ?? '').split('/').filter(Boolean).length;
  for (const p of [...mounted].sort((a, b) => depth(b) - depth(a))) {
    const mp = p.mountPoint as string;
    const problem = mountPointProblem(mp);
    if (problem) throw new UserError(`partition "${p.id}": mountPoint ${problem}`, 'Write an absolute path such as /boot/efi.');
    if (mp === '/') {
      content.set(p.id, opts.rootDir);
      continue;
    }
    const src = path.join(opts.rootDir, mp);
    const dest = path.join(opts.stagingDir, p.id);
    if (await statIn(runner, dest)) {
      throw new StepError(`cannot stage the content of ${mp} for partition "${p.id}": ${dest} already exists (left by an earlier build?)`, {});
    }
    const st = await statIn(runner, src).catch((err: Error) => {
      throw new StepError(`cannot read ${src} (mount point of partition "${p.id}"): ${err.message}`, { cause: err });
    });
    if (st && st.type !== 'directory') {
      throw new UserError(
        `${mp} in the image is ${st.type === 'symlink' ? 'a symbolic link' : 'not a directory'}, so partition "${p.id}" cannot be mounted there`,
        `Remove ${mp} from the image content, or change the partition's mountPoint.`,
      );
    }
    const parent = await statIn(runner, path.dirname(src)).catch((err: Error) => {
      throw new StepError(`cannot read ${path.dirname(src)} (holding the mount point of partition "${p.id}"): ${err.message}`, { cause: err });
    });
    say(`moving ${mp} to the staging directory of partition "${p.id}"`);
    await step(`staging ${mp} for partition "${p.id}"`, async () => {
      await runner.run(['mkdir', '-p', opts.stagingDir]);
      if (st) {
        await runner.run(['mv', '-T', src, dest]);
        await runner.run(['mkdir', '-m', '0755', src]);
      } else {
        await runner.run(['mkdir', '-m', '0755', dest]);
        await runner.run(['mkdir', '-p', '-m', '0755', src]);
      }
      // Moving and recreating touched these directories; give them back their
      // times so the root filesystem records the tree as it was given.
      const fallback = opts.sourceDateEpoch === undefined ? undefined : BigInt(opts.sourceDateEpoch) * 1_000_000_000n;
      for (const [dir, ns] of [
        [src, st?.mtimeNs ?? fallback],
        [path.dirname(src), parent?.mtimeNs],
      ] as const) {
        if (ns !== undefined)
          await runner.run(['touch', '--no-dereference', '-d', `@${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, '0')}`, dir]);
      }
    });
    content.set(p.id, dest);
  }
  return content;
}

async function makeExt(runner: Runner, p: PartitionPlan, img: string, dir: string | undefined, opts: AssembleOptions, what: string): Promise<void> {
  const args = ['mke2fs', '-t', p.fsType as string, '-F', '-q', '-U', p.fsUuid];
  if (p.fsLabel) args.push('-L', p.fsLabel);
  // The image is freshly zeroed, so discarding (hole punching) would only cost time.
  const extended = [`offset=${p.startSector * 512}`, 'nodiscard'];
  const sde = opts.sourceDateEpoch;
  if (sde !== undefined) extended.push(`hash_seed=${derivedUuid(p.fsUuid, 'ext-hash-seed')}`);
  args.push('-E', extended.join(','));
  // With SOURCE_DATE_EPOCH the filesystem is filled from a tarball of the directory: mke2fs copies a directory's
  // ctimes (the time of this build, which nothing can set) but takes a tar entry's times as written, and the tar is
  // written sorted, with times clamped to SOURCE_DATE_EPOCH (mke2fs reads it with libarchive, a composer tool).
  const tar = dir && sde !== undefined && (await mke2fsReadsTar(runner, opts.onProgress)) ? path.join(opts.stagingDir, `${p.id}.fs.tar`) : undefined;
  if (dir && tar && sde !== undefined) {
    await runner.run(['mkdir', '-p', opts.stagingDir]);
    await step(`${what}: packing ${dir}`, () => runner.run(reproducibleTarArgs(dir, tar, sde)));
  }
  if (dir) args.push('-d', tar ?? dir);
  args.push(img, `${Math.floor(p.sizeSectors / 2)}k`);
  // libarchive converts tar path names to the locale's charset: a UTF-8 locale keeps every name as it is.
  const env = sde === undefined ? undefined : { E2FSPROGS_FAKE_TIME: String(sde), SOURCE_DATE_EPOCH: String(sde), LC_ALL: 'C.UTF-8' };
  try {
    await step(`${what}: mke2fs`, () => runner.run(args, { env, input: '' }));
  } finally {
    if (tar) await runner.run(['rm', '-f', tar], { reject: false });
  }
}

/** Whether this mke2fs fills a filesystem from a tarball (e2fsprogs 1.47.1 and later, with libarchive). */
async function mke2fsReadsTar(runner: Runner, say?: (msg: string) => void): Promise<boolean> {
  const r = await runner.run(['mke2fs', '-V'], { reject: false });
  const m = /mke2fs (\d+)\.(\d+)(?:\.(\d+))?/.exec(`${r.stdout}\n${r.stderr}`);
  const v = m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : [0, 0, 0];
  const ok = v[0]! > 1 || (v[0] === 1 && (v[1]! > 47 || (v[1] === 47 && v[2]! >= 1)));
  if (!ok) say?.(`mke2fs ${v.join('.')} cannot read a tarball: the root filesystem keeps this build's ctimes (not reproducible)`);
  return ok;
}

/** tar arguments for a reproducible archive of `dir`: sorted names, numeric owners, xattrs, every time at most `sde` (atime and ctime exactly `sde`). */
export function reproducibleTarArgs(dir: string, tar: string, sde: number): string[] {
  return [
    'tar',
    '--sort=name',
    '--numeric-owner',
    '--xattrs',
    '--xattrs-include=*',
    '--format=pax',
    `--mtime=@${sde}`,
    '--clamp-mtime',
    `--pax-option=delete=atime,delete=ctime,atime:=${sde},ctime:=${sde}`,
    '-C',
    dir,
    '-cf',
    tar,
    '.',
  ];
}

async function makeFat(runner: Runner, p: PartitionPlan, img: string, dir: string | undefined, opts: AssembleOptions, what: string): Promise<void> {
  const sde = opts.sourceDateEpoch;
  // --invariant fixes the creation time and other time-based fields; it comes before -i so the volume id still wins.
  const args = ['mkfs.fat', ...(sde === undefined ? [] : ['--invariant'])];
  if (p.fatBits) args.push('-F', String(p.fatBits));
  // mkfs.fat sizes clusters for the whole file it writes into, not the partition, so a small FAT32 ESP on a large disk got too few.
  if (p.fatBits === 32) args.push('-s', String(fat32SectorsPerCluster(p.sizeSectors)));
  if (p.fsLabel) args.push('-n', p.fsLabel);
  // Hidden sectors record where the partition starts; mkfs.fat assumes 0 for a file.
  args.push('-i', p.fsUuid.replace('-', ''), '-h', String(p.startSector), '--offset', String(p.startSector), img, String(Math.floor(p.sizeSectors / 2)));
  const env = sde === undefined ? undefined : { SOURCE_DATE_EPOCH: String(sde) };
  const made = await step(
    `${what}: mkfs.fat`,
    () => runner.run(args, { env }),
    (stderr) =>
      /too small or a too large/.test(stderr)
        ? new UserError(
            `${what} is ${formatSize(p.sizeSectors * 512)}, which mkfs.fat cannot format as ${p.fatBits ? `FAT${p.fatBits}` : 'FAT'}`,
            'FAT12 fits up to about 255MiB, FAT16 about 16MiB to 4GiB, FAT32 from 33MiB: change fsType or the partition size.',
          )
        : undefined,
  );
  if (/less th[ae]n suggested minimum/i.test(`${made.stdout}\n${made.stderr}`)) {
    throw new UserError(`${what} is too small for FAT32 (fewer than 65525 clusters)`, 'Make the partition at least 33MiB, or use fsType fat16.');
  }
  if (!dir) return;
  // mcopy -m keeps each file's mtime: clamp them, so the FAT directory entries are the same in every build.
  if (sde !== undefined) await runner.run(['find', dir, '-newermt', `@${sde}`, '-exec', 'touch', '--no-dereference', '-d', `@${sde}`, '{}', '+']);
  const entries = await listDirIn(runner, dir);
  if (entries.length === 0) return;
  await step(`${what}: copying ${dir} with mcopy`, () =>
    runner.run(['mcopy', '-s', '-p', '-m', '-Q', '-i', `${img}@@${p.startSector * 512}`, ...entries.map((e) => path.join(dir, e)), '::/'], {
      env: { MTOOLS_SKIP_CHECK: '1' },
      input: '',
    }),
  );
}

/** Run `fn`, naming `what` in a StepError it throws (or in the UserError `asUserError` makes of its stderr). */
async function step<T>(what: string, fn: () => Promise<T>, asUserError?: (stderr: string) => UserError | undefined): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof StepError)) throw err;
    const user = asUserError?.(err.details.stderr ?? '');
    if (user) throw user;
    throw new StepError(`${what}: ${err.message}`, { ...err.details, cause: err });
  }
}
