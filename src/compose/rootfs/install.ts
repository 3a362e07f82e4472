// Installing the image's locked packages into its root filesystem (a private
// copy of the chroot snapshot), from the local file repository only.
import path from 'node:path';
import { parseDpkgStatus } from '../../deb/status.js';
import { StepError } from '../../errors.js';
import type { LockedPackage, LockFile } from '../../lock/types.js';
import type { Emit } from '../../log/events.js';
import { inImage, writeInImage } from '../configure/io.js';
import type { LocalRepo } from './local-repo.js';
import { chrootMounts, withMounts } from './mounts.js';
import { readFileIn, type Runner } from '../../docker/runner.js';

const APT_LIST = 'etc/apt/sources.list.d/g3-local.list';
/** Keeps maintainer scripts from starting services in the chroot. */
const POLICY_RC = 'usr/sbin/policy-rc.d';

/** apt-get arguments that install exactly `packages` (name=version), non-interactively. */
export function aptInstallArgs(packages: LockedPackage[]): string[] {
  return [
    'apt-get',
    'install',
    '-y',
    '--no-install-recommends',
    '--allow-downgrades',
    '-o',
    'Dpkg::Options::=--force-confdef',
    '-o',
    'Dpkg::Options::=--force-confold',
    // The root filesystem is scratch until the build ends (a crash means a rebuild), so dpkg need not fsync every file.
    '-o',
    'Dpkg::Options::=--force-unsafe-io',
    ...packages.map((p) => `${p.name}=${p.version}`).sort(),
  ];
}

/**
 * Records of the installation itself (dates and durations of this run), a
 * cache ldconfig rebuilds, and dpkg's and debconf's backups of their state
 * before their last write (which differ between one apt run from the chroot
 * and a second one on an installed snapshot, the delta route): removed after
 * installing, so every install of one lock leaves the same files.
 */
export const INSTALL_LEFTOVERS = [
  'var/log/dpkg.log',
  'var/log/alternatives.log',
  'var/log/apt/history.log',
  'var/log/apt/term.log',
  'var/log/apt/eipp.log.xz',
  'var/cache/ldconfig/aux-cache',
  'var/lib/dpkg/status-old',
  'var/lib/dpkg/available-old',
  'var/lib/dpkg/diversions-old',
  'var/lib/dpkg/statoverride-old',
  'var/cache/debconf/config.dat-old',
  'var/cache/debconf/templates.dat-old',
  'var/cache/debconf/passwords.dat-old',
];

/** The shadow files whose "last changed" days are clamped (the second is shadow's own backup). */
const SHADOW_FILES = ['/etc/shadow', '/etc/shadow-'];

/**
 * `/etc/shadow` text with every "last password change" day (field 3) after
 * `day` set to `day`. The chroot's accounts get the day the chroot was made,
 * so without this two builds of one lock on different days (or a delta build
 * on a snapshot of another day) would differ; accounts made during the
 * install already have SOURCE_DATE_EPOCH's day.
 */
export function clampShadowDays(text: string, day: number): string {
  return text
    .split('\n')
    .map((line) => {
      const f = line.split(':');
      if (f.length < 3 || !/^\d+$/.test(f[2] ?? '') || Number(f[2]) <= day) return line;
      f[2] = String(day);
      return f.join(':');
    })
    .join('\n');
}

/** The time the installation stamps into what it generates (the initramfs): the newest Release date in the lock, so it depends on the lock alone. */
export function lockEpoch(lock: LockFile): number {
  const dates = lock.repositories.map((r) => Date.parse(r.release?.date ?? '')).filter((t) => Number.isFinite(t));
  return dates.length > 0 ? Math.floor(Math.max(...dates) / 1000) : 0;
}

/**
 * Run in the image after apt when the kernel hooks were told to skip the
 * initramfs (INITRD=No, only for images whose initramfs-tools makes it): the
 * initramfs of every kernel that has none yet is made once, from the
 * installed system, instead of twice (the kernel hook's, then again by the
 * initramfs-tools trigger at the end of apt). The kernel's /initrd.img links,
 * which linux-update-symlinks leaves out under INITRD=No, are then made as
 * the kernel's own postinst would have.
 */
export const INITRAMFS_ONCE = [
  '/bin/sh',
  '-c',
  [
    'set -e',
    '[ -x /usr/sbin/update-initramfs ] || exit 0',
    'made=""',
    'for m in /usr/lib/modules/*/; do',
    '  v=$(basename "$m")',
    '  [ -e "/boot/vmlinuz-$v" ] && [ ! -e "/boot/initrd.img-$v" ] || continue',
    '  update-initramfs -c -k "$v"',
    '  made="$made $v"',
    'done',
    'if command -v linux-update-symlinks >/dev/null; then',
    '  for v in $made; do linux-update-symlinks upgrade "$v" "/boot/vmlinuz-$v"; done',
    'fi',
  ].join('\n'),
];

/** Whether `packages` make their initramfs with initramfs-tools (not dracut): then it can be made once, after apt. */
export function initramfsToolsImage(packages: readonly LockedPackage[]): boolean {
  const names = new Set(packages.map((p) => p.name));
  return names.has('initramfs-tools') && !names.has('dracut');
}

