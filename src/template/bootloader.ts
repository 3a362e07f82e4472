// The packages each bootloader needs in the image, so that they follow the
// provider a template ends up with instead of being listed in the defaults
// (a template that chooses grub must not get systemd-boot).

/** Per architecture (the template's target.arch), per systemConfig.bootloader.provider. */
const PACKAGES: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>> = {
  x86_64: {
    // The EFI binary comes with the package (its signed build is used when installed too).
    'systemd-boot': ['systemd-boot'],
    // What compose/boot/boot.ts needs: grub-mkstandalone and the x86_64-efi modules.
    grub: ['grub-efi-amd64-bin', 'grub-common'],
  },
  aarch64: {
    'systemd-boot': ['systemd-boot'],
    // grub-mkstandalone and the arm64-efi modules.
    grub: ['grub-efi-arm64-bin', 'grub-common'],
  },
};

/** The packages of `provider` on `arch`; none for an unknown provider or architecture (validation reports those). */
export function bootloaderPackages(arch: string | undefined, provider: string | undefined): string[] {
  if (arch === undefined || provider === undefined) return [];
  return [...(PACKAGES[arch]?.[provider] ?? [])];
}
