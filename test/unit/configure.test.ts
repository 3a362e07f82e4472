import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configureSystem, derivedMachineId, hostsFile, type ConfigureEvent, type ConfigureInput } from '../../src/compose/configure/configure.js';
import { derivedSalt, shaCrypt } from '../../src/compose/configure/shacrypt.js';
import { writeInImage } from '../../src/compose/configure/io.js';
import { IFUPDOWN_DHCP, NETPLAN_FILE, NETWORKD_DHCP, netplanYaml, networkdFiles } from '../../src/compose/configure/network.js';
import { parse as parseYamlText } from 'yaml';
import { parseTemplate } from '../../src/template/load.js';
import { validateTemplate } from '../../src/template/validate.js';
import type { Runner, StepOptions } from '../../src/docker/runner.js';
import { StepError, UserError } from '../../src/errors.js';
import type { RunResult } from '../../src/exec.js';
import type { SystemConfigTemplate } from '../../src/template/types.js';
import { useTempDirs } from './tmpdir.js';

const ROOT = '/build/rootfs';
const WRITE = 'umask 022; mkdir -p -- "$(dirname -- "$1")" && cat > "$1" && chmod "$2" "$1"';
const SHA512 = '$6$abcdefgh$ltjgWl6579NluT/Vi1nwEvcil.G5Nbc4NiXZaNGStk8PSwGfQv72N2CKPPrVACtLtip/cZ/1GM/O6IND4WQhG.';
const YESCRYPT = '$y$j9T$dvux8udbHrX8q9RUeUoAC0$xWdmEFstWY9Z7U1AuIyjClZel6JOItPIHNsd51E39s7';
const BCRYPT = '$2b$12$jeHHvtqMFAGGvhegediAme5EcrNBbC8qQaV/zwJPessqqEByQSWNG';

interface Call {
  argv: string[];
  input?: string;
  opts: StepOptions;
}

interface World {
  /** Paths `test -e`/`test -d` finds in the image. */
  paths?: string[];
  groups?: string[];
  users?: string[];
  /** Answers for other commands (argv after `chroot ROOT`); undefined means exit 0, no output. */
  script?: (cmd: string[], opts: StepOptions) => (RunResult & { lines?: string[] }) | undefined;
}

/** Records every command and answers the image queries (getent, test) from a table. */
const HOST_COMMANDS = ['mkdir', 'mount', 'umount', 'cat', 'stat'];

class FakeRunner implements Runner {
  readonly where = 'fake';
  readonly calls: Call[] = [];
  constructor(private readonly world: World = {}) {}

  async run(argv: string[], opts: StepOptions = {}): Promise<RunResult> {
    const input = opts.input === undefined ? undefined : Buffer.from(opts.input).toString('utf8');
    this.calls.push({ argv, input, opts });
    // Mounting the chroot's pseudo-filesystems happens outside it.
    // (stat: nothing is there, as in an image without a D-Bus copy of the machine-id)
    if (argv[0] === 'stat') return { exitCode: 1, stdout: '', stderr: `stat: cannot statx '${argv.at(-1)}': No such file or directory` };
    if (HOST_COMMANDS.includes(argv[0] ?? '')) return { exitCode: 0, stdout: '', stderr: '' };
    if (argv[0] !== 'chroot' || argv[1] !== ROOT) throw new Error(`not run in the image: ${argv.join(' ')}`);
    const cmd = argv.slice(2);
    const r = this.answer(cmd, opts);
    for (const l of r.lines ?? []) opts.onLine?.(l);
    if (r.exitCode !== 0 && opts.reject !== false) throw new StepError(`${cmd[0]} failed`, { command: argv, exitCode: r.exitCode, stderr: r.stderr });
    return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
  }

