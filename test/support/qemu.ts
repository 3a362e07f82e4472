// Boot an image headless in QEMU (TCG; KVM does not work on these machines)
// and wait for a login prompt on the serial console: a raw disk with OVMF
// (opened with snapshot=on, so the boot never changes it), or a kernel and
// initramfs directly. runToLogin is the common part, for other machines.
import { spawn } from 'node:child_process';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
export const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';

/** Typed on the serial console once its output shows `after` (each looked for after the previous one's match). */
export interface Answer {
  after: RegExp;
  send: string;
}

export interface BootOutcome {
  /** Whether `login:` appeared before the time limit. */
  reachedLogin: boolean;
  seconds: number;
  /** The serial console's output, escape sequences removed. */
  console: string;
  /** How many of the answers were typed. */
  answered: number;
}

/** Boot the disk `image` (raw, or qcow2) under UEFI and resolve once the serial console shows `login:` or `timeoutMs` passes; QEMU is always stopped. */
export async function bootToLogin(image: string, timeoutMs: number, format: 'raw' | 'qcow2' = 'raw'): Promise<BootOutcome> {
  const dir = await mkdtemp(path.join(tmpdir(), 'g3-qemu-'));
  try {
    const vars = path.join(dir, 'vars.fd');
    await copyFile(OVMF_VARS, vars);
    return await runToLogin(
      'qemu-system-x86_64',
      [
        ...X86_BASE,
        '-drive',
        `if=pflash,format=raw,readonly=on,file=${OVMF_CODE}`,
        '-drive',
        `if=pflash,format=raw,file=${vars}`,
        '-drive',
        `file=${image},format=${format},if=virtio,snapshot=on`,
      ],
      timeoutMs,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Boot a kernel and an initramfs directly (no firmware, no disk) and wait for `login:`. */
export async function bootKernelToLogin(kernel: string, initrd: string, cmdline: string, timeoutMs: number, memoryMiB = 2048): Promise<BootOutcome> {
  return runToLogin('qemu-system-x86_64', [...X86_BASE, '-m', String(memoryMiB), '-kernel', kernel, '-initrd', initrd, '-append', cmdline], timeoutMs);
}

/** TCG, no network, the serial console on stdio, no monitor; `-m` may be given again later (the last one wins). */
export const X86_BASE: readonly string[] = ['-accel', 'tcg', '-m', '1024', '-nographic', '-no-reboot', '-nic', 'none', '-serial', 'stdio', '-monitor', 'none'];

/**
 * Run `binary args` and resolve once its serial console (stdout) shows `login:`
 * at the end of a line, or `timeoutMs` passes, or it exits; it is always killed.
 */
export async function runToLogin(binary: string, args: readonly string[], timeoutMs: number, answers: readonly Answer[] = []): Promise<BootOutcome> {
  const t0 = performance.now();
  const qemu = spawn(binary, [...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  // A write after QEMU has gone is no error of the boot's.
  qemu.stdin.on('error', () => undefined);
  let output = '';
  let answered = 0;
  let from = 0;
  const answer = () => {
    for (let a = answers[answered]; a; a = answers[answered]) {
      const m = a.after.exec(output.slice(from));
      if (!m) return;
      from += m.index + m[0].length;
      qemu.stdin.write(a.send);
      answered++;
    }
  };
  try {
    const reachedLogin = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      const onData = (d: Buffer) => {
        output += d.toString('utf8');
        answer();
        if (/login: *$/m.test(output.slice(-200))) {
          clearTimeout(timer);
          resolve(true);
        }
      };
      qemu.stdout.on('data', onData);
      qemu.stderr.on('data', onData);
      qemu.on('close', () => {
        clearTimeout(timer);
        resolve(/login:/.test(output));
      });
    });
    return { reachedLogin, seconds: (performance.now() - t0) / 1000, console: output.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, ''), answered };
  } finally {
    qemu.kill('SIGKILL');
    await new Promise((r) => (qemu.exitCode !== null || qemu.signalCode !== null ? r(undefined) : qemu.once('close', r)));
  }
}
