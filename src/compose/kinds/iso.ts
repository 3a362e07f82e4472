// imageType iso: a hybrid ISO 9660 image (<stem>.iso) that boots the
// configured system live under UEFI and BIOS. The system is a squashfs that
// live-boot's initramfs (the image's own, from its packages) mounts with a RAM
// overlay; grub comes from the composer image (src/compose/iso/grub.ts). With
// systemConfig.installer the medium also carries the template's disk image,
// made by the raw kind's code, and an installer (src/compose/iso/installer.ts).
// With systemConfig.initramfs (OS Image Composer's ISOs) the medium boots that
// template's initrd image instead (built first as a target of its own, see
// packages/initramfs-target.ts): no squashfs, the installer appended to the
// initramfs as a second cpio archive, and the disk image gzip-compressed
// (gzip is Essential in Debian; the initramfs system may lack zstd).
// Reproducible: mksquashfs with fixed times and options, grub-mkimage (no
// timestamps), mkfs.fat --invariant with a derived volume id and clamped
// mtimes for mcopy, and xorriso with SOURCE_DATE_EPOCH over a tree whose
// mtimes are clamped to it.
import path from 'node:path';
import { StepError, UserError } from '../../errors.js';
import { hashFile } from '../../fs/hash.js';
import { statIn } from '../../docker/runner.js';
import type { ImageTemplate } from '../../template/types.js';
import { bootListing, installBootloader, pickKernel } from '../boot/boot.js';
import { writeInImage, inImage } from '../configure/io.js';
import { fstab } from '../configure/fstab.js';
import { assembleDisk } from '../disk/disk.js';
import { derivedUuid, planDisk } from '../disk/plan.js';
import { type Firmware, type GrubEntry, grubConfig, grubEarlyConfig, grubMkimageArgv } from '../iso/grub.js';
import { INSTALLER_FILES, installerConfig, installerPlan, installerScript, installerUnit } from '../iso/installer.js';
import { efiImageKib, initrdCmdline, liveCmdline, MEDIUM, mksquashfsArgv, volumeId, xorrisoArgv } from '../iso/medium.js';
import { newcArchive, type NewcEntry, parentDirs } from '../iso/newc.js';
import { imageStem } from '../outputs/plan.js';
import { safeOutputName } from './raw.js';
import type { LiveSystem, OutputContext, OutputKind } from './types.js';

/** The fstab of the live system: live-boot mounts its root; nothing else is mounted. */
export const LIVE_FSTAB = '# The root filesystem is the live medium (squashfs with a RAM overlay): nothing to mount.\n';
// live-boot-initramfs-tools puts its boot script here; without it the initramfs cannot find the medium.
const LIVE_BOOT_SCRIPT = 'usr/share/initramfs-tools/scripts/live';
const GRUB_TIMEOUT_SECONDS = 3;

/**
 * The grub menu: the template's choice first (booted after the timeout), then the live system without
 * installing (hotkey l), and on an unattended medium an attended install too (hotkey a), for a machine
 * whose disk should be chosen by hand. The unattended entry's hotkey is u.
 */
export function isoMenu(title: string, mode: string, cmdline: (extra?: string[]) => string): GrubEntry[] {
  if (mode === 'none') return [{ title: `${title} (live)`, cmdline: cmdline(), hotkey: 'l' }];
  const entries: GrubEntry[] = [
    { title: `${title} (${mode} install)`, cmdline: cmdline([`g3.installer=${mode}`]), hotkey: mode === 'attended' ? 'a' : 'u' },
    { title: `${title} (live, no install)`, cmdline: cmdline(['g3.installer=off']), hotkey: 'l' },
  ];
  if (mode === 'unattended') entries.push({ title: `${title} (attended install: choose the disk)`, cmdline: cmdline(['g3.installer=attended']), hotkey: 'a' });
  return entries;
}

/** The ISO's file name: `<image.name>-<image.version>.iso`. */
export function isoImageName(template: ImageTemplate): string {
  return safeOutputName(`${imageStem(template)}.iso`);
}

