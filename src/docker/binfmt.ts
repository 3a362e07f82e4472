// Builds for a foreign architecture (arm64 on an x86_64 host) run that
// architecture's binaries in the base image's bootstrap, the composer image's
// RUN steps, the build container and the chroot. The kernel hands them to
// qemu-user through binfmt_misc; only with the F flag (the interpreter opened
// when it was registered) does that work inside containers, whose filesystem
// has no qemu. This checks the registration before any such build starts, so
// a host without it fails at once with the way to fix it, not halfway through
// with "exec format error".
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../errors.js';

/** Where the kernel shows binfmt_misc (tests point it at a fake tree). */
export const BINFMT_DIR = '/proc/sys/fs/binfmt_misc';

// Debian architecture to the name qemu-user-static registers its handler under.
const HANDLERS: Readonly<Record<string, { entry: string; qemu: string }>> = {
  arm64: { entry: 'qemu-aarch64', qemu: 'qemu-aarch64' },
};

/** One binfmt_misc entry as the kernel prints it. */
export interface BinfmtEntry {
  enabled: boolean;
  interpreter?: string;
  flags: string;
}

/** Parse an entry file (`enabled`, `interpreter ...`, `flags: PF`, ...). */
export function parseBinfmtEntry(text: string): BinfmtEntry {
  const lines = text.split('\n').map((l) => l.trim());
  const value = (prefix: string) =>
    lines
      .find((l) => l.startsWith(prefix))
      ?.slice(prefix.length)
      .trim();
  return { enabled: lines[0] === 'enabled', interpreter: value('interpreter '), flags: value('flags:') ?? '' };
}

async function readOrUndefined(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UserError(`cannot read ${file}: ${(err as Error).message}`, 'Run the build as root on a host whose /proc is readable.');
  }
}

function fixSteps(entry: string, mountFirst: boolean): string {
  return [
    ...(mountFirst ? [`mount binfmt_misc first: mount -t binfmt_misc binfmt_misc ${BINFMT_DIR};`] : []),
    'install the handlers: apt-get install qemu-user-static binfmt-support (scripts/setup-host.sh does both);',
    `then enable it: update-binfmts --enable ${entry}.`,
    'The entry needs the F flag (Debian registers it so) because the build runs these binaries in containers, which have no qemu of their own.',
  ].join(' ');
}

/**
 * Make sure this host can run `debArch` binaries in containers: binfmt_misc
 * mounted and enabled, the qemu entry enabled, with the F flag. Bad host
 * setup is a UserError (exit 2) that says how to fix it.
 */
export async function checkForeignArch(debArch: string, dir: string = BINFMT_DIR): Promise<BinfmtEntry> {
  const handler = HANDLERS[debArch];
  if (!handler)
    throw new UserError(
      `cannot build for the Debian architecture ${JSON.stringify(debArch)} on this host: no qemu-user handler is known for it`,
      `Build it on a ${debArch} machine, or choose one of: ${Object.keys(HANDLERS).join(', ')}.`,
    );
  const status = await readOrUndefined(path.join(dir, 'status'));
  const needs = `building ${debArch} images on this host runs ${debArch} programs through ${handler.qemu} (qemu-user) registered in binfmt_misc`;
  if (status === undefined) throw new UserError(`${needs}, but ${dir} is not mounted`, fixSteps(handler.entry, true));
  if (status.trim() !== 'enabled')
    throw new UserError(`${needs}, but binfmt_misc is disabled (${path.join(dir, 'status')})`, `Enable it: echo 1 > ${path.join(dir, 'status')}.`);
  const file = path.join(dir, handler.entry);
  const text = await readOrUndefined(file);
  if (text === undefined) throw new UserError(`${needs}, but ${file} does not exist`, fixSteps(handler.entry, false));
  const entry = parseBinfmtEntry(text);
  if (!entry.enabled) throw new UserError(`${needs}, but ${file} is disabled`, `Enable it: update-binfmts --enable ${handler.entry}.`);
  if (!entry.flags.includes('F'))
    throw new UserError(
      `${needs}, but ${file} lacks the F flag (flags: ${JSON.stringify(entry.flags)}), so containers cannot use it`,
      `Register it again with the F flag: apt-get install qemu-user-static binfmt-support (Debian's qemu-user-static registers ${handler.entry} with F), then update-binfmts --enable ${handler.entry}.`,
    );
  return entry;
}
