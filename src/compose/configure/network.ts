// DHCP on the wired interfaces, with whichever network manager the image has.
// The image is configured offline: `systemctl enable` in a chroot only creates
// the unit symlinks, it needs no running systemd.
import { type Emit, existsInImage, inImage, writeInImage } from './io.js';
import type { Runner } from '../../docker/runner.js';

const NETWORKD_UNITS = ['/lib/systemd/system/systemd-networkd.service', '/usr/lib/systemd/system/systemd-networkd.service'];

/** The systemd-networkd unit: DHCP on predictable (en*) and classic (eth*) interface names. */
export const NETWORKD_DHCP = '[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\n';
export const NETWORKD_FILE = '/etc/systemd/network/80-g3-dhcp.network';

/** The ifupdown stanza; Debian's /etc/network/interfaces sources interfaces.d/*. */
export const IFUPDOWN_DHCP = 'auto eth0\niface eth0 inet dhcp\n';
export const IFUPDOWN_FILE = '/etc/network/interfaces.d/g3-dhcp';

/** Turn on DHCP with systemd-networkd, else ifupdown, else say that the image has no network manager. */
export async function configureNetwork(runner: Runner, rootfs: string, emit: Emit): Promise<void> {
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
