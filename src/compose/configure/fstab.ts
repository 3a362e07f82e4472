// /etc/fstab for a disk plan. Filesystems are named by PARTUUID, which the
// plan fixes before any filesystem exists and which stays stable when a
// filesystem is recreated or relabelled.
import type { DiskPlan, PartitionPlan } from '../disk/plan.js';

/** The fstab text mounting every partition of `plan` that has a mount point, root first. */
export function fstab(plan: DiskPlan): string {
  const mounted = plan.partitions.filter(
    (p): p is PartitionPlan & { mountPoint: string; fsType: string } => p.mountPoint !== undefined && p.fsType !== undefined,
  );
  // Root first, then parents before children (/boot before /boot/efi): mount -a goes in file order.
  const ordered = [...mounted].sort((a, b) => depth(a.mountPoint) - depth(b.mountPoint) || a.mountPoint.localeCompare(b.mountPoint));
  const lines = ordered.map((p) =>
    [`PARTUUID=${p.partUuid}`, p.mountPoint, p.fsType, p.mountOptions || 'defaults', '0', String(pass(p.mountPoint))].join('\t'),
  );
  return ['# <file system>\t<mount point>\t<type>\t<options>\t<dump>\t<pass>', ...lines].join('\n') + '\n';
}

// fsck order: root alone first, everything else after it (fstab(5)). FAT is
// checked too, as Debian's installer does for the ESP (it writes 1, fstab(5)
// asks for 2 on non-root filesystems): with dosfstools installed a damaged ESP
// is repaired at boot, and without it systemd-fsck skips the check instead of
// failing, so 2 never stops a boot that 0 would allow.
function pass(mountPoint: string): 1 | 2 {
  return mountPoint === '/' ? 1 : 2;
}

function depth(mountPoint: string): number {
  return mountPoint === '/' ? 0 : mountPoint.split('/').length - 1;
}
