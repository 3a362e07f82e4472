// The image's network: the template's systemConfig.network (OS Image
// Composer's declarative form, systemd-networkd or netplan, one file per
// interface or one netplan file), else DHCP on the wired interfaces with
// whichever network manager the image has. The image is configured offline:
// `systemctl enable` in a chroot only creates the unit symlinks, it needs no
// running systemd. Every value written was checked by validate.ts.
import { stringify } from 'yaml';
import { UserError } from '../../errors.js';
import type { SystemConfigTemplate } from '../../template/types.js';
import { type Emit, existsInImage, inImage, writeInImage } from './io.js';
import type { Runner } from '../../docker/runner.js';

export type NetworkTemplate = NonNullable<SystemConfigTemplate['network']>;
type Interface = NonNullable<NetworkTemplate['interfaces']>[number];

/** netplan's configuration file (it wants it readable by root only). */
export const NETPLAN_FILE = '/etc/netplan/90-g3.yaml';
const NETPLAN_BINARIES = ['/usr/sbin/netplan', '/sbin/netplan'];

function dhcpValue(n: Interface): string {
  if (n.dhcp4 && n.dhcp6) return 'yes';
  if (n.dhcp4) return 'ipv4';
  if (n.dhcp6) return 'ipv6';
  return 'no';
}

/** One systemd-networkd file per interface, `/etc/systemd/network/10-g3-<name>.network`. */
export function networkdFiles(net: NetworkTemplate): Array<{ file: string; body: string }> {
  const interfaces = net.interfaces ?? [];
  if (interfaces.length === 0) return [{ file: NETWORKD_FILE, body: NETWORKD_DHCP }];
  return interfaces.map((n) => {
    const lines = ['[Match]', `Name=${n.name}`, '', '[Network]', `DHCP=${dhcpValue(n)}`];
    for (const a of n.addresses ?? []) lines.push(`Address=${a}`);
    for (const d of n.nameservers ?? []) lines.push(`DNS=${d}`);
    for (const r of n.routes ?? []) lines.push('', '[Route]', ...(r.to === 'default' ? [] : [`Destination=${r.to}`]), `Gateway=${r.via}`);
    return { file: `/etc/systemd/network/10-g3-${n.name}.network`, body: `${lines.join('\n')}\n` };
  });
}

/** The netplan file (version 2, ethernets); with no interfaces, DHCP on every wired one. */
export function netplanYaml(net: NetworkTemplate): string {
  const interfaces = net.interfaces ?? [];
  const ethernets: Record<string, unknown> = {};
  if (interfaces.length === 0) ethernets.g3wired = { match: { name: 'en*' }, dhcp4: true };
  for (const n of interfaces) {
    const e: Record<string, unknown> = {};
    if (n.dhcp4 !== undefined) e.dhcp4 = n.dhcp4;
    if (n.dhcp6 !== undefined) e.dhcp6 = n.dhcp6;
    if (n.addresses?.length) e.addresses = [...n.addresses];
    if (n.routes?.length) e.routes = n.routes.map((r) => ({ to: r.to, via: r.via }));
    if (n.nameservers?.length) e.nameservers = { addresses: [...n.nameservers] };
    ethernets[n.name as string] = e;
  }
  return `# Written by g3-composer from systemConfig.network.\n${stringify({ network: { version: 2, ethernets } }, { lineWidth: 0 })}`;
}

/** The template's network section, written for its backend; the backend must be in the image. */
async function configureDeclared(runner: Runner, rootfs: string, net: NetworkTemplate, emit: Emit): Promise<void> {
  if (net.backend === 'netplan') {
    let found = false;
    for (const b of NETPLAN_BINARIES) if (await existsInImage(runner, rootfs, b)) found = true;
    if (!found) throw new UserError('systemConfig.network.backend is netplan, but the image has no netplan', 'Add netplan.io to systemConfig.packages.');
    await writeInImage(runner, rootfs, NETPLAN_FILE, netplanYaml(net), '0600');
    emit({ type: 'info', message: `network: netplan (${NETPLAN_FILE}, ${(net.interfaces ?? []).length || 'all wired'} interface(s))` });
    return;
  }
  if (!(await hasNetworkd(runner, rootfs)))
    throw new UserError(
      'systemConfig.network.backend is systemd-networkd, but the image has no systemd-networkd',
      'Add systemd (or systemd-networkd) to systemConfig.packages.',
    );
  const files = networkdFiles(net);
  for (const f of files) await writeInImage(runner, rootfs, f.file, f.body, '0644');
  await runner.run(inImage(rootfs, ['systemctl', 'enable', 'systemd-networkd']));
  emit({ type: 'info', message: `network: systemd-networkd (${files.map((f) => f.file).join(', ')})` });
}

const NETWORKD_UNITS = ['/lib/systemd/system/systemd-networkd.service', '/usr/lib/systemd/system/systemd-networkd.service'];

/** The systemd-networkd unit: DHCP on predictable (en*) and classic (eth*) interface names. */
export const NETWORKD_DHCP = '[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\n';
export const NETWORKD_FILE = '/etc/systemd/network/80-g3-dhcp.network';

/** The ifupdown stanza; Debian's /etc/network/interfaces sources interfaces.d/*. */
export const IFUPDOWN_DHCP = 'auto eth0\niface eth0 inet dhcp\n';
export const IFUPDOWN_FILE = '/etc/network/interfaces.d/g3-dhcp';

/** The template's network section when it has one; else DHCP with systemd-networkd, else ifupdown, else say that the image has no network manager. */
export async function configureNetwork(runner: Runner, rootfs: string, emit: Emit, declared?: NetworkTemplate): Promise<void> {
  if (declared) return configureDeclared(runner, rootfs, declared, emit);
  if (await hasNetworkd(runner, rootfs)) {
    await writeInImage(runner, rootfs, NETWORKD_FILE, NETWORKD_DHCP, '0644');
    await runner.run(inImage(rootfs, ['systemctl', 'enable', 'systemd-networkd']));
    emit({ type: 'info', message: `network: DHCP with systemd-networkd (${NETWORKD_FILE})` });
  } else if (await existsInImage(runner, rootfs, '/etc/network', 'dir')) {
    await writeInImage(runner, rootfs, IFUPDOWN_FILE, IFUPDOWN_DHCP, '0644');
    emit({ type: 'info', message: `network: DHCP on eth0 with ifupdown (${IFUPDOWN_FILE})` });
  } else {
    emit({
      type: 'info',
      message: 'network: no network manager is installed (neither systemd-networkd nor ifupdown); the image will not configure its network at boot',
    });
  }
}

async function hasNetworkd(runner: Runner, rootfs: string): Promise<boolean> {
  for (const unit of NETWORKD_UNITS) if (await existsInImage(runner, rootfs, unit)) return true;
  return false;
}
