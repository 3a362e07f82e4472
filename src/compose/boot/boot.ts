// EFI boot: the kernel and initramfs the image's packages installed, and the
// template's bootloader, written into the ESP's directory of the root
// filesystem (`/boot/efi`), which the disk stage then copies into the FAT
// partition with mtools. No loop device, no mount of the image, no NVRAM:
// firmware finds the loader at the removable-media path EFI/BOOT/BOOT<arch>.EFI
// (BOOTX64.EFI on x86_64, BOOTAA64.EFI on aarch64).
//   systemd-boot: its EFI binary from the image, loader.conf and one entry.
//   grub: a standalone EFI image made by grub-mkstandalone inside the image,
//         with its configuration built in.
import path from 'node:path';
import { compareVersions } from '../../deb/version.js';
import { StepError, UserError } from '../../errors.js';
import type { Emit } from '../../log/events.js';
import type { ImageTemplate } from '../../template/types.js';
import { inImage, writeInImage } from '../configure/io.js';
import type { DiskPlan } from '../disk/plan.js';
import { listDirIn, type Runner, statIn } from '../../docker/runner.js';

/** Where the ESP is mounted in the image (the disk stage fills the FAT partition from it). */
export const ESP_DIR = '/boot/efi';
/** Kernel and initramfs live in the ESP under this directory, beside the loader. */
export const ESP_KERNEL_DIR = 'g3';

/** The EFI file names and grub target of one architecture. */
export interface EfiArch {
  /** The UEFI removable-media loader's file name under EFI/BOOT/. */
  removable: string;
  /** systemd-boot's EFI binary as its package installs it. */
  systemdBoot: string;
  /** grub-mkstandalone's --format, also the directory of its modules under /usr/lib/grub/. */
  grubFormat: string;
  /** The Debian package with those grub modules. */
  grubPackage: string;
}

// By template arch (target.arch); the UEFI specification names the removable-media files.
const EFI_ARCH: Readonly<Record<string, EfiArch>> = {
  x86_64: { removable: 'BOOTX64.EFI', systemdBoot: 'systemd-bootx64.efi', grubFormat: 'x86_64-efi', grubPackage: 'grub-efi-amd64-bin' },
  aarch64: { removable: 'BOOTAA64.EFI', systemdBoot: 'systemd-bootaa64.efi', grubFormat: 'arm64-efi', grubPackage: 'grub-efi-arm64-bin' },
};

/** The EFI names for a template arch; an architecture without them is bad input. */
export function efiArch(arch: string | undefined): EfiArch {
  const names = arch === undefined ? undefined : EFI_ARCH[arch];
  if (!names)
    throw new UserError(
      `no EFI boot support for target.arch ${JSON.stringify(arch ?? '(missing)')}`,
      `Use one of ${Object.keys(EFI_ARCH).join(', ')}, or no bootloader.`,
    );
  return names;
}

export interface BootInput {
  rootfs: string;
  template: ImageTemplate;
  plan: DiskPlan;
  emit: Emit;
}

export interface BootResult {
  /** 'none': the kernel is booted directly (an initrd image's kernel beside it). */
  provider: 'systemd-boot' | 'grub' | 'none';
  kernelVersion: string;
  cmdline: string;
}

/** The kernel command line: the template's, with root= added (by PARTUUID) when it names none. */
export function kernelCmdline(template: ImageTemplate, plan: DiskPlan): string {
  const given = (template.systemConfig?.kernel?.cmdline ?? '').trim().replace(/\s+/g, ' ');
  if (/(^| )root=/.test(given)) return given;
  const root = plan.partitions.find((p) => p.mountPoint === '/');
  if (!root) throw new UserError('no partition has mountPoint /, so the kernel has no root filesystem', 'Give the root partition mountPoint: /.');
  return `${given ? `${given} ` : ''}root=PARTUUID=${root.partUuid} rw`.trim();
}

/** The names in the image's /boot; none when it has no /boot directory. */
export async function bootListing(runner: Runner, rootfs: string): Promise<string[]> {
  const dir = path.join(rootfs, 'boot');
  return (await statIn(runner, dir))?.type === 'directory' ? listDirIn(runner, dir) : [];
}

/** Whether a /boot kernel version (`6.12.74+deb13-amd64`) is systemConfig.kernel.version (`6.12`, `6.12.74`). */
export function bootKernelMatches(bootVersion: string, wanted: string): boolean {
  return bootVersion === wanted || [`${wanted}.`, `${wanted}+`, `${wanted}-`].some((p) => bootVersion.startsWith(p));
}

/** The newest kernel version that has both /boot/vmlinuz-<v> and /boot/initrd.img-<v> (and is `wanted`, when given). */
export function pickKernel(names: string[], wanted?: string): string | undefined {
  const versions = names.filter((n) => n.startsWith('vmlinuz-')).map((n) => n.slice('vmlinuz-'.length));
  const complete = versions.filter((v) => names.includes(`initrd.img-${v}`) && (wanted === undefined || wanted === '' || bootKernelMatches(v, wanted)));
  return complete.sort(compareVersions).at(-1);
}

/** systemd-boot's loader.conf and entry, as files under the ESP. */
export function systemdBootFiles(title: string, cmdline: string): Record<string, string> {
  return {
    'loader/loader.conf': 'default g3.conf\ntimeout 0\neditor no\n',
    'loader/entries/g3.conf': [`title ${title}`, `linux /${ESP_KERNEL_DIR}/vmlinuz`, `initrd /${ESP_KERNEL_DIR}/initrd.img`, `options ${cmdline}`, ''].join(
      '\n',
    ),
  };
}

