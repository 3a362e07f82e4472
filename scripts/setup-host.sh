#!/usr/bin/env bash
# Installs the Debian packages the toolkit and its tests use, when missing.
# Idempotent; needs root (or sudo) only when something must be installed.
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have curl || need+=(curl)
have wget || need+=(wget)
have mount || need+=(mount)
have sha256sum || need+=(coreutils)
# Signed repository metadata: gpgv checks signatures, xz unpacks indexes.
have gpgv || need+=(gpgv)
have xz || need+=(xz-utils)
# Tests: gpg signs fixture repositories, dpkg-deb builds .debs, apt-get is the reference resolver.
have gpg || need+=(gpg)
have dpkg-deb || need+=(dpkg)
have apt-get || need+=(apt)
# base: mmdebstrap bootstraps the base image from a local file repository
# that apt-ftparchive indexes.
have mmdebstrap || need+=(mmdebstrap)
have apt-ftparchive || need+=(apt-utils)
# Tests read disk images without mounting them: sfdisk --json, debugfs, mtools,
# and the disk-stage tests run mkfs.ext4 and mkfs.fat on the host.
have sfdisk || need+=(fdisk)
have debugfs || need+=(e2fsprogs)
have mkfs.fat || need+=(dosfstools)
have mcopy || need+=(mtools)
# Finalize and the boot test: qemu-img, compressors, QEMU with OVMF firmware.
have qemu-img || need+=(qemu-utils)
have zstd || need+=(zstd)
have pigz || need+=(pigz)
have qemu-system-x86_64 || need+=(qemu-system-x86)
[ -e /usr/share/OVMF/OVMF_CODE_4M.fd ] || need+=(ovmf)
# Boot tests of the other image types: ISOs read with xorriso, arm64 images booted
# in qemu-system-aarch64 with UEFI firmware (AAVMF), arm64 builds through qemu-user
# registered in binfmt_misc with the F flag (qemu-user-static; binfmt-support registers it).
have xorriso || need+=(xorriso)
have unsquashfs || need+=(squashfs-tools)
have cpio || need+=(cpio)
have qemu-system-aarch64 || need+=(qemu-system-arm)
[ -e /usr/share/AAVMF/AAVMF_CODE.fd ] || need+=(qemu-efi-aarch64)
have qemu-aarch64-static || need+=(qemu-user-static)
have update-binfmts || need+=(binfmt-support)
# Registry tests: a real registry on 127.0.0.1 (CNCF Distribution) behind htpasswd (bcrypt) auth.
have docker-registry || need+=(docker-registry)
have htpasswd || need+=(apache2-utils)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${need[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
# arm64 builds: the qemu-aarch64 interpreter registered in binfmt_misc (mounted first where it is not).
if [ -d /proc/sys/fs/binfmt_misc ] && [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || echo "cannot mount binfmt_misc: arm64 builds will not run" >&2
fi
if [ -e /proc/sys/fs/binfmt_misc/register ] && [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] && have update-binfmts; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo update-binfmts --enable qemu-aarch64 || echo "cannot register qemu-aarch64 in binfmt_misc: arm64 builds will not run" >&2
fi
# Node.js >= 22.19: the system's when new enough, else one scripts/node.sh installs into .tools/node/.
node="$("$(dirname "${BASH_SOURCE[0]}")/node.sh" --path)"
echo "host ready: node $("$node" --version) ($node), $(nproc) cores" >&2
