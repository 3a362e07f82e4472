// The installer the live system carries when the template asks for one
// (systemConfig.installer.mode): the template's disk image, made by the raw
// kind's own code from the same root filesystem and compressed with zstd, sits
// on the medium under install/; a systemd unit of the live system runs a small
// POSIX shell script that writes it to a disk and checks what it wrote by SHA256.
//   unattended: the disk the policy names (systemConfig.installer.target), then power off;
//   attended:   a numbered menu of the disks on the console, a typed "yes", then power off.
// The menu entry's command line picks the mode (g3.installer=...), so one ISO
// can also boot the live system without installing (g3.installer=off).
import { UserError } from '../../errors.js';
import { escapeInline } from '../../text/untrusted.js';
import type { ImageTemplate } from '../../template/types.js';
import { INSTALLER_DEVICE, INSTALLER_MODES, INSTALLER_TARGETS } from '../../template/validate.js';

export type InstallerMode = 'none' | 'attended' | 'unattended';

export interface InstallerPlan {
  mode: InstallerMode;
  /** `first-empty-disk`, or a device path such as /dev/vda. */
  target: string;
}

/** The template's installer settings, defaults applied; a value we do not know is a UserError. */
export function installerPlan(t: ImageTemplate): InstallerPlan {
  const given = t.systemConfig?.installer ?? {};
  // A medium that boots an initramfs template (OS Image Composer's ISOs) is an installer: attended unless told otherwise.
  const mode = given.mode ?? (t.systemConfig?.initramfs?.template !== undefined && t.disk ? 'attended' : 'none');
  if (!INSTALLER_MODES.includes(mode))
    throw new UserError(`systemConfig.installer.mode "${escapeInline(mode)}" is not supported (supported: ${INSTALLER_MODES.join(', ')})`);
  // OS Image Composer's templates name the installer's device as disk.path; validation refuses the two disagreeing.
  const target = given.target ?? t.disk?.path ?? 'first-empty-disk';
  if (!INSTALLER_TARGETS.includes(target) && !INSTALLER_DEVICE.test(target))
    throw new UserError(
      `systemConfig.installer.target "${escapeInline(target)}" is neither a policy (${INSTALLER_TARGETS.join(', ')}) nor a device path like /dev/vda`,
    );
  return { mode: mode as InstallerMode, target };
}

/** Where the installer's files go in the live system. */
export const INSTALLER_FILES = {
  script: '/usr/local/sbin/g3-install',
  config: '/etc/g3-installer.conf',
  unit: '/etc/systemd/system/g3-installer.service',
  wants: '/etc/systemd/system/multi-user.target.wants/g3-installer.service',
} as const;

/** The installer's configuration: shell assignments of values we made (file names, digits), never template text. */
export function installerConfig(o: { image: string; sha256: string; size: number; target: string; mediumLabel?: string }): string {
  for (const v of [o.image, o.target]) if (!/^[A-Za-z0-9/_.:+-]+$/.test(v)) throw new UserError(`unsafe installer value ${JSON.stringify(v)}`);
  if (!/^[0-9a-f]{64}$/.test(o.sha256)) throw new UserError(`not a SHA256: ${JSON.stringify(o.sha256)}`);
  if (o.mediumLabel !== undefined && !/^[A-Z0-9_]{1,32}$/.test(o.mediumLabel)) throw new UserError(`not a volume id: ${JSON.stringify(o.mediumLabel)}`);
  // MEDIUM_LABEL: the system is an initramfs that has not mounted the medium; the script finds it by its volume id.
  const label = o.mediumLabel !== undefined ? [`MEDIUM_LABEL=${o.mediumLabel}`] : [];
  return [`IMAGE=${o.image}`, `SHA256=${o.sha256}`, `SIZE=${o.size}`, `TARGET=${o.target}`, ...label, ''].join('\n');
}

/** The systemd unit: runs once when the command line asks for an installer, on the console, before the login prompts. */
export function installerUnit(): string {
  return `[Unit]
Description=g3-composer installer: write this medium's disk image to a disk
ConditionKernelCommandLine=|g3.installer=unattended
ConditionKernelCommandLine=|g3.installer=attended
After=systemd-udev-settle.service local-fs.target
Wants=systemd-udev-settle.service
Before=getty.target serial-getty@ttyS0.service getty@tty1.service

[Service]
Type=oneshot
ExecStart=${INSTALLER_FILES.script}
StandardInput=tty-force
StandardOutput=tty
StandardError=tty
TTYPath=/dev/console
TTYReset=yes

[Install]
WantedBy=multi-user.target
`;
}

