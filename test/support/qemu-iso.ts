// Boot an ISO headless in QEMU (TCG) from its CD-ROM drive, under UEFI (OVMF
// in pflash) or BIOS (SeaBIOS, QEMU's default), and wait for a login prompt on
// the serial console; optionally with a disk attached for the installer to write.
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Answer, type BootOutcome, bootToLogin, OVMF_CODE, OVMF_VARS, runToLogin, X86_BASE } from './qemu.js';

export type Firmware = 'uefi' | 'bios';

export interface IsoBootOptions {
  firmware: Firmware;
  timeoutMs: number;
  /** A disk image (qcow2) on virtio, written by the guest (no snapshot). */
  disk?: string;
  memoryMiB?: number;
  /** Typed on the serial console, in order (grub hotkeys, installer answers). */
  answers?: readonly Answer[];
}

/** The QEMU arguments of an ISO boot; `vars` is a writable copy of OVMF's variable store (UEFI only). */
export function isoBootArgs(iso: string, o: IsoBootOptions, vars?: string): string[] {
  const firmware = o.firmware === 'uefi' ? ['-drive', `if=pflash,format=raw,readonly=on,file=${OVMF_CODE}`, '-drive', `if=pflash,format=raw,file=${vars}`] : [];
  const disk = o.disk ? ['-drive', `file=${o.disk},format=qcow2,if=virtio,discard=unmap,detect-zeroes=unmap`] : [];
  // readonly: the boot can never change the ISO under test.
  return [...X86_BASE, '-m', String(o.memoryMiB ?? 2048), ...firmware, '-drive', `file=${iso},media=cdrom,readonly=on,if=ide`, ...disk, '-boot', 'd'];
}

/** Boot `iso` from the CD-ROM drive until `login:`, the time limit or QEMU's exit (a power-off); QEMU is always stopped. */
export async function bootIso(iso: string, o: IsoBootOptions): Promise<BootOutcome> {
  const dir = await mkdtemp(path.join(tmpdir(), 'g3-qemu-iso-'));
  try {
    const vars = path.join(dir, 'vars.fd');
    if (o.firmware === 'uefi') await copyFile(OVMF_VARS, vars);
    return await runToLogin('qemu-system-x86_64', isoBootArgs(iso, o, vars), o.timeoutMs, o.answers);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Boot a qcow2 disk alone under UEFI (snapshot=on: the boot never changes it) and wait for `login:`. */
export function bootQcow2ToLogin(disk: string, timeoutMs: number): Promise<BootOutcome> {
  return bootToLogin(disk, timeoutMs, 'qcow2');
}
