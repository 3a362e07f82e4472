// Boot an arm64 raw disk image headless in QEMU's `virt` machine (TCG on this
// x86_64 host) with the AAVMF UEFI firmware and wait for a login prompt on the
// serial console (the PL011 UART, ttyAMA0 in the guest). The disk is opened
// with snapshot=on, so the boot never changes it; the firmware's variables
// are a copy, so the machine's own file stays as installed.
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type BootOutcome, runToLogin } from './qemu.js';

export const AAVMF_CODE = '/usr/share/AAVMF/AAVMF_CODE.fd';
export const AAVMF_VARS = '/usr/share/AAVMF/AAVMF_VARS.fd';

/** The machine: virt with a Cortex-A57, TCG, no network, serial console on stdio, no monitor. */
export const ARM64_BASE: readonly string[] = [
  '-M',
  'virt',
  '-cpu',
  'cortex-a57',
  '-accel',
  'tcg',
  '-smp',
  '2',
  '-m',
  '1024',
  '-nographic',
  '-no-reboot',
  '-nic',
  'none',
  '-serial',
  'stdio',
  '-monitor',
  'none',
];

/** The qemu-system-aarch64 arguments that boot `image` with the firmware `code` and the variables copy `vars` (both 64 MiB pflash files). */
export function arm64BootArgs(image: string, vars: string, code = AAVMF_CODE): string[] {
  return [
    ...ARM64_BASE,
    '-drive',
    `if=pflash,format=raw,readonly=on,file=${code}`,
    '-drive',
    `if=pflash,format=raw,file=${vars}`,
    '-drive',
    `file=${image},format=raw,if=virtio,snapshot=on`,
  ];
}

/** Boot `image` and resolve once the serial console shows `login:` or `timeoutMs` passes; QEMU is always stopped. */
export async function bootArm64ToLogin(image: string, timeoutMs: number): Promise<BootOutcome> {
  const dir = await mkdtemp(path.join(tmpdir(), 'g3-qemu-arm64-'));
  try {
    const vars = path.join(dir, 'vars.fd');
    await copyFile(AAVMF_VARS, vars);
    return await runToLogin('qemu-system-aarch64', arm64BootArgs(image, vars), timeoutMs);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