/** grub's built-in configuration: find the ESP by a file only it has, boot at once. */
export function grubConfig(title: string, cmdline: string): string {
  return [
    'set timeout=0',
    `search --no-floppy --file --set=root /${ESP_KERNEL_DIR}/vmlinuz`,
    `menuentry '${title.replace(/'/g, '')}' {`,
    `  linux /${ESP_KERNEL_DIR}/vmlinuz ${cmdline}`,
    `  initrd /${ESP_KERNEL_DIR}/initrd.img`,
    '}',
    '',
  ].join('\n');
}

/** Put kernel, initramfs and the bootloader into the image's ESP directory. */
export async function installBootloader(runner: Runner, o: BootInput): Promise<BootResult | undefined> {
  const boot = o.template.systemConfig?.bootloader;
  if (!boot?.provider || boot.bootType === 'legacy') {
    o.emit({ type: 'warning', message: 'no EFI bootloader in the template (systemConfig.bootloader): the image will not boot by itself' });
    return undefined;
  }
  const provider = boot.provider as BootResult['provider'];
  if (!o.plan.partitions.some((p) => p.mountPoint === ESP_DIR && p.fsType === 'vfat')) {
    throw new UserError(
      `bootloader ${provider} needs an EFI system partition: a FAT partition with mountPoint ${ESP_DIR}`,
      'Add one to disk.partitions (the default template has it).',
    );
  }
  const bootDir = path.join(o.rootfs, 'boot');
  const wanted = o.template.systemConfig?.kernel?.version;
  const version = pickKernel(await bootListing(runner, o.rootfs), wanted);
  const efi = efiArch(o.template.target?.arch);
  if (!version)
    throw new UserError(
      `no kernel${wanted ? ` of version ${wanted}` : ''} with an initramfs in the image's /boot`,
      'List a kernel package (e.g. linux-image-amd64 or linux-image-arm64) in systemConfig.kernel.packages, and initramfs-tools among the packages.',
    );
  const cmdline = kernelCmdline(o.template, o.plan);
  const title = `${o.template.image?.name ?? 'image'} ${o.template.image?.version ?? ''}`.trim();
  const esp = path.join(o.rootfs, ESP_DIR);
  const kernelDir = path.join(esp, ESP_KERNEL_DIR);
  await runner.run(['mkdir', '-p', kernelDir, path.join(esp, 'EFI', 'BOOT')]);
  // Regular files only: names come from a listing, and a link could point out of the image.
  for (const [from, to] of [
    [`vmlinuz-${version}`, 'vmlinuz'],
    [`initrd.img-${version}`, 'initrd.img'],
  ] as const) {
    const src = path.join(bootDir, from);
    if ((await statIn(runner, src))?.type !== 'file') throw new StepError(`${src} is not a regular file`);
    await runner.run(['cp', '--', src, path.join(kernelDir, to)]);
  }
  o.emit({ type: 'info', message: `boot: kernel ${version}, ${provider}, command line "${cmdline}"` });
  if (provider === 'systemd-boot') await systemdBoot(runner, efi, o.rootfs, esp, title, cmdline);
  else await grub(runner, efi, o.rootfs, title, cmdline);
  return { provider, kernelVersion: version, cmdline };
}

async function systemdBoot(runner: Runner, names: EfiArch, rootfs: string, esp: string, title: string, cmdline: string): Promise<void> {
  let efi: string | undefined;
  const dir = '/usr/lib/systemd/boot/efi';
  for (const candidate of [`${dir}/${names.systemdBoot}.signed`, `${dir}/${names.systemdBoot}`]) {
    if ((await statIn(runner, path.join(rootfs, candidate)))?.type === 'file') {
      efi = candidate;
      break;
    }
  }
  if (!efi)
    throw new UserError(
      `systemd-boot is the bootloader, but the image has no ${names.systemdBoot}`,
      'Add systemd-boot (and systemd-boot-efi or its signed build) to systemConfig.packages.',
    );
  for (const dest of [`EFI/BOOT/${names.removable}`, `EFI/systemd/${names.systemdBoot}`]) {
    await runner.run(['mkdir', '-p', path.dirname(path.join(esp, dest))]);
    await runner.run(['cp', '--', path.join(rootfs, efi), path.join(esp, dest)]);
  }
  for (const [file, text] of Object.entries(systemdBootFiles(title, cmdline))) await writeInImage(runner, rootfs, path.join(ESP_DIR, file), text, '0644');
}

async function grub(runner: Runner, names: EfiArch, rootfs: string, title: string, cmdline: string): Promise<void> {
  const missing = [];
  if ((await statIn(runner, path.join(rootfs, 'usr/bin/grub-mkstandalone')))?.type !== 'file') missing.push('grub-common (grub-mkstandalone)');
  if ((await statIn(runner, path.join(rootfs, 'usr/lib/grub', names.grubFormat)))?.type !== 'directory') missing.push(names.grubPackage);
  if (missing.length > 0)
    throw new UserError(
      `grub is the bootloader, but the image lacks ${missing.join(' and ')}`,
      `Add ${names.grubPackage} and grub-common to systemConfig.packages.`,
    );
  await writeInImage(runner, rootfs, '/boot/grub/g3-embedded.cfg', grubConfig(title, cmdline), '0644');
  const argv = inImage(rootfs, [
    'grub-mkstandalone',
    `--format=${names.grubFormat}`,
    `--output=${ESP_DIR}/EFI/BOOT/${names.removable}`,
    '--modules=part_gpt part_msdos fat ext2 search search_fs_file linux normal configfile echo',
    '--locales=',
    '--themes=',
    '--fonts=',
    'boot/grub/grub.cfg=/boot/grub/g3-embedded.cfg',
  ]);
  await runner.run(argv);
  await runner.run(['rm', '-f', path.join(rootfs, 'boot/grub/g3-embedded.cfg')]);
}
