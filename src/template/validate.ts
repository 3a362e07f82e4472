// Validation of a merged template: everything a build relies on, reported all
// at once, each problem with the file, line and field path to fix.
import { isIP } from 'node:net';
import { unsafeUrlReason } from '../layout/names.js';
import { invalidVersionReason } from '../deb/version.js';
import { escapeInline } from '../text/untrusted.js';
import { finalPathProblem, localPathProblem } from './local-files.js';
import { Problems } from './problems.js';
import { findProvider, IMAGE_TYPES, supportedProviders } from './provider.js';
import type { ImageTemplate, RepoTemplate, SystemConfigTemplate } from './types.js';
import { validateDisk, validateOverlayDisk } from './validate-disk.js';
import { overlayOf } from './overlay/spec.js';
import { validateOverlay } from './overlay/validate.js';

export { debianArch, providerId } from './provider.js';

export const HASH_ALGOS: readonly string[] = ['sha512', 'sha256', 'yescrypt'];
const USER_NAME = /^[a-z_][a-z0-9_-]*$/;
const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]+$/;
const COMPONENT = /^[A-Za-z0-9][A-Za-z0-9._/-]*$/;
const DEBIAN_ARCH = /^[a-z0-9][a-z0-9-]*$/;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const BOOT_TYPES = ['efi', 'legacy'];
const BOOTLOADERS = ['systemd-boot', 'grub'];

/** Check a merged template; `where` names it in messages about values with no recorded origin. */
export function validateTemplate(t: ImageTemplate, where: string): { errors: string[]; warnings: string[] } {
  const out = new Problems(where);
  validateTarget(t, out);
  validateOverlay(t, out);
  // An overlay's layout is the baseline's: only its artifacts (and size) are the template's.
  if (overlayOf(t)) validateOverlayDisk(t, out);
  else validateDisk(t, out);
  validateRepos(t, out);
  validateSystem(t, out);
  validateIso(t, out);
  return { errors: out.errors, warnings: out.warnings };
}

function validateTarget(t: ImageTemplate, out: Problems): void {
  const target = t.target;
  if (!target) {
    out.error(t, 'target', 'target', 'is required: {os, dist, arch, imageType}, e.g. debian, debian13, x86_64, raw');
    return;
  }
  const missing = (['os', 'dist', 'arch', 'imageType'] as const).filter((k) => !target[k]);
  for (const k of missing) out.error(target, k, `target.${k}`, 'is required');
  if (missing.some((k) => k !== 'imageType')) return;
  if (!findProvider(t)) {
    out.error(
      t.target,
      'dist',
      'target',
      `${target.os}/${target.dist}/${target.arch} is not supported (supported os-dist-arch: ${supportedProviders().join(', ')})`,
    );
  }
  if (target.imageType && !IMAGE_TYPES.includes(target.imageType)) {
    out.error(t.target, 'imageType', 'target.imageType', `"${target.imageType}" is not supported (supported: ${IMAGE_TYPES.join(', ')})`);
  }
}

/** A problem with a package name (`name` or `name=version`), or undefined. */
export function packageProblem(spec: string): string | undefined {
  const eq = spec.indexOf('=');
  const name = eq < 0 ? spec : spec.slice(0, eq);
  if (!PACKAGE_NAME.test(name)) return `"${spec}" is not a Debian package name (lower-case letters, digits, + - .; at least two characters)`;
  if (eq < 0) return undefined;
  const why = invalidVersionReason(spec.slice(eq + 1));
  return why ? `"${spec}" has a version that ${why}` : undefined;
}

function checkPackages(list: string[] | undefined, path: string, out: Problems): void {
  list?.forEach((spec, i) => {
    const problem = packageProblem(spec);
    if (problem) out.error(list, i, `${path}[${i}]`, problem);
  });
}

