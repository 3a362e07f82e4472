// The composer image's base, made here when it cannot be pulled: the
// Essential package set plus apt (the composer image's fallback download needs
// it) from the verified package cache, bootstrapped by mmdebstrap from a local
// file repository (no network) and imported into the daemon. Its label records
// which packages made it, so a new lock makes a new base.
import { cachedImagePackages } from '../../lock/file.js';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { run } from '../../exec.js';
import type { Docker } from '../../docker/docker.js';
import type { LockedPackage, LockFile } from '../../lock/types.js';
import type { Emit } from '../../log/events.js';
import { makeLocalRepo } from '../rootfs/local-repo.js';
import { LocalRunner } from '../../docker/runner.js';
import { lockedImagePackages, lockSuite, MMDEBSTRAP_ENV, snapshotKey } from '../rootfs/snapshot.js';
import { baseImageDir } from '../../layout/paths.js';
import { memoryDir } from '../../fs/memory-dir.js';
import type { Env } from '../../env.js';
import { dockerPlatform } from '../../template/provider.js';

export const BASE_KEY_LABEL = 'org.g3-composer.base-key';

/** The base image's name for a provider. */
export function baseImageRef(providerId: string): string {
  return `g3-composer/base:${providerId}`;
}

/** The Essential set the tools were resolved on, with the locked files (from the image's set). */
export function essentialPackages(lock: LockFile): LockedPackage[] {
  return lockedImagePackages(
    lock,
    lock.tools.baseSet,
    (n) => `the lock's tools need the Essential packages ${n.join(', ')}, which the image's package set does not lock`,
  );
}

/** What the base image is made of: the Essential set, plus apt when the image locks it (its dependencies come from the same lock). */
export function basePackagesOf(lock: LockFile): LockedPackage[] {
  const essential = essentialPackages(lock);
  const apt = cachedImagePackages(lock).find((p) => p.name === 'apt');
  return apt && !essential.some((p) => p.name === 'apt') ? [...essential, apt] : essential;
}

/** Bump when the way the base image is made changes. */
const BASE_RECIPE = 'base 2';

export interface BaseImageOptions {
  docker: Docker;
  lock: LockFile;
  providerId: string;
  pkgDir: string;
  workDir: string;
  /** Make it again even when an image with the right label exists. */
  force: boolean;
  /** The Debian architecture when it is not this host's (`arm64`): bootstrapped for it, imported as its platform. */
  foreignArch?: string;
  /** The build's environment: a TMPDIR set there keeps mmdebstrap's temporary chroot where it says. */
  env: Env;
  emit: Emit;
}

export interface BaseImageResult {
  ref: string;
  /** The image's id (`sha256:...`). */
  id: string;
  key: string;
  outcome: 'present' | 'created';
  packages: number;
}

/** Make sure `g3-composer/base:<provider-id>` exists and was made from this lock's Essential set. */
export async function ensureBaseImage(o: BaseImageOptions): Promise<BaseImageResult> {
  const ref = baseImageRef(o.providerId);
  const packages = basePackagesOf(o.lock);
  const key = snapshotKey(packages, [], BASE_RECIPE);
  const existing = await o.docker.imageInspect(ref);
  if (existing && existing.labels[BASE_KEY_LABEL] === key && !o.force) return { ref, id: existing.id, key, outcome: 'present', packages: packages.length };
  o.emit({ type: 'info', message: `making base image ${ref} from ${packages.length} cached Essential packages and apt (mmdebstrap, no network)` });
  await run({ command: 'mmdebstrap', args: ['--version'] }, { package: 'mmdebstrap' });
  await run({ command: 'apt-ftparchive', args: ['--version'] }, { package: 'apt-utils', reject: false });
  const dir = baseImageDir(o.workDir, o.providerId);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  try {
    const host = new LocalRunner();
    // The repository holds every locked image package, so apt finds the locked versions of apt's dependencies.
    const all = new Map([...packages, ...cachedImagePackages(o.lock)].map((p) => [p.name, p]));
    const repo = await makeLocalRepo(host, { dir: path.join(dir, 'repo'), pkgDir: o.pkgDir, packages: [...all.values()] });
    const tar = path.join(dir, 'base.tar');
    // mmdebstrap's temporary chroot (about 250 MB) in memory when the machine has it and TMPDIR is not set:
    // the base image took 19.2-19.6 s instead of 21.3-22.2 s.
    const tmpdir = o.env.TMPDIR ? undefined : await memoryDir(1 << 30);
    if (tmpdir) o.emit({ type: 'debug', message: `mmdebstrap's temporary chroot goes in ${tmpdir} (a tmpfs with room)` });
    await host.run(
      [
        'mmdebstrap',
        '--variant=custom',
        // The build checked binfmt_misc itself (docker/binfmt.ts), so mmdebstrap's check (which needs arch-test) is skipped.
        ...(o.foreignArch ? [`--arch=${o.foreignArch}`, '--skip=check/qemu'] : []),
        `--include=${packages.map((p) => p.name).join(',')}`,
        '--mode=auto',
        '--customize-hook=rm -f "$1"/etc/apt/sources.list',
        lockSuite(o.lock),
        tar,
        repo.copySource,
      ],
      { env: { ...MMDEBSTRAP_ENV, ...(tmpdir ? { TMPDIR: tmpdir } : {}) }, onLine: (line) => o.emit({ type: 'debug', message: `mmdebstrap: ${line}` }) },
    );
    const id = await o.docker.importTar(
      tar,
      ref,
      [
        'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        'CMD ["/bin/bash"]',
        `LABEL ${BASE_KEY_LABEL}=${key}`,
        `LABEL org.g3-composer.provider-id=${o.providerId}`,
      ],
      o.foreignArch ? dockerPlatform(o.foreignArch) : undefined,
    );
    return { ref, id, key, outcome: 'created', packages: packages.length };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