/** The installer script (POSIX sh, run by the unit in the live system). */
export function installerScript(): string {
  return `#!/bin/sh
# g3-install: write the disk image on the live medium to a disk, then check it.
# Written by g3-composer. Settings: ${INSTALLER_FILES.config}; mode: g3.installer= on the kernel command line.
set -eu
# Tests point these elsewhere; the unit sets none of them.
. "\${G3_INSTALLER_CONF:-${INSTALLER_FILES.config}}"
MEDIUM=\${G3_MEDIUM:-/run/live/medium}
DEV=\${G3_DEV:-/dev}
say() { printf 'g3-install: %s\\n' "$*"; }
fail() { say "FAILED: $*"; exit 1; }
mode=off
for w in $(cat "\${G3_CMDLINE:-/proc/cmdline}"); do case "$w" in g3.installer=*) mode="\${w#g3.installer=}" ;; esac; done
case "$mode" in attended | unattended) ;; *) exit 0 ;; esac
# An initramfs system (systemConfig.initramfs) has not mounted the medium: find it by its volume id.
if [ -n "\${MEDIUM_LABEL:-}" ] && [ -z "\${G3_MEDIUM:-}" ]; then
  MEDIUM=\${G3_MEDIUM_MOUNT:-/run/g3-medium}
  if ! mountpoint -q "$MEDIUM" 2>/dev/null; then
    for m in sr_mod isofs; do modprobe -q "$m" 2>/dev/null || true; done
    udevadm settle 2>/dev/null || true
    n=0
    while :; do
      dev=$(blkid -o device -t "LABEL=$MEDIUM_LABEL" 2>/dev/null | head -n1 || true)
      [ -n "$dev" ] && break
      n=$((n + 1))
      [ "$n" -lt 60 ] || fail "no device with the medium's volume id $MEDIUM_LABEL"
      sleep 1
    done
    mkdir -p "$MEDIUM"
    mount -o ro "$dev" "$MEDIUM" || fail "mounting the medium $dev"
  fi
fi
case "$IMAGE" in *.gz) unpack="gzip -dc" ;; *) unpack="zstd -dc" ;; esac
[ -f "$MEDIUM/install/$IMAGE" ] || fail "no $IMAGE on the medium ($MEDIUM/install)"
udevadm settle 2>/dev/null || true
# The disk the medium is on is never a target.
medium_disk=$(lsblk -no PKNAME "$(findmnt -no SOURCE "$MEDIUM")" 2>/dev/null | head -n1 || true)
[ -n "$medium_disk" ] || medium_disk=$(basename "$(findmnt -no SOURCE "$MEDIUM")")
# Writable whole disks large enough for the image: NAME SIZE, one a line.
candidates() {
  lsblk -dnbo NAME,TYPE,RO,SIZE | while read -r name type ro size; do
    if [ "$type" = disk ] && [ "$ro" = 0 ] && [ "$name" != "$medium_disk" ] && [ "$size" -ge "$SIZE" ]; then echo "$name $size"; fi
  done
}
# Empty: no partitions and no signature blkid knows.
is_empty() {
  [ "$(lsblk -no NAME "$DEV/$1" | wc -l)" = 1 ] || return 1
  blkid -p "$DEV/$1" >/dev/null 2>&1 && return 1
  return 0
}
write_to() {
  dev="$DEV/$1"
  say "writing $IMAGE to $dev"
  $unpack "$MEDIUM/install/$IMAGE" | dd of="$dev" bs=4M iflag=fullblock conv=fsync status=none || fail "writing $dev"
  say "checking $dev"
  got=$(head -c "$SIZE" "$dev" | sha256sum | cut -d' ' -f1)
  [ "$got" = "$SHA256" ] || fail "$dev reads back as SHA256 $got, expected $SHA256"
  say "installed and verified $dev (sha256 $SHA256)"
}
case "$mode" in
unattended)
  if [ "$TARGET" = first-empty-disk ]; then
    disk=""
    for n in $(candidates | cut -d' ' -f1); do if is_empty "$n"; then disk=$n; break; fi; done
    [ -n "$disk" ] || { say "no empty disk of at least $SIZE bytes: nothing installed"; exit 0; }
  else
    disk=\${TARGET#/dev/}
    candidates | cut -d' ' -f1 | grep -qx "$disk" || fail "$TARGET is not a writable disk of at least $SIZE bytes"
  fi
  write_to "$disk"
  say "powering off"
  systemctl --no-block poweroff
  ;;
attended)
  list=$(candidates)
  [ -n "$list" ] || { say "no disk of at least $SIZE bytes: nothing to install to"; exit 0; }
  while :; do
    say "disks (the chosen one is overwritten):"
    i=0
    echo "$list" | while read -r n s; do i=$((i + 1)); printf '  %d) /dev/%s  %s MiB\\n' "$i" "$n" "$((s / 1048576))"; done
    printf 'g3-install: number of the disk, or q to skip: '
    read -r answer || exit 0
    [ "$answer" = q ] && { say "skipped"; exit 0; }
    case "$answer" in '' | *[!0-9]*) say "not a number"; continue ;; esac
    disk=$(echo "$list" | sed -n "\${answer}p" 2>/dev/null | cut -d' ' -f1 || true)
    [ -n "$disk" ] || { say "no disk number $answer"; continue; }
    printf 'g3-install: type yes to overwrite /dev/%s: ' "$disk"
    read -r sure || exit 0
    [ "$sure" = yes ] && break
  done
  write_to "$disk"
  say "powering off"
  systemctl --no-block poweroff
  ;;
*) exit 0 ;;
esac
`;
}