function validateRepos(t: ImageTemplate, out: Problems): void {
  const repos = t.packageRepositories ?? [];
  if (repos.length === 0) out.error(t, 'packageRepositories', 'packageRepositories', 'is empty: the image needs at least one package repository');
  const seen = new Map<string, number>();
  repos.forEach((r: RepoTemplate, i) => {
    const p = `packageRepositories[${i}]`;
    // The codename names a path on the mirror and is printed in messages: one plain word.
    if (!r.codename || !COMPONENT.test(r.codename))
      out.error(
        r,
        'codename',
        `${p}.codename`,
        r.codename ? `must be one word of letters, digits and . _ / -, not "${escapeInline(r.codename)}"` : 'is required',
      );
    const urlProblem = r.url ? unsafeUrlReason(r.url) : 'is required';
    if (urlProblem) out.error(r, 'url', `${p}.url`, urlProblem);
    if (!Number.isInteger(r.priority)) out.error(r, 'priority', `${p}.priority`, `must be a whole number, not ${r.priority}`);
    if (r.component.length === 0) out.error(r, 'component', `${p}.component`, 'must name at least one component (e.g. main)');
    for (const c of r.component) if (!COMPONENT.test(c)) out.error(r, 'component', `${p}.component`, `"${c}" is not a component name`);
    for (const a of r.arch ?? []) if (!DEBIAN_ARCH.test(a)) out.error(r, 'arch', `${p}.arch`, `"${a}" is not a Debian architecture name`);
    checkPackages(r.allowPackages, `${p}.allowPackages`, out);
    if (r.pkey && /^[a-z]+:\/\//i.test(r.pkey))
      out.error(r, 'pkey', `${p}.pkey`, 'is a URL; keys are not fetched over the network (save the keyring beside the template and name the file)');
    if (r.trusted) out.warn(r, 'trusted', `${p}.trusted`, `is true: ${r.codename} from ${r.url} is accepted without checking its signature`);
    const key = `${r.codename} ${r.url}`;
    const prior = seen.get(key);
    if (prior !== undefined) out.warn(r, undefined, p, `repeats ${r.codename} at ${r.url} (packageRepositories[${prior}])`);
    else seen.set(key, i);
  });
}

function validateSystem(t: ImageTemplate, out: Problems): void {
  const sys: SystemConfigTemplate = t.systemConfig ?? {};
  if (sys.hostname !== undefined && !HOSTNAME.test(sys.hostname))
    out.error(sys, 'hostname', 'systemConfig.hostname', `"${sys.hostname}" is not a valid host name`);
  const boot = sys.bootloader;
  if (boot?.bootType !== undefined && !BOOT_TYPES.includes(boot.bootType))
    out.error(boot, 'bootType', 'systemConfig.bootloader.bootType', `must be one of ${BOOT_TYPES.join(', ')}`);
  if (boot?.provider !== undefined && !BOOTLOADERS.includes(boot.provider))
    out.error(boot, 'provider', 'systemConfig.bootloader.provider', `must be one of ${BOOTLOADERS.join(', ')}`);
  // Not implemented: an image asked to be immutable must not be built as a writable one.
  if (sys.immutability?.enabled === true)
    out.error(
      sys.immutability,
      'enabled',
      'systemConfig.immutability.enabled',
      'is true, but a dm-verity (immutable) root is not implemented; set it to false',
    );
  checkPackages(sys.packages, 'systemConfig.packages', out);
  checkPackages(sys.kernel?.packages, 'systemConfig.kernel.packages', out);
  sys.configurations?.forEach((c, i) => {
    if (!c.cmd?.trim()) out.error(c, 'cmd', `systemConfig.configurations[${i}].cmd`, 'is required');
  });
  validateUsers(sys, out);
  validateFiles(sys, out);
  validateNetwork(sys, out);
}

/** systemConfig.network's backends (OS Image Composer's), and an interface name as the kernel allows it (IFNAMSIZ). */
export const NETWORK_BACKENDS: readonly string[] = ['systemd-networkd', 'netplan'];
export const INTERFACE_NAME = /^[A-Za-z0-9_.:-]{1,15}$/;

/** Why `s` is not an address with a prefix length (`10.0.0.5/24`, `fd00::5/64`), or undefined. */
export function cidrProblem(s: string): string | undefined {
  const [ip, prefix, ...rest] = s.split('/');
  const family = isIP(ip ?? '');
  if (rest.length > 0 || prefix === undefined || family === 0 || !/^\d{1,3}$/.test(prefix) || Number(prefix) > (family === 4 ? 32 : 128))
    return `"${escapeInline(s)}" is not an address with a prefix length (like 10.0.0.5/24 or fd00::5/64)`;
  return undefined;
}

function validateNetwork(sys: SystemConfigTemplate, out: Problems): void {
  const net = sys.network;
  if (net === undefined) return;
  if (net.backend === undefined) out.error(net, 'backend', 'systemConfig.network.backend', `is required (${NETWORK_BACKENDS.join(' or ')})`);
  else if (!NETWORK_BACKENDS.includes(net.backend))
    out.error(net, 'backend', 'systemConfig.network.backend', `"${escapeInline(net.backend)}" is not supported (supported: ${NETWORK_BACKENDS.join(', ')})`);
  const names = new Set<string>();
  net.interfaces?.forEach((n, i) => {
    const p = `systemConfig.network.interfaces[${i}]`;
    if (!n.name || !INTERFACE_NAME.test(n.name))
      out.error(n, 'name', `${p}.name`, n.name ? `"${escapeInline(n.name)}" is not an interface name` : 'is required');
    else if (names.has(n.name)) out.error(n, 'name', `${p}.name`, `repeats interface "${n.name}"`);
    else names.add(n.name);
    const addresses = n.addresses ?? [];
    addresses.forEach((a, j) => {
      const problem = cidrProblem(a);
      if (problem) out.error(addresses, j, `${p}.addresses[${j}]`, problem);
    });
    n.routes?.forEach((r, j) => {
      if (r.to === undefined || (r.to !== 'default' && cidrProblem(r.to)))
        out.error(
          r,
          'to',
          `${p}.routes[${j}].to`,
          r.to === undefined ? 'is required' : `"${escapeInline(r.to)}" is neither default nor an address with a prefix length`,
        );
      if (r.via === undefined || isIP(r.via) === 0)
        out.error(r, 'via', `${p}.routes[${j}].via`, r.via === undefined ? 'is required' : `"${escapeInline(r.via)}" is not an IP address`);
    });
    const servers = n.nameservers ?? [];
    servers.forEach((d, j) => {
      if (isIP(d) === 0) out.error(servers, j, `${p}.nameservers[${j}]`, `"${escapeInline(d)}" is not an IP address`);
    });
  });
}

function validateUsers(sys: SystemConfigTemplate, out: Problems): void {
  const names = new Map<string, number>();
  sys.users?.forEach((u, i) => {
    const p = `systemConfig.users[${i}]`;
    if (!u.name || !USER_NAME.test(u.name))
      out.error(u, 'name', `${p}.name`, u.name ? `"${u.name}" is not a valid user name (${USER_NAME.source})` : 'is required');
    else if (names.has(u.name)) out.error(u, 'name', `${p}.name`, `repeats user "${u.name}"`);
    else names.set(u.name, i);
    if (u.hash_algo !== undefined && !HASH_ALGOS.includes(u.hash_algo))
      out.error(u, 'hash_algo', `${p}.hash_algo`, `"${u.hash_algo}" is not supported (use one of ${HASH_ALGOS.join(', ')})`);
    for (const g of u.groups ?? []) if (!USER_NAME.test(g)) out.error(u, 'groups', `${p}.groups`, `"${g}" is not a valid group name`);
    for (const key of ['shell', 'home', 'startupScript'] as const) {
      const v = u[key];
      if (v !== undefined && !USER_PATH.test(v))
        out.error(u, key, `${p}.${key}`, `"${escapeInline(v)}" is not an absolute path of letters, digits and / . _ + -`);
    }
    if (u.passwordMaxAge !== undefined && (u.passwordMaxAge < 0 || u.passwordMaxAge > 99_999))
      out.error(u, 'passwordMaxAge', `${p}.passwordMaxAge`, `${u.passwordMaxAge} is not a number of days from 0 to 99999`);
  });
}

/** A path a user key may name (shell, home, startupScript): absolute, plain characters, no ".." segment. */
export const USER_PATH = /^(?!.*\/\.\.(\/|$))\/[A-Za-z0-9_.+-]+(\/[A-Za-z0-9_.+-]+)*$/;

function validateFiles(sys: SystemConfigTemplate, out: Problems): void {
  sys.additionalFiles?.forEach((f, i) => {
    const p = `systemConfig.additionalFiles[${i}]`;
    // `local` is read from the directory of the template that names it; it must stay inside
    // (the files themselves are checked in target.ts, with the build's own functions).
    const localProblem = f.local ? localPathProblem(f.local) : 'is required';
    if (localProblem) out.error(f, 'local', `${p}.local`, localProblem);
    // The same check the build makes before it writes the file into the image.
    const finalProblem = f.final ? finalPathProblem(f.final) : 'is required';
    if (finalProblem) out.error(f, 'final', `${p}.final`, f.final ? `${finalProblem}: "${escapeInline(f.final)}"` : finalProblem);
  });
}

/** The ISO installer's modes (systemConfig.installer.mode) and target policies besides a device path (.target). */
export const INSTALLER_MODES: readonly string[] = ['none', 'attended', 'unattended'];
export const INSTALLER_TARGETS: readonly string[] = ['first-empty-disk'];
export const INSTALLER_DEVICE = /^\/dev\/[A-Za-z0-9][A-Za-z0-9/_.:-]*$/;

function validateIso(t: ImageTemplate, out: Problems): void {
  const sys = t.systemConfig ?? {};
  const iso = t.target?.imageType === 'iso';
  if (sys.initramfs !== undefined) {
    if (!iso) out.warn(sys, 'initramfs', 'systemConfig.initramfs', 'is used only by ISO images; ignored');
    else {
      const tpl = sys.initramfs?.template;
      if (typeof tpl !== 'string' || tpl === '')
        out.error(sys.initramfs ?? sys, 'template', 'systemConfig.initramfs.template', 'is required: the template (imageType img) of the system the ISO boots');
      else {
        const problem = localPathProblem(tpl);
        if (problem) out.error(sys.initramfs, 'template', 'systemConfig.initramfs.template', problem);
      }
    }
  }
  const device = t.disk?.path;
  if (device !== undefined) {
    if (!iso) out.warn(t.disk, 'path', 'disk.path', `names the ISO installer's target device; ignored for imageType ${t.target?.imageType ?? 'raw'}`);
    else if (!INSTALLER_DEVICE.test(device)) out.error(t.disk, 'path', 'disk.path', `"${escapeInline(device)}" is not a device path like /dev/vda`);
    else if (sys.installer?.target !== undefined && sys.installer.target !== device)
      out.error(t.disk, 'path', 'disk.path', `is ${device}, but systemConfig.installer.target is ${escapeInline(sys.installer.target)}: give one of them`);
  }
  const inst = sys.installer;
  if (!inst) return;
  if (!iso) {
    out.error(sys, 'installer', 'systemConfig.installer', `is only for imageType iso, not ${t.target?.imageType ?? 'raw'}; remove it`);
    return;
  }
  if (inst.mode !== undefined && !INSTALLER_MODES.includes(inst.mode))
    out.error(inst, 'mode', 'systemConfig.installer.mode', `"${escapeInline(inst.mode)}" is not supported (supported: ${INSTALLER_MODES.join(', ')})`);
  if (inst.target !== undefined && !INSTALLER_TARGETS.includes(inst.target) && !INSTALLER_DEVICE.test(inst.target))
    out.error(
      inst,
      'target',
      'systemConfig.installer.target',
      `"${escapeInline(inst.target)}" is neither a policy (${INSTALLER_TARGETS.join(', ')}) nor a device path like /dev/vda`,
    );
  if ((inst.mode ?? 'none') !== 'none' && !t.disk)
    out.error(inst, 'mode', 'systemConfig.installer.mode', 'asks for an installer, but the template has no disk section for it to write; add one');
}
