// The build container: a long-running container of the composer image in
// which every compose step runs (`docker exec`). Its mount namespace holds the
// chroot's pseudo-filesystems, so removing it removes them too: a failed or
// interrupted build leaves no mounts behind on the host.
import { randomBytes } from 'node:crypto';
import { onInterrupt } from '../../fs/cleanup.js';
import type { RunResult } from '../../exec.js';
import type { ContainerSpec } from '../../docker/commands.js';
import type { Docker } from '../../docker/docker.js';
import type { Runner, StepOptions } from '../../docker/runner.js';
import { ExecAgents } from '../../docker/exec-agent.js';
import type { Emit } from '../../log/events.js';

/**
 * What the stages need and nothing more (docker's defaults minus the rest):
 * SYS_ADMIN to mount proc, sysfs and bind mounts in the chroot; SYS_CHROOT for
 * chroot; MKNOD for device nodes mmdebstrap creates; CHOWN, DAC_OVERRIDE,
 * FOWNER, FSETID, SETUID, SETGID and SETFCAP for dpkg unpacking files with
 * their owners, modes and file capabilities; KILL for stopping maintainer-script
 * daemons. AppArmor's docker profile forbids mount, hence unconfined.
 */
export const BUILD_CAPS = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'SETFCAP', 'SETGID', 'SETUID', 'SYS_ADMIN', 'SYS_CHROOT'];
export const BUILD_SECURITY_OPTS = ['apparmor=unconfined'];

export interface ContainerOptions {
  image: string;
  /** Host directories, mounted at the same paths inside. */
  mounts: Array<{ path: string; readonly?: boolean }>;
  privileged: boolean;
  /** A directory inside the container that is a tmpfs of its own (scratch space in memory). */
  scratch?: string;
  labels?: Record<string, string>;
  /** The composer image's platform when it is not this host's (`linux/arm64`). */
  platform?: string;
  /** Host devices the container gets (`/dev/fuse` for an overlay, whose baseline fuse2fs reads). */
  devices?: string[];
  /** Told (as a warning) when steps go through one `docker exec` each because no exec agent runs in the container. */
  emit?: Emit;
}

/** tmpfs options for the scratch directory: programs in the chroot run from it; setuid bits and device nodes are inert. */
export const SCRATCH_TMPFS_OPTIONS = 'rw,exec,nosuid,nodev,mode=0755';

/** A started build container; `stop()` removes it (and every mount in it). */
export class BuildContainer implements Runner {
  readonly where: string;
  private forget: () => void;
  /** Steps run through exec agents: one `docker exec` each costs more than most steps (exec-agent.ts). */
  private readonly agents: ExecAgents;
  private constructor(
    private readonly docker: Docker,
    readonly id: string,
    readonly name: string,
    onUnavailable?: (why: string) => void,
  ) {
    this.where = `container ${name}`;
    this.forget = onInterrupt(() => docker.removeSync(name));
    this.agents = new ExecAgents({
      start: () => docker.startExecAgent(name),
      where: this.where,
      fallback: (argv, opts) => docker.exec(name, argv, { ...opts, reject: false }),
      onUnavailable,
    });
  }

  /** Start a container that idles until steps are run in it; no network. */
  static async start(docker: Docker, opts: ContainerOptions): Promise<BuildContainer> {
    const name = `g3-composer-${randomBytes(4).toString('hex')}`;
    const id = await docker.runDetached(containerSpec(name, opts));
    return new BuildContainer(docker, id, name, (why) =>
      opts.emit?.({ type: 'warning', message: `${why}: each step runs as a docker exec of its own (slower)` }),
    );
  }

  async run(argv: string[], opts: StepOptions = {}): Promise<RunResult> {
    const r = await this.agents.run(argv, opts);
    if (r.exitCode !== 0 && opts.reject !== false) throw this.docker.execFailed(this.name, argv, opts, r);
    return r;
  }

  /**
   * Remove the container; safe to call twice. Until docker has removed it, an
   * interrupt still removes it (the removal may run while the caller goes on).
   */
  async stop(): Promise<void> {
    this.agents.close();
    try {
      await this.docker.remove(this.name);
    } finally {
      this.forget();
    }
  }
}

/** The container's specification: least privilege unless `privileged` is asked for. */
export function containerSpec(name: string, opts: ContainerOptions): ContainerSpec {
  return {
    image: opts.image,
    name,
    mounts: opts.mounts.map((m) => ({ source: m.path, target: m.path, readonly: m.readonly })),
    network: 'none',
    privileged: opts.privileged,
    capAdd: opts.privileged ? [] : BUILD_CAPS,
    securityOpt: opts.privileged ? [] : BUILD_SECURITY_OPTS,
    devices: opts.privileged ? [] : (opts.devices ?? []),
    tmpfs: opts.scratch ? [`${opts.scratch}:${SCRATCH_TMPFS_OPTIONS}`] : [],
    labels: { ...opts.labels, 'org.g3-composer.role': 'build' },
    ...(opts.platform ? { platform: opts.platform } : {}),
    command: ['sleep', 'infinity'],
  };
}
