// The dracut stage: which kernels get an initramfs, which module folders are
// the template's own (no package lists them), the dracut command line, and
// what dracutInitramfs does on a root filesystem (host commands for real;
// chroot, mount and umount stood in for by a runner that records them).
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dracutArgs, dracutInitramfs, kernelsWithModules, missingOwnModules, parseModulesTxt } from '../../src/compose/boot/dracut.js';
import { LocalRunner, type Runner, type StepOptions } from '../../src/docker/runner.js';
import { UserError } from '../../src/errors.js';
import type { RunResult } from '../../src/exec.js';
import type { CacheEvent } from '../../src/log/events.js';
import { useTempDirs } from './tmpdir.js';

const tempDir = useTempDirs('g3-dracut-');

describe('dracut helpers', () => {
  it('makes an initramfs for each /boot kernel that has modules, in version order', () => {
    const boot = ['vmlinuz-6.12.2-amd64', 'vmlinuz-6.12.1-amd64', 'initrd.img-6.12.1-amd64', 'config-6.12.1-amd64', 'vmlinuz-6.1.0-amd64'];
    expect(kernelsWithModules(boot, ['6.12.1-amd64', '6.12.2-amd64'])).toEqual(['6.12.1-amd64', '6.12.2-amd64']);
    expect(kernelsWithModules(boot, [])).toEqual([]);
  });

  it('runs dracut for every driver (not the build container host), reproducibly, into /boot/initrd.img-<version>', () => {
    expect(dracutArgs('6.12.1-amd64')).toEqual([
      'dracut',
      '--force',
      '--no-hostonly',
      '--reproducible',
      '--quiet',
      '--kver',
      '6.12.1-amd64',
      '/boot/initrd.img-6.12.1-amd64',
    ]);
  });

  it("reads modules.txt and finds the image's own modules missing from it by name without the number", () => {
    const modules = parseModulesTxt('systemd\nbase\n\n  hello  \nfs-lib\n');
    expect(modules).toEqual(['systemd', 'base', 'hello', 'fs-lib']);
    expect(missingOwnModules(['91hello', '92other'], modules)).toEqual(['92other']);
    expect(missingOwnModules([], modules)).toEqual([]);
  });
});

/** Host commands for real; `chroot ROOT argv` answered from `inChroot`; mounts only recorded. */
class FakeChrootRunner implements Runner {
  readonly where = 'host';
  readonly chrooted: Array<{ argv: string[]; env?: Record<string, string> }> = [];
  readonly mounts: string[] = [];
  private readonly local = new LocalRunner();
  constructor(private readonly inChroot: (argv: string[]) => RunResult) {}
  async run(argv: string[], opts: StepOptions = {}): Promise<RunResult> {
    if (argv[0] === 'chroot') {
      this.chrooted.push({ argv: argv.slice(2), env: opts.env });
      const r = this.inChroot(argv.slice(2));
      for (const line of `${r.stdout}${r.stderr}`.split('\n').filter(Boolean)) opts.onLine?.(line);
      if (r.exitCode !== 0 && opts.reject !== false) throw new Error(`exit ${r.exitCode}`);
      return r;
    }
    if (argv[0] === 'mount' || argv[0] === 'umount') {
      this.mounts.push(argv.at(-1)!);
      return { exitCode: 0, stdout: '', stderr: '' };
    }
    return this.local.run(argv, opts);
  }
}

async function rootfs(files: Record<string, string>): Promise<string> {
  const root = await tempDir();
  for (const [f, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, f)), { recursive: true });
    await writeFile(path.join(root, f), text);
  }
  return root;
}

const ok = (stdout = ''): RunResult => ({ exitCode: 0, stdout, stderr: '' });

describe('dracutInitramfs', () => {
  it('does nothing in an image without dracut (initramfs-tools made its initramfs)', async () => {
    const root = await rootfs({ 'boot/vmlinuz-6.12.1-amd64': 'k', 'usr/lib/modules/6.12.1-amd64/modules.dep': '' });
    const runner = new FakeChrootRunner(() => ok());
    expect(await dracutInitramfs(runner, { rootfs: root, sourceDateEpoch: 1_700_000_000, emit: () => undefined })).toBeUndefined();
    expect(runner.chrooted).toEqual([]);
  });

  it("runs dracut per kernel with /proc, /sys and /dev mounted and SOURCE_DATE_EPOCH set, and names the image's own modules", async () => {
    const root = await rootfs({
      'usr/bin/dracut': '#!/bin/sh\n',
      'boot/vmlinuz-6.12.1-amd64': 'k',
      'usr/lib/modules/6.12.1-amd64/modules.dep': '',
      'usr/lib/dracut/modules.d/90kernel-modules/module-setup.sh': '',
      'usr/lib/dracut/modules.d/91hello/module-setup.sh': '',
      'usr/lib/dracut/modules.d/92quiet/module-setup.sh': '',
      'var/lib/dpkg/info/dracut-core.list': '/usr/lib/dracut\n/usr/lib/dracut/modules.d\n/usr/lib/dracut/modules.d/90kernel-modules/module-setup.sh\n',
    });
    const runner = new FakeChrootRunner((argv) => (argv[0] === 'lsinitrd' ? ok('kernel-modules\nhello\n') : ok()));
    const events: CacheEvent[] = [];
    const r = await dracutInitramfs(runner, { rootfs: root, sourceDateEpoch: 1_700_000_000, emit: (e) => events.push(e) });
    expect(r).toEqual({ kernels: ['6.12.1-amd64'], modules: ['kernel-modules', 'hello'], ownModules: ['91hello', '92quiet'] });
    const dracut = runner.chrooted.find((c) => c.argv[0] === 'dracut');
    expect(dracut?.argv).toEqual(dracutArgs('6.12.1-amd64'));
    expect(dracut?.env?.SOURCE_DATE_EPOCH).toBe('1700000000');
    expect(runner.mounts.filter((m) => m.startsWith(root))).toEqual(expect.arrayContaining(['/proc', '/sys', '/dev'].map((m) => path.join(root, m))));
    expect(events).toContainEqual({ type: 'info', message: "initramfs: dracut for kernel 6.12.1-amd64, with the image's own modules 91hello, 92quiet" });
    // 92quiet declined to be included and nothing asked for it: said, not silent.
    expect(events.filter((e) => e.type === 'warning').map((e) => (e as { message: string }).message)).toEqual([
      expect.stringContaining("the image's own dracut module 92quiet is not in the initramfs"),
    ]);
  });

  it("is bad input naming the kernel and dracut's last line when dracut fails (a module it cannot install)", async () => {
    const root = await rootfs({ 'usr/bin/dracut': '', 'boot/vmlinuz-6.12.1-amd64': 'k', 'usr/lib/modules/6.12.1-amd64/modules.dep': '' });
    const runner = new FakeChrootRunner((argv) =>
      argv[0] === 'dracut' ? { exitCode: 1, stdout: '', stderr: "dracut[E]: Module 'hello' cannot be found.\x1b[31m" } : ok(),
    );
    const err = await dracutInitramfs(runner, { rootfs: root, sourceDateEpoch: 0, emit: () => undefined }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toMatch(/^dracut failed for kernel 6\.12\.1-amd64 \(exit 1\): dracut\[E\]: Module 'hello' cannot be found\./);
    // The control character from the image's text is shown escaped, never sent to the terminal.
    expect((err as UserError).message).not.toContain('\x1b');
    // The mounts were undone although dracut failed.
    expect(runner.mounts.filter((m) => m === path.join(root, 'proc')).length).toBe(2);
  });
});
