// The packages benchmark's template target: ~50 real trixie packages on top of
// the default template, in a catalogue of its own under the work directory, and
// settings that point every cache at that directory.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type Settings, loadSettings } from '../src/config/load.js';
import type { Emit } from '../src/log/events.js';
import { type OpenTarget, openTemplateTarget } from '../src/packages/target.js';

/** The target's name in the benchmark's catalogue. */
export const TARGET = 'bench-packages';

/**
 * What a small server image asks for beyond the default template (which adds
 * systemd-sysv, udev, dbus, login, passwd, iproute2, systemd-boot and the kernel).
 * git and locales are left out to keep two cold fetches under ~400 MB.
 */
export const REQUEST = [
  'openssh-server',
  'curl',
  'wget',
  'vim-tiny',
  'sudo',
  'ca-certificates',
  'less',
  'iproute2',
  'iputils-ping',
  'nano',
  'htop',
  'tmux',
  'rsync',
  'gnupg',
  'jq',
  'lsof',
  'strace',
  'procps',
  'psmisc',
  'file',
  'unzip',
  'zstd',
  'xz-utils',
  'bzip2',
  'openssl',
  'bind9-dnsutils',
  'netcat-openbsd',
  'tcpdump',
  'ethtool',
  'systemd-resolved',
  'systemd-timesyncd',
  'dosfstools',
  'parted',
  'fdisk',
  'kmod',
  'tzdata',
  'bash-completion',
  'man-db',
  'cron',
  'logrotate',
  'nftables',
  'traceroute',
  'mtr-tiny',
  'socat',
  'tree',
  'pciutils',
  'usbutils',
  'dmidecode',
  'whiptail',
  'bsdextrautils',
  'bc',
  'pv',
  'ncdu',
  'hdparm',
];

/** Paths of the benchmark's catalogue, template and caches under `work`. */
export interface BenchPaths {
  work: string;
  targets: string;
  template: string;
  /** --cache-dir of the lock runs; its repoCache is the metadata store. */
  cacheDir: string;
  storeDir: string;
  /** --cache-dir of the cold and warm cache runs. */
  fetchCacheDir: string;
  g3Cache: string;
  apt: string;
  aptDownload: string;
}

/** Where everything goes under `work`. */
export function benchPaths(work: string): BenchPaths {
  const cacheDir = path.join(work, 'cache');
  return {
    work,
    targets: path.join(work, 'targets.yml'),
    template: path.join(work, 'templates', 'bench.yml'),
    cacheDir,
    storeDir: path.join(cacheDir, 'repoCache'),
    fetchCacheDir: path.join(work, 'fetch-cache'),
    g3Cache: path.join(work, 'g3-cache'),
    apt: path.join(work, 'apt'),
    aptDownload: path.join(work, 'apt-download'),
  };
}

/** Write the catalogue and the template (the repositories come from the default template). */
export async function writeBenchTarget(p: BenchPaths): Promise<void> {
  await mkdir(path.dirname(p.template), { recursive: true });
  await writeFile(p.targets, `targets:\n  ${TARGET}:\n    description: packages-stage benchmark (bench/packages.ts)\n    template: templates/bench.yml\n`);
  const template = [
    'image:',
    '  name: bench-packages',
    '  version: "1.0.0"',
    'target:',
    '  os: debian',
    '  dist: debian13',
    '  arch: x86_64',
    '  imageType: raw',
    'systemConfig:',
    '  name: bench-packages',
    '  description: Small server image for the packages-stage benchmark',
    '  hostname: bench',
    '  packages:',
    ...REQUEST.map((n) => `    - ${n}`),
  ];
  await writeFile(p.template, `${template.join('\n')}\n`);
}

/** Settings as the CLI would load them with the benchmark's flags; mirrors come from the host's apt sources. */
export async function benchSettings(root: string, p: BenchPaths, env: NodeJS.ProcessEnv): Promise<Settings> {
  return loadSettings({ projectRoot: root, env, cwd: root, flags: { targets: p.targets, 'cache-dir': p.cacheDir, 'g3-cache': p.g3Cache, 'shared-cache': '' } });
}

/** The opened template target (merged template and package plan). */
export function openBenchTarget(s: Settings, emit: Emit): Promise<OpenTarget> {
  return openTemplateTarget(s, TARGET, emit);
}

/** Replace the configured mirrors (and their host names) by `${mirror}`-style names in anything printed or recorded. */
export function redactor(s: Settings): (text: string) => string {
  const pairs: Array<[string, string]> = [];
  for (const [url, name] of [
    [s.mirror, 'mirror'],
    [s.securityMirror, 'security_mirror'],
  ] as const) {
    if (!url) continue;
    pairs.push([url.replace(/\/+$/, ''), `\${${name}}`]);
    const host = URL.canParse(url) ? new URL(url).host : '';
    if (host && !pairs.some(([from]) => from === host)) pairs.push([host, `\${${name}_host}`]);
  }
  // Longer strings first: a URL before its host, and a mirror before one that is its prefix.
  pairs.sort((a, b) => b[0].length - a[0].length);
  return (text) => pairs.reduce((t, [from, to]) => t.split(from).join(to), text);
}
