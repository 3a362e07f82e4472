// grub for the ISO, from the composer image: one configuration file on the
// medium (boot/grub/grub.cfg) and two core images that find it, built by
// grub-mkimage with every module they need inside, so that the medium holds no
// module directories: i386-pc-eltorito for BIOS (El Torito, no emulation) and
// x86_64-efi for UEFI (EFI/BOOT/BOOTX64.EFI in a FAT image). grub-mkimage is
// used rather than grub-mkstandalone because its output holds no timestamps.

/** Where the composer image's grub keeps its platforms. */
export const GRUB_LIB = '/usr/lib/grub';
/** The MBR boot code of a hybrid ISO: it starts the El Torito image when the ISO is a hard disk (USB stick). */
export const GRUB_HYBRID_MBR = `${GRUB_LIB}/i386-pc/boot_hybrid.img`;

// What the configuration below needs, on both platforms.
const COMMON_MODULES = [
  'iso9660',
  'part_msdos',
  'part_gpt',
  'search',
  'search_label',
  'normal',
  'configfile',
  'linux',
  'echo',
  'test',
  'serial',
  'terminal',
  'all_video',
  'sleep',
];

/** The grub-mkimage platform and modules of each firmware. */
export const GRUB_PLATFORMS = {
  bios: { format: 'i386-pc-eltorito', modules: ['biosdisk', ...COMMON_MODULES] },
  efi: { format: 'x86_64-efi', modules: ['fat', ...COMMON_MODULES] },
} as const;
export type Firmware = keyof typeof GRUB_PLATFORMS;

/** The configuration built into both core images: find the medium by its volume id, then normal mode reads $prefix/grub.cfg. */
export function grubEarlyConfig(volumeId: string): string {
  return [`search --no-floppy --label --set=root ${volumeId}`, 'set prefix=($root)/boot/grub', ''].join('\n');
}

/** `grub-mkimage` for one firmware, writing `output` with `earlyConfig` inside. */
export function grubMkimageArgv(firmware: Firmware, earlyConfig: string, output: string): string[] {
  const p = GRUB_PLATFORMS[firmware];
  return [
    'grub-mkimage',
    '--format',
    p.format,
    '--directory',
    `${GRUB_LIB}/${p.format === 'x86_64-efi' ? 'x86_64-efi' : 'i386-pc'}`,
    '--prefix',
    '/boot/grub',
    '--config',
    earlyConfig,
    '--output',
    output,
    ...p.modules,
  ];
}

export interface GrubEntry {
  title: string;
  cmdline: string;
  /** A letter that boots the entry at once from the menu. */
  hotkey?: string;
}

/** A menu title grub prints as it is: no quotes, no control characters. */
function safeTitle(title: string): string {
  return title.replace(/['"\\$\u0000-\u001f\u007f]/g, '').trim() || 'image';
}

/**
 * The menu on the medium: grub on the serial console and the screen, the first
 * entry booted after `timeoutSeconds` with no key press, each entry the live
 * kernel and initramfs with its own command line.
 */
export function grubConfig(entries: readonly GrubEntry[], timeoutSeconds: number): string {
  const lines = [
    'serial --unit=0 --speed=115200',
    'terminal_input serial console',
    'terminal_output serial console',
    `set timeout=${timeoutSeconds}`,
    'set default=0',
  ];
  for (const e of entries) {
    const hotkey = e.hotkey && /^[a-z]$/.test(e.hotkey) ? ` --hotkey=${e.hotkey}` : '';
    lines.push(`menuentry '${safeTitle(e.title)}'${hotkey} {`, `  linux /live/vmlinuz ${e.cmdline}`, '  initrd /live/initrd.img', '}');
  }
  return `${lines.join('\n')}\n`;
}
