// imageType iso: the pure parts (volume id, live command line, grub menu,
// mksquashfs and xorriso command lines, installer settings) and the template
// rules (systemConfig.initramfs and systemConfig.installer).
import { describe, expect, it } from 'vitest';
import { isoImageName, isoMenu } from '../../src/compose/kinds/iso.js';
import { outputKind } from '../../src/compose/kinds/select.js';
import { grubConfig, grubEarlyConfig, grubMkimageArgv } from '../../src/compose/iso/grub.js';
import { installerConfig, installerPlan, installerScript, installerUnit } from '../../src/compose/iso/installer.js';
import { efiImageKib, initrdCmdline, liveCmdline, MEDIUM, mksquashfsArgv, volumeId, xorrisoArgv } from '../../src/compose/iso/medium.js';
import { UserError } from '../../src/errors.js';
import { parseTemplate } from '../../src/template/load.js';
import { IMAGE_TYPES } from '../../src/template/provider.js';
import type { ImageTemplate } from '../../src/template/types.js';
import { validateTemplate } from '../../src/template/validate.js';

const VARS = { mirror: 'http://127.0.0.1:9/debian' };
const DISK = 'disk: {size: 1GiB, partitionTableType: gpt, partitions: [{id: root, start: 1MiB, end: "0", fsType: ext4, mountPoint: /}]}';

function template(type: string, extra: string): ImageTemplate {
  return parseTemplate(
    [
      `target: {os: debian, dist: debian13, arch: x86_64, imageType: ${type}}`,
      'image: {name: g3-live, version: 1.0.0}',
      'packageRepositories:',
      '  - {codename: trixie, url: "${mirror}", component: main}',
      extra,
      '',
    ].join('\n'),
    'iso.yml',
    VARS,
  ).template;
}
const errors = (t: ImageTemplate) => validateTemplate(t, 'iso.yml').errors;

describe('iso naming and command lines', () => {
  it('is a supported image type with its own kind', () => {
    expect(IMAGE_TYPES).toContain('iso');
    expect(outputKind(template('iso', 'systemConfig: {hostname: box}'), 'seed').fstab).toMatch(/nothing to mount/);
    expect(isoImageName(template('iso', ''))).toBe('g3-live-1.0.0.iso');
  });

  it.each([
    ['g3-live', '1.0.0', 'G3_LIVE_1_0_0'],
    ['debian13-x86_64-iso', '1.0', 'DEBIAN13_X86_64_ISO_1_0'],
    ['a-very-long-image-name-for-a-volume', '12.3', 'A_VERY_LONG_IMAGE_NAME_FOR_A_VOL'],
    ['--', '', 'G3_LIVE'],
  ])('makes the volume id of %s %s a d-string of at most 32 characters', (name, version, id) => {
    const got = volumeId(name, version);
    expect(got).toBe(id);
    expect(got).toMatch(/^[A-Z0-9_]{1,32}$/);
  });

  it.each([
    ['console=ttyS0', [], 'boot=live console=ttyS0'],
    ['console=ttyS0 root=LABEL=root rw', ['g3.installer=off'], 'boot=live console=ttyS0 rw g3.installer=off'],
    ['boot=live components  quiet', [], 'boot=live components quiet'],
    [undefined, [], 'boot=live'],
  ] as const)('turns the command line %s into the live one', (given, extra, want) => {
    expect(liveCmdline(given, extra)).toBe(want);
  });

  it('packs the squashfs with fixed times and compressor options, without the ESP directory', () => {
    const argv = mksquashfsArgv('/r', '/o.sqfs', 1700000000);
    expect(argv.slice(0, 3)).toEqual(['mksquashfs', '/r', '/o.sqfs']);
    for (const pair of [
      ['-mkfs-time', '1700000000'],
      ['-all-time', '1700000000'],
      ['-comp', 'zstd'],
      ['-e', 'boot/efi/*'],
    ])
      expect(argv.join(' ')).toContain(pair.join(' '));
  });

  it('writes a hybrid ISO with a BIOS and an EFI El Torito entry, the EFI image also an appended GPT partition', () => {
    const argv = xorrisoArgv({ tree: '/t', efiImage: '/e.img', output: '/o.iso', volumeId: 'V' }).join(' ');
    expect(argv).toContain(`-b ${MEDIUM.biosImage} -no-emul-boot -boot-load-size 4 -boot-info-table --grub2-boot-info`);
    expect(argv).toContain('--grub2-mbr /usr/lib/grub/i386-pc/boot_hybrid.img');
    expect(argv).toContain('-append_partition 2 0xef /e.img -appended_part_as_gpt');
    expect(argv).toContain('-eltorito-alt-boot -e --interval:appended_partition_2:all:: -no-emul-boot');
    expect(argv).toMatch(/-V V .* \/t$/);
  });

  it('builds both grub images with the early configuration that finds the medium by its volume id', () => {
    expect(grubEarlyConfig('G3_LIVE_1_0_0')).toContain('search --no-floppy --label --set=root G3_LIVE_1_0_0');
    const bios = grubMkimageArgv('bios', '/e.cfg', '/b.img');
    expect(bios).toEqual(expect.arrayContaining(['i386-pc-eltorito', 'biosdisk', 'iso9660', '/e.cfg', '/b.img']));
    const efi = grubMkimageArgv('efi', '/e.cfg', '/x.efi');
    expect(efi).toEqual(expect.arrayContaining(['x86_64-efi', '/usr/lib/grub/x86_64-efi', 'iso9660']));
    expect(efi).not.toContain('biosdisk');
    expect(efiImageKib(1_600_000)).toBe(3072);
  });

  it('puts grub on the serial console and boots the first entry after the timeout, titles stripped of quotes', () => {
    const cfg = grubConfig([{ title: 'it\'s "x"', cmdline: 'boot=live console=ttyS0' }], 3);
    expect(cfg).toContain('terminal_output serial console');
    expect(cfg).toContain('set timeout=3');
    expect(cfg).toContain("menuentry 'its x' {");
    expect(cfg).toContain('  linux /live/vmlinuz boot=live console=ttyS0');
    expect(cfg).toContain('  initrd /live/initrd.img');
  });

  it('gives menu entries their hotkey, and only a single lower-case letter', () => {
    const cfg = grubConfig(
      [
        { title: 'a', cmdline: 'x', hotkey: 'u' },
        { title: 'b', cmdline: 'y', hotkey: '} ; reboot' },
      ],
      3,
    );
    expect(cfg).toContain("menuentry 'a' --hotkey=u {");
    expect(cfg).toContain("menuentry 'b' {");
  });

  it("offers the template's installer first, the live system, and on an unattended medium an attended install too", () => {
    const cmdline = (extra: string[] = []) => ['boot=live', ...extra].join(' ');
    expect(isoMenu('g3 1', 'none', cmdline)).toEqual([{ title: 'g3 1 (live)', cmdline: 'boot=live', hotkey: 'l' }]);
    expect(isoMenu('g3 1', 'unattended', cmdline).map((e) => [e.hotkey, e.cmdline])).toEqual([
      ['u', 'boot=live g3.installer=unattended'],
      ['l', 'boot=live g3.installer=off'],
      ['a', 'boot=live g3.installer=attended'],
    ]);
    expect(isoMenu('g3 1', 'attended', cmdline).map((e) => [e.hotkey, e.cmdline])).toEqual([
      ['a', 'boot=live g3.installer=attended'],
      ['l', 'boot=live g3.installer=off'],
    ]);
  });
});

