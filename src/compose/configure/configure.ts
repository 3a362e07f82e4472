// Configures an installed root filesystem from the template's systemConfig:
// host name, fstab, users, extra files, networking, then the user's own
// commands last so they can change anything the earlier steps did.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { StepError } from '../../errors.js';
import type { SystemConfigTemplate } from '../../template/types.js';
import { installFiles, prepareFiles } from './files.js';
import { type Emit, inImage, runKeepingTail, writeInImage } from './io.js';
import { chrootMounts, withMounts } from '../rootfs/mounts.js';
import { configureNetwork } from './network.js';
import { type Runner, statIn } from '../../docker/runner.js';
import { applyUsers, planUsers } from './users.js';

export type { ConfigureEvent } from './io.js';
export { writeInImage } from './io.js';

export interface ConfigureInput {
  /** The root filesystem directory, as the runner sees it. */
  rootfs: string;
  config: SystemConfigTemplate;
  /** Directory of the template; additionalFiles[].local is relative to it. */
  templateDir: string;
  /** Contents of /etc/fstab, made by the disk stage; undefined keeps the image's (an overlay's baseline). */
  fstab?: string;
  /** Derives password salts and the machine-id, so two builds of one image match; without it both are random. */
  seed?: string;
  /**
   * An overlay of an existing image: its machine-id stays, and so does its
   * host name unless the template sets one; only additionalFiles with stage
   * pre-initramfs are written here (the rest by installLateFiles, after the initramfs).
   */
  overlay?: boolean;
  emit: Emit;
}

/** How many lines of a failed configuration command the error keeps. */
const TAIL_LINES = 20;

/** Apply systemConfig to the root filesystem; every check on the template runs before the image changes. */
export async function configureSystem(runner: Runner, input: ConfigureInput): Promise<void> {
  const { rootfs, config, emit } = input;
  const users = planUsers(config.users ?? [], input.seed);
  const all = config.additionalFiles ?? [];
  const files = await prepareFiles(input.overlay ? all.filter((f) => f.stage === 'pre-initramfs') : all, input.templateDir);

  if (!(input.overlay && !config.hostname)) {
    const hostname = config.hostname ?? 'localhost';
    // Without this the image would keep whatever name the build machine left in /etc/hostname.
    if (!config.hostname) emit({ type: 'warning', message: 'systemConfig.hostname is not set; the image is called "localhost"' });
    await writeInImage(runner, rootfs, '/etc/hostname', `${hostname}\n`, '0644');
    await writeInImage(runner, rootfs, '/etc/hosts', hostsFile(hostname), '0644');
    emit({ type: 'info', message: `host name ${hostname}` });
  } else emit({ type: 'info', message: "host name: the baseline's" });

  if (input.fstab !== undefined) await writeInImage(runner, rootfs, '/etc/fstab', input.fstab.endsWith('\n') ? input.fstab : `${input.fstab}\n`, '0644');

  if (input.seed && !input.overlay) await writeMachineId(runner, rootfs, input.seed, emit);
  await applyUsers(runner, rootfs, users, emit);
  await installFiles(runner, rootfs, files, emit);
  await configureNetwork(runner, rootfs, emit, config.network);
  // Commands see /proc, /sys and /dev as maintainer scripts do; they are unmounted again, also on failure.
  const steps = config.configurations ?? [];
  if (steps.some((st) => st.cmd?.trim())) await withMounts(runner, rootfs, chrootMounts([]), () => runConfigurations(runner, rootfs, steps, emit));
}

/** An overlay's additionalFiles without a stage: written last, after the initramfs and boot files are made again. */
export async function installLateFiles(runner: Runner, rootfs: string, config: SystemConfigTemplate, templateDir: string, emit: Emit): Promise<void> {
  const late = (config.additionalFiles ?? []).filter((f) => f.stage !== 'pre-initramfs');
  if (late.length > 0) await installFiles(runner, rootfs, await prepareFiles(late, templateDir), emit);
}

/** /etc/hosts for `hostname`, in the layout Debian's installer writes. */
export function hostsFile(hostname: string): string {
  const short = hostname.split('.')[0]!;
  const names = short === hostname ? hostname : `${hostname} ${short}`;
  return [
    '127.0.0.1\tlocalhost',
    `127.0.1.1\t${names}`,
    '',
    '# The following lines are desirable for IPv6 capable hosts',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
    '',
  ].join('\n');
}

/** The image's machine-id: 32 hex digits derived from the seed (lock and template), not random. */
export function derivedMachineId(seed: string): string {
  return createHash('sha256').update(`g3-machine-id:${seed}`).digest('hex').slice(0, 32);
}

async function writeMachineId(runner: Runner, rootfs: string, seed: string, emit: Emit): Promise<void> {
  const id = derivedMachineId(seed);
  await writeInImage(runner, rootfs, '/etc/machine-id', `${id}\n`, '0444');
  // D-Bus keeps its own copy when it is not a link to /etc/machine-id.
  if ((await statIn(runner, path.join(rootfs, 'var/lib/dbus/machine-id')))?.type === 'file')
    await writeInImage(runner, rootfs, '/var/lib/dbus/machine-id', `${id}\n`, '0444');
  emit({ type: 'info', message: `machine-id ${id} (derived from the lock and template)` });
}

/** Run each configurations[].cmd with /bin/sh in the image, streaming its output; the first failure stops the build. */
export async function runConfigurations(runner: Runner, rootfs: string, steps: Array<{ cmd?: string }>, emit: Emit): Promise<void> {
  for (const [i, step] of steps.entries()) {
    const cmd = step.cmd ?? '';
    if (!cmd.trim()) continue;
    const label = `configurations[${i}]`;
    const argv = inImage(rootfs, ['/bin/sh', '-c', cmd]);
    const { result: r, tail: shown } = await runKeepingTail(runner, argv, {
      keep: TAIL_LINES,
      each: (line) => emit({ type: 'info', message: `[${label}] ${line}` }),
    });
    if (r.exitCode !== 0) {
      throw new StepError(`${label} failed with exit code ${r.exitCode}: ${cmd}`, { command: argv, exitCode: r.exitCode, stderr: shown.join('\n') });
    }
  }
}