export function isoKind(template: ImageTemplate, seed: string): OutputKind {
  const fromInitramfs = template.systemConfig?.initramfs?.template !== undefined;
  const installer = installerPlan(template);
  if (installer.mode !== 'none' && !template.disk)
    throw new UserError(
      `systemConfig.installer.mode is ${installer.mode}, but the template has no disk section for the installer to write`,
      'Add a disk section (the default template has one).',
    );
  const plan = installer.mode !== 'none' && template.disk ? planDisk(template.disk, seed) : undefined;
  return {
    // The installed system's fstab while the disk image is made; the live one replaces it before the squashfs.
    fstab: plan ? fstab(plan) : LIVE_FSTAB,
    bootsInitramfs: true,
    async make(c) {
      const tree = path.join(c.staging, 'iso');
      await c.runner.run(['rm', '-rf', tree]);
      await c.runner.run(['mkdir', '-p', ...['live', 'boot/grub', MEDIUM.installDir].map((d) => path.join(tree, d))]);
      const volid = volumeId(c.template.image?.name ?? 'image', c.template.image?.version ?? '0');
      const stem = imageStem(c.template);
      let version: string;
      let cmdline: (extra?: string[]) => string;
      if (fromInitramfs) {
        if (!c.live) throw new StepError('systemConfig.initramfs: the initrd image the ISO boots was not built');
        version = c.live.kernelVersion;
        await copyLive(c, c.live, tree);
        const installed = plan ? await c.timed('disk', () => installerPayload(c, plan, tree, stem, 'gzip')) : undefined;
        if (installed)
          await appendInstaller(c, path.join(tree, MEDIUM.initrd), installerConfig({ ...installed, target: installer.target, mediumLabel: volid }));
        cmdline = (extra = []) => initrdCmdline(c.template.systemConfig?.kernel?.cmdline, extra);
      } else {
        const boot = path.join(c.rootfs, 'boot');
        const found = pickKernel(await bootListing(c.runner, c.rootfs), c.template.systemConfig?.kernel?.version);
        if (!found)
          throw new UserError(
            "no kernel with an initramfs in the image's /boot",
            'List a kernel package (e.g. linux-image-amd64) in systemConfig.kernel.packages.',
          );
        version = found;
        if ((await statIn(c.runner, path.join(c.rootfs, LIVE_BOOT_SCRIPT)))?.type !== 'file')
          throw new UserError('imageType iso boots with live-boot, but the image has no live-boot initramfs script', 'Add live-boot to systemConfig.packages.');
        // Kernel and initramfs first: the disk stage moves /boot's files when /boot is a partition of its own.
        for (const [from, to] of [
          [`vmlinuz-${version}`, MEDIUM.kernel],
          [`initrd.img-${version}`, MEDIUM.initrd],
        ] as const) {
          const src = path.join(boot, from);
          if ((await statIn(c.runner, src))?.type !== 'file') throw new StepError(`${src} is not a regular file`);
          await c.runner.run(['cp', '--', src, path.join(tree, to)]);
        }
        const installed = plan ? await c.timed('disk', () => installerPayload(c, plan, tree, stem, 'zstd')) : undefined;
        if (installed) await addInstaller(c, installed, installer.target);
        await writeInImage(c.runner, c.rootfs, '/etc/fstab', LIVE_FSTAB, '0644');
        c.emit({ type: 'info', message: `iso: packing the system into ${MEDIUM.squashfs} (squashfs, zstd)` });
        await c.timed('squashfs', () => c.runner.run(mksquashfsArgv(c.rootfs, path.join(tree, MEDIUM.squashfs), c.sourceDateEpoch)));
        cmdline = (extra = []) => liveCmdline(c.template.systemConfig?.kernel?.cmdline, extra);
      }

      const title = `${c.template.image?.name ?? 'image'} ${c.template.image?.version ?? ''}`.trim();
      const entries = isoMenu(title, installer.mode, cmdline);
      await c.runner.run(['sh', '-c', 'cat > "$1"', 'sh', path.join(tree, MEDIUM.grubCfg)], { input: grubConfig(entries, GRUB_TIMEOUT_SECONDS) });
      const output = path.join(c.buildDir, isoImageName(c.template));
      await c.timed('iso', async () => {
        const efiImage = await grubImages(c, tree, volid);
        // Every date on the medium is SOURCE_DATE_EPOCH (xorriso takes file dates from the mtimes).
        await c.runner.run(['find', tree, efiImage, '-exec', 'touch', '--no-dereference', '-d', `@${c.sourceDateEpoch}`, '{}', '+']);
        c.emit({ type: 'info', message: `iso: writing ${path.basename(output)} (volume ${volid}, UEFI and BIOS)` });
        await c.runner.run(['rm', '-f', `${output}.part`]);
        await c.runner.run(xorrisoArgv({ tree, efiImage, output: `${output}.part`, volumeId: volid }), {
          env: { SOURCE_DATE_EPOCH: String(c.sourceDateEpoch) },
        });
        await c.runner.run(['mv', '-f', '-T', '--', `${output}.part`, output]);
      });
      const iso = await hashFile(output);
      return {
        artifacts: [{ file: path.basename(output), path: output, type: 'iso', size: iso.size, sha256: iso.sha256 }],
        imageBytes: iso.size,
        boot: { provider: 'grub', kernelVersion: version, cmdline: entries[0]?.cmdline ?? '' },
      };
    },
  };
}