  private answer(cmd: string[], opts: StepOptions): RunResult & { lines?: string[] } {
    const ok = (yes: boolean, no: number) => ({ exitCode: yes ? 0 : no, stdout: '', stderr: '' });
    if (cmd[0] === 'getent' && cmd[1] === 'group') return ok((this.world.groups ?? []).includes(cmd[2]!), 2);
    if (cmd[0] === 'getent' && cmd[1] === 'passwd') return ok((this.world.users ?? []).includes(cmd[2]!), 2);
    if (cmd[0] === 'test') return ok((this.world.paths ?? []).includes(cmd[2]!), 1);
    return this.world.script?.(cmd, opts) ?? { exitCode: 0, stdout: '', stderr: '' };
  }

  /** Files written with writeInImage, in order: path, mode and contents. */
  writes(): Array<{ path: string; mode: string; input: string }> {
    return this.calls.filter((c) => c.argv[4] === WRITE).map((c) => ({ path: c.argv[6]!, mode: c.argv[7]!, input: c.input ?? '' }));
  }

  /** The commands run in the image, without the `chroot ROOT` prefix. */
  commands(): string[][] {
    return this.calls.filter((c) => c.argv[0] === 'chroot').map((c) => c.argv.slice(2));
  }
}

const tempDir = useTempDirs('g3-configure-');

async function configure(runner: Runner, config: SystemConfigTemplate, extra: Partial<ConfigureInput> = {}) {
  const events: ConfigureEvent[] = [];
  const input: ConfigureInput = {
    rootfs: ROOT,
    config,
    templateDir: extra.templateDir ?? '/nonexistent',
    fstab: 'LABEL=root / ext4 defaults 0 1\n',
    emit: (e) => events.push(e),
    ...extra,
  };
  await configureSystem(runner, input);
  return events;
}

/** A short label per command, to compare the order of steps. */
function summary(runner: FakeRunner): string[] {
  return runner.calls.map((c) => {
    if (c.argv[0] !== 'chroot') return `host: ${c.argv.join(' ')}`;
    const cmd = c.argv.slice(2);
    if (cmd[2] === WRITE) return `write ${cmd[4]}`;
    if (cmd[0] === '/bin/sh') return `sh ${cmd[2]}`;
    return cmd.join(' ');
  });
}

describe('writeInImage', () => {
  it('passes path and mode as positional parameters of a fixed script inside chroot, with the bytes on stdin', async () => {
    const runner = new FakeRunner();
    await writeInImage(runner, ROOT, '/etc/$(reboot) odd name', new Uint8Array([0x41, 0x0a]), '0640');
    expect(runner.calls).toEqual([
      { argv: ['chroot', ROOT, '/bin/sh', '-c', WRITE, 'sh', '/etc/$(reboot) odd name', '0640'], input: 'A\n', opts: { input: new Uint8Array([0x41, 0x0a]) } },
    ]);
  });
});

