// The ISO 9660 side: the volume id, the live kernel command line, and the
// mksquashfs and xorriso command lines, all pure so they can be checked
// without building anything.
import { GRUB_HYBRID_MBR } from './grub.js';

/** Where things are on the medium (and in the staging tree). */
export const MEDIUM = {
  kernel: 'live/vmlinuz',
  initrd: 'live/initrd.img',
  squashfs: 'live/filesystem.squashfs',
  grubCfg: 'boot/grub/grub.cfg',
  biosImage: 'boot/grub/bios.img',
  bootCatalog: 'boot/grub/boot.cat',
  installDir: 'install',
} as const;

/** An ISO 9660 volume id from the image name and version: upper-case d-characters (A-Z, 0-9, _), at most 32. */
export function volumeId(name: string, version: string): string {
  const id = `${name}_${version}`
    .toUpperCase()
    .replace(/[^A-Z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 32)
    .replace(/_+$/, '');
  return id || 'G3_LIVE';
}

/**
 * The live system's command line: the template's, without root= (the root is
 * the squashfs on the medium) and with boot=live (live-boot's initramfs), then `extra`.
 */
export function liveCmdline(templateCmdline: string | undefined, extra: readonly string[] = []): string {
  const words = (templateCmdline ?? '')
    .trim()
    .split(/\s+/)
    .filter((w) => w !== '' && !/^root=/.test(w));
  if (!words.some((w) => /^boot=/.test(w))) words.unshift('boot=live');
  return [...words, ...extra].join(' ');
}

/**
 * The command line of a medium that boots an initrd image (systemConfig.initramfs):
 * the template's, without root= and boot= (the system is the initramfs itself), then `extra`.
 */
export function initrdCmdline(templateCmdline: string | undefined, extra: readonly string[] = []): string {
  const words = (templateCmdline ?? '')
    .trim()
    .split(/\s+/)
    .filter((w) => w !== '' && !/^(root|boot)=/.test(w));
  return [...words, ...extra].join(' ');
}

/**
 * mksquashfs of the root filesystem, reproducible: every time (inodes and the
 * superblock) is SOURCE_DATE_EPOCH, directories are sorted by mksquashfs itself,
 * and the compressor's options are fixed. The ESP directory stays out: the live
 * system mounts nothing from it.
 */
export function mksquashfsArgv(rootfs: string, output: string, sourceDateEpoch: number): string[] {
  return [
    'mksquashfs',
    rootfs,
    output,
    '-noappend',
    '-no-progress',
    '-quiet',
    '-comp',
    'zstd',
    '-Xcompression-level',
    '15',
    '-b',
    '1M',
    '-mkfs-time',
    String(sourceDateEpoch),
    '-all-time',
    String(sourceDateEpoch),
    '-wildcards',
    '-e',
    'boot/efi/*',
  ];
}

/**
 * xorriso (mkisofs emulation) for a hybrid ISO: BIOS boots the El Torito image
 * (and the hybrid MBR when the ISO is a disk); UEFI the FAT image, which is both
 * the El Torito EFI entry and an appended GPT partition (an EFI system partition
 * on a USB stick). Rock Ridge with uniform owners and modes (-r) and Joliet.
 * Run with SOURCE_DATE_EPOCH set, xorriso fixes the volume dates, the volume
 * UUID and the GPT GUIDs from it.
 */
export function xorrisoArgv(o: { tree: string; efiImage: string; output: string; volumeId: string }): string[] {
  return [
    'xorriso',
    '-as',
    'mkisofs',
    '-o',
    o.output,
    '-V',
    o.volumeId,
    '-iso-level',
    '3',
    '-full-iso9660-filenames',
    '-J',
    '-joliet-long',
    '-r',
    '--grub2-mbr',
    GRUB_HYBRID_MBR,
    '-partition_offset',
    '16',
    '--mbr-force-bootable',
    '-append_partition',
    '2',
    '0xef',
    o.efiImage,
    '-appended_part_as_gpt',
    '-c',
    MEDIUM.bootCatalog,
    '-b',
    MEDIUM.biosImage,
    '-no-emul-boot',
    '-boot-load-size',
    '4',
    '-boot-info-table',
    '--grub2-boot-info',
    '-eltorito-alt-boot',
    '-e',
    '--interval:appended_partition_2:all::',
    '-no-emul-boot',
    o.tree,
  ];
}

/** The size in KiB of a FAT image that holds `bytes` of files: their size plus room for FAT, directories and rounding, whole MiB. */
export function efiImageKib(bytes: number): number {
  return Math.max(2, Math.ceil((bytes + 512 * 1024) / (1024 * 1024))) * 1024;
}
