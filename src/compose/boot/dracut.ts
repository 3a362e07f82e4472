// The initramfs, made again by dracut when the image installs dracut (OS Image
// Composer's "bb" templates do). The kernel package's hook ran dracut while the
// packages were installed, before the template's additionalFiles and
// configurations put its own modules under /usr/lib/dracut/modules.d/ and its
// settings under /etc/dracut.conf.d/; so, once configuration is done, every
// installed kernel's /boot/initrd.img-<version> is made again with them.
//   --no-hostonly: the host dracut would look at is the build container, not the
//                  machine the image boots on, so the initramfs carries every driver.
//   --reproducible: file times clamped and archive order fixed (SOURCE_DATE_EPOCH),
//                   so the same lock and template give the same bytes.
import path from 'node:path';
import { StepError, UserError } from '../../errors.js';
import type { Emit } from '../../log/events.js';
import { escapeInline } from '../../text/untrusted.js';
import { listDirIn, type Runner, statIn } from '../../docker/runner.js';
import { inImage, runKeepingTail } from '../configure/io.js';
import { chrootMounts, withMounts } from '../rootfs/mounts.js';
import { bootListing } from './boot.js';

/** Where dracut looks for its modules, in the image. */
export const DRACUT_MODULES_DIR = 'usr/lib/dracut/modules.d';

export interface DracutResult {
  /** The kernel versions whose initramfs dracut made. */
  kernels: string[];
  /** dracut modules in the initramfs of the newest kernel (from its modules.txt). */
  modules: string[];
  /** Module folders under /usr/lib/dracut/modules.d that no package installed: the template's own. */
  ownModules: string[];
}

/** The dracut argument array that makes `/boot/initrd.img-<version>` for one kernel, in the image. */
export function dracutArgs(version: string): string[] {
  return ['dracut', '--force', '--no-hostonly', '--reproducible', '--quiet', '--kver', version, `/boot/initrd.img-${version}`];
}

/** Kernel versions with a /boot/vmlinuz-<v> and modules in /lib/modules/<v>: the ones an initramfs is made for. */
export function kernelsWithModules(bootNames: string[], moduleDirs: string[]): string[] {
  return bootNames
    .filter((n) => n.startsWith('vmlinuz-'))
    .map((n) => n.slice('vmlinuz-'.length))
    .filter((v) => moduleDirs.includes(v))
    .sort();
}

/** The module names a dracut modules.txt lists (one a line). */
export function parseModulesTxt(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

/** The image's own module folders (`91hello`) whose module (`hello`) is not among the initramfs's modules. */
export function missingOwnModules(ownModules: string[], inInitramfs: string[]): string[] {
  return ownModules.filter((dir) => !inInitramfs.includes(dir.replace(/^\d+/, '')));
}

/** Whether the image has dracut: its program, as the dracut-core package installs it. */
export async function hasDracut(runner: Runner, rootfs: string): Promise<boolean> {
  return (await statIn(runner, path.join(rootfs, 'usr/bin/dracut')))?.type === 'file';
}

/**
 * Make every kernel's initramfs again with dracut, after configuration, when
 * the image has dracut; undefined when it has not (initramfs-tools made it).
 */
export async function dracutInitramfs(runner: Runner, o: { rootfs: string; sourceDateEpoch: number; emit: Emit }): Promise<DracutResult | undefined> {
  if (!(await hasDracut(runner, o.rootfs))) return undefined;
  const modulesRoot = path.join(o.rootfs, 'usr/lib/modules');
  const moduleDirs = (await statIn(runner, modulesRoot))?.type === 'directory' ? await listDirIn(runner, modulesRoot) : [];
  const kernels = kernelsWithModules(await bootListing(runner, o.rootfs), moduleDirs);
  if (kernels.length === 0) {
    o.emit({ type: 'warning', message: 'dracut is in the image but no kernel with modules is: no initramfs made' });
    return { kernels: [], modules: [], ownModules: [] };
  }
  const ownModules = await unpackagedModules(runner, o.rootfs);
  const env = { LC_ALL: 'C.UTF-8', SOURCE_DATE_EPOCH: String(o.sourceDateEpoch) };
  // lsinitrd, like dracut, needs /dev (its /dev/null and mktemp) in the image.
  const modules = await withMounts(runner, o.rootfs, chrootMounts([]), async () => {
    for (const version of kernels) {
      const own = ownModules.length ? `, with the image's own modules ${ownModules.map((m) => escapeInline(m)).join(', ')}` : '';
      o.emit({ type: 'info', message: `initramfs: dracut for kernel ${escapeInline(version)}${own}` });
      const { result: r, tail: shown } = await runKeepingTail(runner, inImage(o.rootfs, dracutArgs(version)), {
        env,
        each: (line) => o.emit({ type: 'debug', message: `[dracut] ${escapeInline(line)}` }),
      });
      if (r.exitCode !== 0) {
        throw new UserError(
          `dracut failed for kernel ${escapeInline(version)} (exit ${r.exitCode}): ${escapeInline(shown.at(-1) ?? 'no output')}`,
          `Check the image's dracut modules (/${DRACUT_MODULES_DIR}) and /etc/dracut.conf.d/ settings; the last lines:\n${shown.map((l) => escapeInline(l)).join('\n')}`,
        );
      }
    }
    return modulesIn(runner, o.rootfs, kernels.at(-1)!);
  });
  for (const own of missingOwnModules(ownModules, modules))
    o.emit({
      type: 'warning',
      message: `the image's own dracut module ${escapeInline(own)} is not in the initramfs: its check() declined it and no /etc/dracut.conf.d/ file adds it (add_dracutmodules+=" ${escapeInline(own.replace(/^\d+/, ''))} ")`,
    });
  return { kernels, modules, ownModules };
}

/** Module folders (`91hello`) under /usr/lib/dracut/modules.d that dpkg does not list as any package's. */
async function unpackagedModules(runner: Runner, rootfs: string): Promise<string[]> {
  const dir = path.join(rootfs, DRACUT_MODULES_DIR);
  if ((await statIn(runner, dir))?.type !== 'directory') return [];
  const names = await listDirIn(runner, dir);
  const owned = new Set<string>();
  // dpkg's own lists (one file a package) say which paths packages installed; read, never executed.
  const lists = await runner.run(['sh', '-c', 'cat -- "$1"/var/lib/dpkg/info/*.list 2>/dev/null || true', 'sh', rootfs]);
  const prefix = `/${DRACUT_MODULES_DIR}/`;
  for (const line of lists.stdout.split('\n')) {
    if (!line.startsWith(prefix)) continue;
    const name = line.slice(prefix.length).split('/')[0];
    if (name) owned.add(name);
  }
  return names.filter((n) => !owned.has(n));
}

/** The dracut modules an initramfs holds, from the modules.txt dracut writes into it (read with lsinitrd, in the image). */
async function modulesIn(runner: Runner, rootfs: string, version: string): Promise<string[]> {
  const r = await runner.run(inImage(rootfs, ['lsinitrd', '-f', 'usr/lib/dracut/modules.txt', `/boot/initrd.img-${version}`]), { reject: false });
  if (r.exitCode !== 0)
    throw new StepError(
      `cannot list the dracut modules of /boot/initrd.img-${version}: ${escapeInline(r.stderr.trim().split('\n').at(-1) ?? '') || `exit ${r.exitCode}`}`,
      {
        exitCode: r.exitCode,
        stderr: r.stderr,
      },
    );
  return parseModulesTxt(r.stdout);
}