describe('configureSystem', () => {
  it('runs hostname, fstab, groups, users, files, network and configurations in that order', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'motd'), 'hello\n');
    const runner = new FakeRunner({ paths: ['/etc/sudoers', '/usr/lib/systemd/system/systemd-networkd.service'], groups: ['adm'] });
    await configure(
      runner,
      {
        hostname: 'box',
        users: [{ name: 'alice', password: 'pw-alice', groups: ['adm', 'video'], sudo: true }],
        additionalFiles: [{ local: 'motd', final: '/etc/motd' }],
        configurations: [{ cmd: 'echo done' }],
      },
      { templateDir: dir },
    );
    expect(summary(runner)).toEqual([
      'write /etc/hostname',
      'write /etc/hosts',
      'write /etc/fstab',
      'test -e /etc/sudoers',
      'getent group adm',
      'getent group video',
      'groupadd -- video',
      'getent passwd alice',
      'useradd -m -s /bin/bash -G adm,video -- alice',
      'chpasswd -c SHA512',
      'write /etc/sudoers.d/90-g3-alice',
      'visudo -cf /etc/sudoers.d/90-g3-alice',
      'write /etc/motd',
      'test -e /lib/systemd/system/systemd-networkd.service',
      'test -e /usr/lib/systemd/system/systemd-networkd.service',
      'write /etc/systemd/network/80-g3-dhcp.network',
      'systemctl enable systemd-networkd',
      // configurations run with /proc, /sys and /dev mounted, and unmounted after (reverse order), then checked
      `host: mkdir -p -v ${ROOT}/proc`,
      `host: mount -t proc proc ${ROOT}/proc`,
      `host: mkdir -p -v ${ROOT}/sys`,
      `host: mount -t sysfs -o ro sysfs ${ROOT}/sys`,
      `host: mkdir -p -v ${ROOT}/dev`,
      `host: mount --rbind /dev ${ROOT}/dev`,
      'sh echo done',
      `host: umount -R ${ROOT}/dev`,
      `host: umount -R ${ROOT}/sys`,
      `host: umount -R ${ROOT}/proc`,
      'host: cat /proc/self/mountinfo',
    ]);
  });

  it('writes /etc/hostname, /etc/hosts and /etc/fstab with mode 0644', async () => {
    const runner = new FakeRunner();
    await configure(runner, { hostname: 'web1.example.test' }, { fstab: 'LABEL=root / ext4 rw 0 1' });
    expect(runner.writes().slice(0, 3)).toEqual([
      { path: '/etc/hostname', mode: '0644', input: 'web1.example.test\n' },
      { path: '/etc/hosts', mode: '0644', input: hostsFile('web1.example.test') },
      { path: '/etc/fstab', mode: '0644', input: 'LABEL=root / ext4 rw 0 1\n' },
    ]);
    expect(hostsFile('web1.example.test')).toContain('127.0.1.1\tweb1.example.test web1\n');
    expect(hostsFile('box')).toMatch(/^127\.0\.0\.1\tlocalhost\n127\.0\.1\.1\tbox\n[\s\S]*::1\tlocalhost ip6-localhost ip6-loopback\n/);
  });

  it('names the image "localhost" with a warning when the template has no hostname', async () => {
    const runner = new FakeRunner();
    const events = await configure(runner, {});
    expect(runner.writes()[0]).toEqual({ path: '/etc/hostname', mode: '0644', input: 'localhost\n' });
    expect(events).toContainEqual({ type: 'warning', message: expect.stringContaining('hostname is not set') });
  });

  it('creates each missing group once and adds existing users to their groups instead of creating them', async () => {
    const runner = new FakeRunner({ groups: ['users'], users: ['root'] });
    await configure(runner, {
      users: [
        { name: 'root', password: SHA512, groups: ['wheel'] },
        { name: 'bob', password: 'x', groups: ['wheel', 'users'] },
      ],
    });
    const cmds = runner.commands();
    expect(cmds.filter((c) => c[0] === 'groupadd')).toEqual([['groupadd', '--', 'wheel']]);
    expect(cmds.filter((c) => c[0] === 'useradd')).toEqual([['useradd', '-m', '-s', '/bin/bash', '-G', 'wheel,users', '--', 'bob']]);
    expect(cmds).toContainEqual(['usermod', '-a', '-G', 'wheel', '--', 'root']);
  });

  it('locks a user without a password and says so', async () => {
    const runner = new FakeRunner();
    const events = await configure(runner, { users: [{ name: 'svc' }] });
    expect(runner.commands()).toContainEqual(['usermod', '-L', '--', 'svc']);
    expect(runner.commands().some((c) => c[0] === 'chpasswd')).toBe(false);
    expect(events).toContainEqual({ type: 'info', message: expect.stringMatching(/svc has no password.*locked/) });
  });

  it.each([
    { what: 'clear text', password: 'S3cret:with colon', args: ['-c', 'SHA512'] },
    { what: 'a SHA-512 hash', password: SHA512, args: ['-e'] },
    { what: 'a yescrypt hash', password: YESCRYPT, args: ['-e'] },
    { what: 'a bcrypt hash', password: BCRYPT, args: ['-e'] },
  ])('passes $what only on chpasswd stdin, never in an argument or event', async ({ password, args }) => {
    const runner = new FakeRunner({ paths: ['/etc/sudoers'] });
    const events = await configure(runner, { users: [{ name: 'alice', password, groups: ['adm'], sudo: true }], configurations: [{ cmd: 'true' }] });
    const chpasswd = runner.calls.filter((c) => c.argv[2] === 'chpasswd');
    expect(chpasswd.map((c) => [c.argv.slice(3), c.input])).toEqual([[args, `alice:${password}\n`]]);
    expect(runner.calls.flatMap((c) => c.argv).filter((a) => a.includes(password))).toEqual([]);
    expect(runner.calls.filter((c) => c.argv[2] !== 'chpasswd' && c.input?.includes(password))).toEqual([]);
    expect(events.length).toBeGreaterThan(0);
    expect(events.filter((e) => e.message.includes(password))).toEqual([]);
  });

  it.each([
    { algo: undefined, method: 'SHA512' },
    { algo: 'sha512', method: 'SHA512' },
    { algo: 'sha256', method: 'SHA256' },
    { algo: 'yescrypt', method: 'YESCRYPT' },
  ])('hashes a clear-text password in the image with hash_algo $algo as $method', async ({ algo, method }) => {
    const runner = new FakeRunner();
    await configure(runner, { users: [{ name: 'alice', password: 'pw', hash_algo: algo }] });
    expect(runner.commands()).toContainEqual(['chpasswd', '-c', method]);
  });

  it.each([
    { algo: undefined, prefix: '$6$' },
    { algo: 'sha256', prefix: '$5$' },
  ])('with a seed, hashes a clear-text password ($algo) here with a salt derived from it: the same hash every build', async ({ algo, prefix }) => {
    const hashes: string[] = [];
    for (const seed of ['seed-a', 'seed-a', 'seed-b']) {
      const runner = new FakeRunner();
      await configure(runner, { users: [{ name: 'alice', password: 'pw-secret', hash_algo: algo }] }, { seed });
      const call = runner.calls.find((c) => c.argv[2] === 'chpasswd');
      expect(call?.argv.slice(3)).toEqual(['-e']);
      const hash = (call?.input ?? '').replace(/^alice:/, '').trim();
      expect(hash).toBe(shaCrypt(algo === 'sha256' ? 'sha256' : 'sha512', 'pw-secret', derivedSalt(seed, 'alice')));
      expect(hash.startsWith(prefix)).toBe(true);
      hashes.push(hash);
    }
    expect(hashes[0]).toBe(hashes[1]);
    expect(hashes[2]).not.toBe(hashes[0]);
  });

  it('with a seed, leaves yescrypt to chpasswd and writes a machine-id derived from the seed', async () => {
    const runner = new FakeRunner();
    await configure(runner, { users: [{ name: 'alice', password: 'pw', hash_algo: 'yescrypt' }] }, { seed: 'seed-a' });
    expect(runner.commands()).toContainEqual(['chpasswd', '-c', 'YESCRYPT']);
    expect(runner.writes()).toContainEqual({ path: '/etc/machine-id', mode: '0444', input: `${derivedMachineId('seed-a')}\n` });
    expect(derivedMachineId('seed-a')).toMatch(/^[0-9a-f]{32}$/);
    expect(derivedMachineId('seed-b')).not.toBe(derivedMachineId('seed-a'));
  });

  it.each([
    {
      what: 'hash_algo bcrypt for a clear-text password',
      user: { password: 'pw-secret', hash_algo: 'bcrypt' },
      message: /users\[0\]\.hash_algo \(user alice\): "bcrypt"/,
      hint: /sha512, sha256, yescrypt/,
    },
    { what: 'an unknown hash_algo', user: { password: 'pw-secret', hash_algo: 'md4' }, message: /user alice.*"md4"/, hint: /sha512, sha256, yescrypt/ },
    { what: 'an MD5-crypt hash', user: { password: '$1$saltsalt$qjXMvbEw8oaL.CzflDugX/' }, message: /user alice.*MD5-crypt/, hint: /\$6\$/ },
    { what: 'a truncated SHA-512 hash', user: { password: SHA512.slice(0, 40) }, message: /user alice.*not a complete one/, hint: /whole hash/ },
    { what: 'a password with a line break', user: { password: 'pw\nroot:owned' }, message: /user alice.*line break/, hint: /single line/ },
  ])('refuses $what before touching the image, without echoing the password', async ({ user, message, hint }) => {
    const runner = new FakeRunner();
    const err = await configure(runner, { hostname: 'h', users: [{ name: 'alice', ...user }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toMatch(message);
    expect((err as UserError).hint).toMatch(hint);
    expect(`${(err as UserError).message} ${(err as UserError).hint}`).not.toContain(user.password);
    expect(runner.calls).toEqual([]);
  });

  it('refuses sudo: true when the image has no /etc/sudoers, before creating anyone', async () => {
    const runner = new FakeRunner({ paths: [] });
    const err = await configure(runner, { users: [{ name: 'alice', password: 'pw', sudo: true }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toBe('user alice has sudo: true but the image has no sudo; add sudo to systemConfig.packages');
    expect(runner.commands().some((c) => c[0] === 'useradd')).toBe(false);
  });

  it('grants sudo with a 0440 drop-in checked by visudo', async () => {
    const runner = new FakeRunner({ paths: ['/etc/sudoers'] });
    await configure(runner, { users: [{ name: 'alice', password: 'pw', sudo: true }] });
    expect(runner.writes()).toContainEqual({ path: '/etc/sudoers.d/90-g3-alice', mode: '0440', input: 'alice ALL=(ALL:ALL) ALL\n' });
    expect(runner.commands()).toContainEqual(['visudo', '-cf', '/etc/sudoers.d/90-g3-alice']);
  });

  it('fails with visudo output when visudo rejects the drop-in', async () => {
    const runner = new FakeRunner({
      paths: ['/etc/sudoers'],
      script: (cmd) => (cmd[0] === 'visudo' ? { exitCode: 1, stdout: '', stderr: 'syntax error near line 1' } : undefined),
    });
    const err = await configure(runner, { users: [{ name: 'alice', password: 'pw', sudo: true }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepError);
    expect((err as StepError).message).toMatch(/visudo rejected \/etc\/sudoers\.d\/90-g3-alice/);
    expect((err as StepError).details.stderr).toBe('syntax error near line 1');
  });

  it('fails when getent answers neither found nor not-found', async () => {
    const runner = new FakeRunner({ script: () => undefined });
    runner.run = async (argv, opts) =>
      argv[2] === 'getent' ? { exitCode: 3, stdout: '', stderr: 'enumeration not supported' } : FakeRunner.prototype.run.call(runner, argv, opts);
    await expect(configure(runner, { users: [{ name: 'alice' }] })).rejects.toThrow(/getent passwd alice .* exit code 3/);
  });
});

describe('additionalFiles', () => {
  it('copies files with their contents and keeps the executable bit', async () => {
    const dir = await tempDir();
    await mkdir(path.join(dir, 'files'));
    await writeFile(path.join(dir, 'files', 'run.sh'), '#!/bin/sh\necho hi\n');
    await chmod(path.join(dir, 'files', 'run.sh'), 0o744);
    await writeFile(path.join(dir, 'files', 'app.conf'), 'key=value\n');
    await chmod(path.join(dir, 'files', 'app.conf'), 0o600);
    const runner = new FakeRunner();
    await configure(
      runner,
      {
        additionalFiles: [
          { local: 'files/run.sh', final: '/usr/local/bin/run' },
          { local: './files/app.conf', final: '/etc/app/app.conf' },
        ],
      },
      { templateDir: dir },
    );
    expect(runner.writes().slice(3)).toEqual([
      { path: '/usr/local/bin/run', mode: '0755', input: '#!/bin/sh\necho hi\n' },
      { path: '/etc/app/app.conf', mode: '0644', input: 'key=value\n' },
    ]);
  });

  it.each([
    {
      what: 'a relative final path',
      file: { local: 'a', final: 'etc/a' },
      message: /additionalFiles\[0\]\.final must be an absolute path in the image: "etc\/a"/,
    },
    { what: 'a final path with ..', file: { local: 'a', final: '/etc/../root/a' }, message: /additionalFiles\[0\]\.final must not contain "\.\." segments/ },
    { what: 'a final path with NUL', file: { local: 'a', final: '/etc/a\0b' }, message: /additionalFiles\[0\]\.final contains a NUL character/ },
    { what: 'a final directory', file: { local: 'a', final: '/etc/' }, message: /additionalFiles\[0\]\.final must name a file/ },
    {
      what: 'a missing local file',
      file: { local: 'files/missing.conf', final: '/etc/m' },
      message: /additionalFiles\[0\]\.local: files\/missing\.conf does not exist/,
    },
    {
      what: 'a local path outside the template directory',
      file: { local: '../a', final: '/etc/a' },
      message: /additionalFiles\[0\]\.local must be a file inside the template's directory/,
    },
    { what: 'a local directory', file: { local: 'sub', final: '/etc/a' }, message: /additionalFiles\[0\]\.local: sub is not a regular file/ },
  ])('refuses $what before touching the image', async ({ file, message }) => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'a'), 'a\n');
    await mkdir(path.join(dir, 'sub'));
    const runner = new FakeRunner();
    const err = await configure(runner, { hostname: 'h', additionalFiles: [file] }, { templateDir: dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(message);
    expect(runner.calls).toEqual([]);
  });
});

describe('networking', () => {
  it.each([
    {
      what: 'systemd-networkd in /lib',
      paths: ['/lib/systemd/system/systemd-networkd.service'],
      file: '/etc/systemd/network/80-g3-dhcp.network',
      body: NETWORKD_DHCP,
      enable: true,
    },
    {
      what: 'systemd-networkd in /usr/lib',
      paths: ['/usr/lib/systemd/system/systemd-networkd.service', '/etc/network'],
      file: '/etc/systemd/network/80-g3-dhcp.network',
      body: NETWORKD_DHCP,
      enable: true,
    },
    { what: 'ifupdown', paths: ['/etc/network'], file: '/etc/network/interfaces.d/g3-dhcp', body: IFUPDOWN_DHCP, enable: false },
  ])('configures DHCP with $what', async ({ paths, file, body, enable }) => {
    const runner = new FakeRunner({ paths });
    await configure(runner, { hostname: 'h' });
    expect(runner.writes().slice(3)).toEqual([{ path: file, mode: '0644', input: body }]);
    expect(runner.commands().some((c) => c.join(' ') === 'systemctl enable systemd-networkd')).toBe(enable);
  });

  it('writes the expected unit and stanza', () => {
    expect(NETWORKD_DHCP).toBe('[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\n');
    expect(IFUPDOWN_DHCP).toBe('auto eth0\niface eth0 inet dhcp\n');
  });

  it('says so when the image has no network manager', async () => {
    const runner = new FakeRunner();
    const events = await configure(runner, { hostname: 'h' });
    expect(runner.writes()).toHaveLength(3);
    expect(runner.commands()).toContainEqual(['test', '-d', '/etc/network']);
    expect(events).toContainEqual({ type: 'info', message: expect.stringContaining('no network manager is installed') });
  });
});

describe("systemConfig.network (OS Image Composer's declarative form)", () => {
  const NET = {
    backend: 'systemd-networkd',
    interfaces: [
      { name: 'enp1s0', dhcp4: true },
      {
        name: 'enp2s0',
        addresses: ['10.0.0.100/24', 'fd00::5/64'],
        routes: [
          { to: 'default', via: '10.0.0.1' },
          { to: '192.168.9.0/24', via: '10.0.0.2' },
        ],
        nameservers: ['10.0.0.1'],
      },
    ],
  };

  it('writes one systemd-networkd file per interface and enables systemd-networkd, without the catch-all DHCP file', async () => {
    const runner = new FakeRunner({ paths: ['/usr/lib/systemd/system/systemd-networkd.service'] });
    await configure(runner, { hostname: 'h', network: NET });
    const writes = runner.writes().slice(3);
    expect(writes.map((w) => w.path)).toEqual(['/etc/systemd/network/10-g3-enp1s0.network', '/etc/systemd/network/10-g3-enp2s0.network']);
    expect(writes[0]?.input).toBe('[Match]\nName=enp1s0\n\n[Network]\nDHCP=ipv4\n');
    expect(writes[1]?.input).toBe(
      [
        '[Match]',
        'Name=enp2s0',
        '',
        '[Network]',
        'DHCP=no',
        'Address=10.0.0.100/24',
        'Address=fd00::5/64',
        'DNS=10.0.0.1',
        '',
        '[Route]',
        'Gateway=10.0.0.1',
        '',
        '[Route]',
        'Destination=192.168.9.0/24',
        'Gateway=10.0.0.2',
        '',
      ].join('\n'),
    );
    expect(runner.commands()).toContainEqual(['systemctl', 'enable', 'systemd-networkd']);
    expect(networkdFiles({ backend: 'systemd-networkd' })).toEqual([{ file: '/etc/systemd/network/80-g3-dhcp.network', body: NETWORKD_DHCP }]);
  });

  it('writes a netplan file readable by root only, and does not enable systemd-networkd itself', async () => {
    const runner = new FakeRunner({ paths: ['/usr/sbin/netplan', '/usr/lib/systemd/system/systemd-networkd.service'] });
    await configure(runner, { hostname: 'h', network: { ...NET, backend: 'netplan' } });
    const [w] = runner.writes().slice(3);
    expect(w).toMatchObject({ path: NETPLAN_FILE, mode: '0600' });
    expect(parseYamlText(String(w?.input))).toEqual({
      network: {
        version: 2,
        ethernets: {
          enp1s0: { dhcp4: true },
          enp2s0: {
            addresses: ['10.0.0.100/24', 'fd00::5/64'],
            routes: [
              { to: 'default', via: '10.0.0.1' },
              { to: '192.168.9.0/24', via: '10.0.0.2' },
            ],
            nameservers: { addresses: ['10.0.0.1'] },
          },
        },
      },
    });
    expect(runner.commands()).not.toContainEqual(['systemctl', 'enable', 'systemd-networkd']);
    expect(parseYamlText(netplanYaml({ backend: 'netplan' }))).toEqual({
      network: { version: 2, ethernets: { g3wired: { match: { name: 'en*' }, dhcp4: true } } },
    });
  });

  it.each([
    ['netplan', [] as string[], /backend is netplan, but the image has no netplan/],
    ['systemd-networkd', ['/usr/sbin/netplan'], /backend is systemd-networkd, but the image has no systemd-networkd/],
  ])('refuses backend %s that the image lacks, before writing a network file', async (backend, paths, message) => {
    const runner = new FakeRunner({ paths });
    const err = await configure(runner, { hostname: 'h', network: { ...NET, backend } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(message);
    expect(runner.writes().filter((w) => w.path.includes('network') || w.path.includes('netplan'))).toEqual([]);
  });

  it.each([
    ['backend: wicked', /systemConfig\.network\.backend "wicked" is not supported \(supported: systemd-networkd, netplan\)/],
    ['interfaces: [{name: enp1s0}]', /systemConfig\.network\.backend is required/],
    ['backend: netplan, interfaces: [{name: "a very long name"}]', /interfaces\[0\]\.name "a very long name" is not an interface name/],
    ['backend: netplan, interfaces: [{name: e0}, {name: e0}]', /interfaces\[1\]\.name repeats interface "e0"/],
    ['backend: netplan, interfaces: [{name: e0, addresses: [10.0.0.1]}]', /addresses\[0\] "10\.0\.0\.1" is not an address with a prefix length/],
    ['backend: netplan, interfaces: [{name: e0, addresses: [10.0.0.1/33]}]', /"10\.0\.0\.1\/33" is not an address with a prefix length/],
    ['backend: netplan, interfaces: [{name: e0, routes: [{to: default, via: gateway}]}]', /routes\[0\]\.via "gateway" is not an IP address/],
    ['backend: netplan, interfaces: [{name: e0, routes: [{to: somewhere, via: 10.0.0.1}]}]', /routes\[0\]\.to "somewhere" is neither default nor/],
    ['backend: netplan, interfaces: [{name: e0, nameservers: ["8.8.8.8; reboot"]}]', /nameservers\[0\] ".*" is not an IP address/],
  ])('refuses network {%s}', (yaml, problem) => {
    const t = parseTemplate(`target: {os: debian, dist: debian13, arch: x86_64, imageType: raw}\nsystemConfig:\n  network: {${yaml}}\n`, 'n.yml').template;
    expect(validateTemplate(t, 'n.yml').errors.join('\n')).toMatch(problem);
  });
});

describe('configurations', () => {
  it('runs each command with /bin/sh in the image and forwards its output as prefixed info events', async () => {
    const runner = new FakeRunner({ script: (cmd) => (cmd[0] === '/bin/sh' ? { exitCode: 0, stdout: '', stderr: '', lines: [`ran ${cmd[2]}`] } : undefined) });
    const events = await configure(runner, { hostname: 'h', configurations: [{ cmd: 'echo one' }, { cmd: 'echo "two" && ls' }] });
    expect(runner.commands().filter((c) => c[0] === '/bin/sh' && c[2] !== WRITE)).toEqual([
      ['/bin/sh', '-c', 'echo one'],
      ['/bin/sh', '-c', 'echo "two" && ls'],
    ]);
    expect(events.filter((e) => e.message.startsWith('[configurations'))).toEqual([
      { type: 'info', message: '[configurations[0]] ran echo one' },
      { type: 'info', message: '[configurations[1]] ran echo "two" && ls' },
    ]);
  });

  it('stops at the first failing command with its exit code and its last 20 output lines', async () => {
    const lines = Array.from({ length: 25 }, (_, i) => `line ${i + 1}`);
    const runner = new FakeRunner({ script: (cmd) => (cmd[2] === 'make-it-fail' ? { exitCode: 7, stdout: '', stderr: '', lines } : undefined) });
    const err = await configure(runner, { hostname: 'h', configurations: [{ cmd: 'true' }, { cmd: 'make-it-fail' }, { cmd: 'never' }] }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StepError);
    expect((err as StepError).message).toBe('configurations[1] failed with exit code 7: make-it-fail');
    expect((err as StepError).details.exitCode).toBe(7);
    expect((err as StepError).details.stderr).toBe(lines.slice(5).join('\n'));
    expect(runner.commands().some((c) => c[2] === 'never')).toBe(false);
    // The failure still unmounts what was mounted for the commands, after the failing one ran.
    const tail = summary(runner).slice(-4);
    expect(tail).toEqual(['sh make-it-fail', `host: umount -R ${ROOT}/dev`, `host: umount -R ${ROOT}/sys`, `host: umount -R ${ROOT}/proc`]);
  });

  it('keeps the returned output when the runner does not stream lines', async () => {
    const runner = new FakeRunner({ script: (cmd) => (cmd[2] === 'bad' ? { exitCode: 1, stdout: 'out line', stderr: 'bad: not found' } : undefined) });
    const err = await configure(runner, { hostname: 'h', configurations: [{ cmd: 'bad' }] }).catch((e: unknown) => e);
    expect((err as StepError).details.stderr).toBe('out line\nbad: not found');
  });
});