describe('the iso template rules', () => {
  it('accepts an iso without a disk section and without an installer', () => {
    expect(errors(template('iso', 'systemConfig: {hostname: box}'))).toEqual([]);
  });

  it("accepts OS Image Composer's systemConfig.initramfs.template for iso, and refuses it empty, absolute or leading out", () => {
    expect(errors(template('iso', 'systemConfig:\n  initramfs: {template: default-initrd-x86_64.yml}'))).toEqual([]);
    expect(errors(template('iso', 'systemConfig:\n  initramfs: {}')).join('\n')).toMatch(/systemConfig\.initramfs\.template is required/);
    expect(errors(template('iso', 'systemConfig:\n  initramfs: {template: /etc/passwd}')).join('\n')).toMatch(
      /iso\.yml:\d+: systemConfig\.initramfs\.template must be a file inside the template's directory/,
    );
    expect(errors(template('iso', 'systemConfig:\n  initramfs: {template: ../up.yml}')).join('\n')).toMatch(/must be a file inside/);
    // Another key under it is unknown, as everywhere.
    expect(() => template('iso', 'systemConfig:\n  initramfs: {template: a.yml, kernel: b}')).toThrow(/initramfs\.kernel/);
    // Elsewhere it stays a warning, as in OS Image Composer.
    expect(validateTemplate(template('raw', `${DISK}\nsystemConfig:\n  initramfs: {template: x.yml}`), 'iso.yml').warnings.join('\n')).toMatch(
      /systemConfig\.initramfs is used only by ISO images; ignored/,
    );
  });

  it('makes a medium that boots an initramfs template an attended installer when it has a disk, unless told otherwise', () => {
    const initramfs = 'initramfs: {template: initrd.yml}';
    expect(installerPlan(template('iso', `${DISK}\nsystemConfig: {${initramfs}}`)).mode).toBe('attended');
    expect(installerPlan(template('iso', `${DISK}\nsystemConfig: {${initramfs}, installer: {mode: unattended}}`)).mode).toBe('unattended');
    expect(installerPlan(template('iso', `systemConfig: {${initramfs}}`)).mode).toBe('none');
  });

  it.each([
    ['installer: {mode: sometimes}', /systemConfig\.installer\.mode "sometimes" is not supported \(supported: none, attended, unattended\)/],
    ['installer: {mode: unattended, target: largest-disk}', /systemConfig\.installer\.target "largest-disk" is neither a policy/],
    ['installer: {mode: unattended, target: "/dev/../etc"}', /is neither a policy/],
    ['installer: {mode: attended}', /asks for an installer, but the template has no disk section/],
  ])('refuses %s', (yaml, problem) => {
    expect(errors(template('iso', `systemConfig:\n  ${yaml}`)).join('\n')).toMatch(problem);
  });

  it('refuses an installer on other image types', () => {
    expect(errors(template('raw', `${DISK}\nsystemConfig:\n  installer: {mode: unattended}`)).join('\n')).toMatch(
      /systemConfig\.installer is only for imageType iso, not raw/,
    );
  });

  it('defaults to no installer, and the target to the first empty disk', () => {
    expect(installerPlan(template('iso', ''))).toEqual({ mode: 'none', target: 'first-empty-disk' });
    expect(installerPlan(template('iso', `${DISK}\nsystemConfig: {installer: {mode: unattended, target: /dev/vdb}}`))).toEqual({
      mode: 'unattended',
      target: '/dev/vdb',
    });
    expect(() => installerPlan(template('iso', 'systemConfig: {installer: {mode: later}}'))).toThrow(UserError);
  });

  it("takes OS Image Composer's disk.path as the installer's device, and refuses it disagreeing or malformed", () => {
    const disk = (p: string) => DISK.replace('disk: {', `disk: {path: ${p}, `);
    expect(installerPlan(template('iso', `${disk('/dev/sdb')}\nsystemConfig: {installer: {mode: unattended}}`))).toEqual({
      mode: 'unattended',
      target: '/dev/sdb',
    });
    expect(errors(template('iso', `${disk('/dev/sdb')}\nsystemConfig: {installer: {mode: unattended}}`))).toEqual([]);
    expect(errors(template('iso', `${disk('/dev/sdb')}\nsystemConfig: {installer: {mode: unattended, target: /dev/vda}}`)).join('\n')).toMatch(
      /disk\.path is \/dev\/sdb, but systemConfig\.installer\.target is \/dev\/vda/,
    );
    expect(errors(template('iso', `${disk('sdb')}\nsystemConfig: {installer: {mode: unattended}}`)).join('\n')).toMatch(
      /disk\.path "sdb" is not a device path/,
    );
  });
});

