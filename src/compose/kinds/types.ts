// What each image type (target.imageType) makes from the configured root
// filesystem: the compose stage fills and configures the root filesystem the
// same way for every type, then hands it to the type's output.
import type { Runner } from '../../docker/runner.js';
import type { LockFile } from '../../lock/types.js';
import type { Emit } from '../../log/events.js';
import type { ImageTemplate } from '../../template/types.js';
import type { BootResult } from '../boot/boot.js';
import type { FinalArtifact, ReadyArtifact } from '../outputs/finalize.js';

export type Timed = <T>(stage: string, fn: () => Promise<T>) => Promise<T>;

/** A built initrd image (imageType img) an ISO boots instead of its own system (systemConfig.initramfs). */
export interface LiveSystem {
  /** Its target, for messages. */
  target: string;
  image: { path: string; sha256: string };
  kernel: { path: string; sha256: string };
  kernelVersion: string;
}

export interface OutputContext {
  runner: Runner;
  lock: LockFile;
  template: ImageTemplate;
  templateFile: string;
  /** The configured root filesystem (the SBOM is already in it). */
  rootfs: string;
  /** Scratch space beside the root filesystem, where the runner runs. */
  staging: string;
  /** The image build directory: the outputs go here. */
  buildDir: string;
  /** Timestamps in the outputs. */
  sourceDateEpoch: number;
  /** Identifiers in the outputs derive from it (see diskSeed). */
  seed: string;
  emit: Emit;
  timed: Timed;
  /** imageType iso with systemConfig.initramfs: the initrd image its medium boots, already built. */
  live?: LiveSystem;
  /** Told of the disk artifacts once all are under their final names, before they are hashed (FinalizeOptions.onReady). */
  onReady?: (artifacts: ReadyArtifact[]) => void;
}

export interface OutputResult {
  /** The outputs, hashed, the main one first. */
  artifacts: FinalArtifact[];
  /** Size of the main output before any compression. */
  imageBytes: number;
  boot?: BootResult;
}

/** One image type: the fstab its system gets, and how its outputs are made. */
export interface OutputKind {
  /** The system's /etc/fstab; undefined keeps the one it has (an overlay's baseline). */
  fstab: string | undefined;
  /** Whether the output boots /boot's initramfs (made again by dracut after configuration when the image has dracut). */
  bootsInitramfs: boolean;
  make(ctx: OutputContext): Promise<OutputResult>;
}
