// A project whose one target builds a template with the facts of OS Image
// Composer's minimal Debian 13 raw template (its package list, disk layout,
// bootloader, kernel and artifacts: a gzip-compressed raw image and a vhdx),
// written in this toolkit's template syntax, for the benchmarks that need a
// template of about 320 packages. Its kernel.version (a point release the
// mirror may no longer carry) is left out: the lock takes the mirror's kernel. The composer tools are the default target's
// plus pigz, with which the tree before issue 18 makes gz on every core (this tree writes gz itself, and packs the
// chroot snapshot with pigz).
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const OIC_TARGET = 'oic';

const PACKAGES = [
  'apparmor',
  'apt-listchanges',
  'apt-utils',
  'bash-completion',
  'bind9-host',
  'cloud-init',
  'cloud-initramfs-growroot',
  'curl',
  'dbus',
  'dosfstools',
  'firmware-intel-graphics',
  'firmware-intel-misc',
  'firmware-iwlwifi',
  'grub-cloud-amd64',
  'init',
  'iptables',
  'iputils-ping',
  'less',
  'libext2fs2t64',
  'liblastlog2-2',
  'libnss-myhostname',
  'libnss-resolve',
  'libpam-modules-bin',
  'libpam-systemd',
  'libss2',
  'linux-sysctl-defaults',
  'man-db',
  'manpages',
  'mawk',
  'nano',
  'netplan.io',
  'pciutils',
  'polkitd',
  'psmisc',
  'python3-minimal',
  'reportbug',
  'wireless-regdb',
  'screen',
  'socat',
  'ssh-import-id',
  'sudo',
  'tcpdump',
  'traceroute',
  'unattended-upgrades',
  'uuid-runtime',
  'vim',
  'vim-tiny',
  'whiptail',
  'zstd',
];

export const TEMPLATE = `image:
  name: minimal-os-image-debian
  version: "13.0"
target:
  os: debian
  dist: debian13
  arch: x86_64
  imageType: raw
disk:
  name: Minimal_Raw
  artifacts:
    - type: raw
      compression: gz
    - type: vhdx
  size: 4GiB
  partitionTableType: gpt
  partitions:
    - {id: boot, type: esp, flags: [esp, boot], start: 1MiB, end: 513MiB, fsType: fat32, mountPoint: /boot/efi, mountOptions: umask=0077}
    - {id: rootfs, type: linux-root-amd64, start: 513MiB, end: "0", fsType: ext4, mountPoint: /, mountOptions: defaults}
systemConfig:
  name: minimal
  description: Minimal debian image
  bootloader: {bootType: efi, provider: grub}
  immutability: {enabled: false}
  packages: [${PACKAGES.join(', ')}]
  kernel:
    cmdline: "console=ttyS0,115200 console=tty0 loglevel=7"
    packages: [linux-image-amd64]
`;

/** Write `<dir>/targets.yml` (target `oic`), its template and the composer Dockerfile; returns the catalogue's path. */
export async function writeOicProject(root: string, dir: string): Promise<string> {
  await mkdir(path.join(dir, 'templates'), { recursive: true });
  for (const f of ['Dockerfile', '.dockerignore']) await copyFile(path.join(root, 'docker', f), path.join(dir, f));
  await writeFile(path.join(dir, 'templates', 'oic-minimal.yml'), TEMPLATE);
  const catalogue = await readFile(path.join(root, 'docker', 'targets.yml'), 'utf8');
  const tools = (/^\s+tools: \[(.*)\]$/m.exec(catalogue)?.[1] ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  const file = path.join(dir, 'targets.yml');
  await writeFile(file, `targets:\n  ${OIC_TARGET}:\n    template: templates/oic-minimal.yml\n    tools: [${[...tools, 'pigz'].join(', ')}]\n`);
  return file;
}