describe('the installer files', () => {
  it("boots an initramfs template's system with the template's command line, without root= and boot=", () => {
    expect(initrdCmdline('root=/dev/sda2 boot=live console=ttyS0,115200 console=tty0 loglevel=7', ['g3.installer=attended'])).toBe(
      'console=ttyS0,115200 console=tty0 loglevel=7 g3.installer=attended',
    );
    expect(initrdCmdline(undefined)).toBe('');
  });

  it('writes only values it made into its settings', () => {
    const ok = { image: 'g3-live-1.0.0.raw.zst', sha256: 'a'.repeat(64), size: 4096, target: 'first-empty-disk' };
    expect(installerConfig({ ...ok, mediumLabel: 'G3_LIVE_1_0_0' })).toMatch(/\nMEDIUM_LABEL=G3_LIVE_1_0_0\n$/);
    expect(() => installerConfig({ ...ok, mediumLabel: 'x $(reboot)' })).toThrow(UserError);
    expect(installerConfig(ok)).toBe(`IMAGE=g3-live-1.0.0.raw.zst\nSHA256=${'a'.repeat(64)}\nSIZE=4096\nTARGET=first-empty-disk\n`);
    expect(() => installerConfig({ ...ok, image: 'x;reboot' })).toThrow(UserError);
    expect(() => installerConfig({ ...ok, sha256: 'nope' })).toThrow(UserError);
  });

  it('runs only when the command line asks for it, and checks what it wrote by SHA256', () => {
    expect(installerUnit()).toContain('ConditionKernelCommandLine=|g3.installer=unattended');
    expect(installerUnit()).toContain('ConditionKernelCommandLine=|g3.installer=attended');
    const script = installerScript();
    expect(script).toContain('sha256sum');
    expect(script).toMatch(/\[ "\$got" = "\$SHA256" \] \|\| fail/);
    // The disk the live medium is on is never a candidate.
    expect(script).toContain('[ "$name" != "$medium_disk" ]');
  });
});