/** The initramfs template's kernel and initrd image onto the medium, each checked against the SHA256 its build reported. */
async function copyLive(c: OutputContext, live: LiveSystem, tree: string): Promise<void> {
  c.emit({ type: 'info', message: `iso: the medium boots the initrd image of ${live.target} (kernel ${live.kernelVersion})` });
  for (const [from, to] of [
    [live.kernel, MEDIUM.kernel],
    [live.image, MEDIUM.initrd],
  ] as const) {
    const dest = path.join(tree, to);
    if ((await statIn(c.runner, from.path))?.type !== 'file') throw new StepError(`${from.path} is not a regular file`);
    await c.runner.run(['cp', '--', from.path, dest]);
    const got = (await c.runner.run(['sha256sum', '--', dest])).stdout.split(' ')[0];
    if (got !== from.sha256)
      throw new StepError(
        `${path.basename(from.path)} of ${live.target} changed after its build (SHA256 ${got}, built as ${from.sha256}): another build replaced it; run again`,
      );
  }
}

/**
 * The installer into the initramfs the medium boots: a second, uncompressed
 * newc archive after the image's own (the kernel unpacks both, in order), 4-byte aligned.
 */
async function appendInstaller(c: OutputContext, initrd: string, config: string): Promise<void> {
  const rel = (p: string) => p.replace(/^\//, '');
  const files: NewcEntry[] = [
    { type: 'file', path: rel(INSTALLER_FILES.script), mode: 0o755, data: installerScript() },
    { type: 'file', path: rel(INSTALLER_FILES.config), mode: 0o644, data: config },
    { type: 'file', path: rel(INSTALLER_FILES.unit), mode: 0o644, data: installerUnit() },
    { type: 'symlink', path: rel(INSTALLER_FILES.wants), target: INSTALLER_FILES.unit },
  ];
  const dirs: NewcEntry[] = parentDirs(files.map((f) => f.path)).map((d) => ({ type: 'dir', path: d, mode: 0o755 }));
  const archive = newcArchive([...dirs, ...files], c.sourceDateEpoch);
  const size = Number((await c.runner.run(['stat', '-c', '%s', '--', initrd])).stdout.trim());
  const input = Buffer.concat([Buffer.alloc((4 - (size % 4)) % 4), archive]);
  await c.runner.run(['sh', '-c', 'cat >> "$1"', 'sh', initrd], { input });
}

interface Payload {
  /** The compressed disk image's name under install/. */
  image: string;
  /** SHA256 and size of the uncompressed disk image: what the installer checks on the disk. */
  sha256: string;
  size: number;
}

/** The installed system's disk image, made as the raw kind makes it, compressed into the medium's install/. */
async function installerPayload(c: OutputContext, plan: ReturnType<typeof planDisk>, tree: string, stem: string, codec: 'zstd' | 'gzip'): Promise<Payload> {
  await installBootloader(c.runner, { rootfs: c.rootfs, template: c.template, plan, emit: c.emit });
  const raw = path.join(c.staging, `${stem}.raw`);
  await assembleDisk(c.runner, plan, {
    rootDir: c.rootfs,
    imagePath: raw,
    stagingDir: path.join(c.staging, 'parts'),
    sourceDateEpoch: c.sourceDateEpoch,
    onProgress: (m) => c.emit({ type: 'info', message: m }),
  });
  const sum = (await c.runner.run(['sha256sum', '--', raw])).stdout.split(' ')[0] ?? '';
  const image = safeOutputName(`${stem}.raw.${codec === 'zstd' ? 'zst' : 'gz'}`);
  const out = path.join(tree, MEDIUM.installDir, image);
  c.emit({ type: 'info', message: `iso: compressing the installer's disk image into ${MEDIUM.installDir}/${image}` });
  if (codec === 'zstd') await c.runner.run(['zstd', '-q', '-T0', '-10', '--no-progress', '-f', '-o', out, raw]);
  // -n: no name or time in the header, so the bytes depend only on the image.
  else await c.runner.run(['sh', '-c', 'gzip -n -6 -c -- "$1" > "$2"', 'sh', raw, out]);
  await c.runner.run(['rm', '-f', raw]);
  await c.runner.run(['rm', '-rf', path.join(c.staging, 'parts')]);
  return { image, sha256: sum, size: plan.sizeBytes };
}

/** The installer's script, settings and unit in the live system (after the disk image was made, so the installed system has none of them). */
async function addInstaller(c: OutputContext, p: Payload, target: string): Promise<void> {
  await writeInImage(c.runner, c.rootfs, INSTALLER_FILES.script, installerScript(), '0755');
  await writeInImage(c.runner, c.rootfs, INSTALLER_FILES.config, installerConfig({ ...p, target }), '0644');
  await writeInImage(c.runner, c.rootfs, INSTALLER_FILES.unit, installerUnit(), '0644');
  await c.runner.run(inImage(c.rootfs, ['mkdir', '-p', path.dirname(INSTALLER_FILES.wants)]));
  await c.runner.run(inImage(c.rootfs, ['ln', '-sfT', INSTALLER_FILES.unit, INSTALLER_FILES.wants]));
}

/** grub's two core images: boot/grub/bios.img in the tree, and the FAT image holding EFI/BOOT/BOOTX64.EFI (returned). */
async function grubImages(c: OutputContext, tree: string, volid: string): Promise<string> {
  const work = path.join(c.staging, 'grub');
  await c.runner.run(['rm', '-rf', work]);
  await c.runner.run(['mkdir', '-p', path.join(work, 'fat/EFI/BOOT')]);
  const early = path.join(work, 'early.cfg');
  await c.runner.run(['sh', '-c', 'cat > "$1"', 'sh', early], { input: grubEarlyConfig(volid) });
  const images: Record<Firmware, string> = { bios: path.join(tree, MEDIUM.biosImage), efi: path.join(work, 'fat/EFI/BOOT/BOOTX64.EFI') };
  for (const fw of ['bios', 'efi'] as const) await c.runner.run(grubMkimageArgv(fw, early, images[fw]));
  const efiBytes = Number((await c.runner.run(['stat', '-c', '%s', images.efi])).stdout.trim());
  const fat = path.join(work, 'efi.img');
  const env = { SOURCE_DATE_EPOCH: String(c.sourceDateEpoch) };
  const fatId = derivedUuid(c.seed, 'iso-efi-fat').replace(/-/g, '').slice(0, 8);
  await c.runner.run(['mkfs.fat', '--invariant', '-i', fatId, '-n', 'EFIBOOT', '-C', fat, String(efiImageKib(efiBytes))], { env });
  await c.runner.run(['find', path.join(work, 'fat'), '-exec', 'touch', '--no-dereference', '-d', `@${c.sourceDateEpoch}`, '{}', '+']);
  await c.runner.run(['mcopy', '-s', '-p', '-m', '-Q', '-i', fat, path.join(work, 'fat/EFI'), '::/'], { env: { ...env, MTOOLS_SKIP_CHECK: '1' }, input: '' });
  return fat;
}