/**
 * Install `packages` into `rootfs` with apt from `repo`, then remove every
 * trace of the repository. With `initramfsOnce`, an image of initramfs-tools
 * gets its initramfs once, after apt (INITRAMFS_ONCE); an overlay leaves
 * that to its own initramfs stage, a dracut image to the build's.
 */
export async function installPackages(
  runner: Runner,
  o: { rootfs: string; repo: LocalRepo; packages: LockedPackage[]; sourceDateEpoch: number; emit: Emit; initramfsOnce?: boolean },
): Promise<void> {
  const env = { DEBIAN_FRONTEND: 'noninteractive', DEBCONF_NONINTERACTIVE_SEEN: 'true', LC_ALL: 'C.UTF-8', SOURCE_DATE_EPOCH: String(o.sourceDateEpoch) };
  const once = o.initramfsOnce === true && initramfsToolsImage(o.packages);
  const aptEnv = once ? { ...env, INITRD: 'No' } : env;
  const inRoot = (argv: string[]) => inImage(o.rootfs, argv);
  await writeInImage(runner, o.rootfs, `/${APT_LIST}`, `${o.repo.fileSource}\n`, '0644');
  await writeInImage(runner, o.rootfs, `/${POLICY_RC}`, '#!/bin/sh\nexit 101\n', '0755');
  try {
    await withMounts(runner, o.rootfs, chrootMounts([o.repo.dir, o.repo.pkgDir]), async () => {
      await runner.run(inRoot(['apt-get', 'update', '-q']), { env });
      let last = 0;
      await runner.run(inRoot(aptInstallArgs(o.packages)), {
        env: aptEnv,
        onLine: (line) => {
          if (/^(Unpacking|Setting up) /.test(line)) {
            last++;
            if (last % 25 === 0) o.emit({ type: 'info', message: `installing packages: ${last} steps` });
          }
          o.emit({ type: 'debug', message: line });
        },
      });
      if (once) await runner.run(inRoot(INITRAMFS_ONCE), { env, onLine: (line) => o.emit({ type: 'debug', message: line }) });
    });
    await runner.run(['rm', '-f', ...INSTALL_LEFTOVERS.map((f) => path.join(o.rootfs, f))]);
    await clampShadow(runner, o.rootfs, Math.floor(o.sourceDateEpoch / 86400));
  } finally {
    await runner.run(['rm', '-f', path.join(o.rootfs, APT_LIST), path.join(o.rootfs, POLICY_RC)], { reject: false });
    await runner.run(['sh', '-c', 'rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin', 'sh', o.rootfs], { reject: false });
  }
}

/** Clamp the "last changed" days of the image's shadow files to `day` (read and written through chroot, so links resolve inside the image). */
async function clampShadow(runner: Runner, rootfs: string, day: number): Promise<void> {
  for (const file of SHADOW_FILES) {
    const r = await runner.run(inImage(rootfs, ['cat', '--', file]), { reject: false });
    if (r.exitCode !== 0) continue;
    const text = clampShadowDays(r.stdout, day);
    // cat > file keeps the file's owner, group and mode (root:shadow 0640); the output came without its final newline.
    if (text !== r.stdout) await runner.run(inImage(rootfs, ['/bin/sh', '-c', 'cat > "$1"', 'sh', file]), { input: `${text}\n` });
  }
}

/** Check the image's dpkg database lists exactly the locked packages, installed, at their versions. */
export async function checkInstalled(runner: Runner, rootfs: string, packages: LockedPackage[]): Promise<void> {
  const file = path.join(rootfs, 'var/lib/dpkg/status');
  const text = await readFileIn(runner, file).catch((err: unknown) => {
    throw new StepError(`cannot read the image's dpkg database ${file}`, { cause: err });
  });
  const problems = installedProblems(text, packages);
  if (problems.length > 0)
    throw new StepError(
      `the image's packages differ from the lock: ${problems.slice(0, 8).join('; ')}${problems.length > 8 ? `; and ${problems.length - 8} more` : ''}`,
    );
}

/** How a dpkg status file differs from the locked packages (empty when it lists exactly them, installed). */
export function installedProblems(statusText: string, packages: LockedPackage[]): string[] {
  const status = parseDpkgStatus(statusText);
  const want = new Map(packages.map((p) => [`${p.name}:${p.architecture}`, p.version]));
  const problems: string[] = [];
  for (const s of status) {
    const k = `${s.name}:${s.architecture}`;
    // Purged or never-installed entries are dpkg's memory, not packages in the image.
    if ((s.state === 'not-installed' || s.state === 'config-files') && !want.has(k)) continue;
    if (s.state !== 'installed') problems.push(`${s.name} is ${s.state}`);
    else if (!want.has(k)) problems.push(`${s.name} ${s.version} is installed but not locked`);
    else if (want.get(k) !== s.version) problems.push(`${s.name} is ${s.version}, the lock says ${want.get(k)}`);
    want.delete(k);
  }
  for (const [k, v] of want) problems.push(`${k} ${v} is locked but not installed`);
  return problems;
}
