// Groups, users, passwords and sudo rights in the image. Passwords travel only
// on chpasswd's stdin: never in an argument (visible in `ps` and in verbose
// command traces) and never in an event or error message.
import { derivedSalt, shaCrypt } from './shacrypt.js';
import { StepError, UserError } from '../../errors.js';
import type { UserTemplate } from '../../template/types.js';
import { USER_PATH } from '../../template/validate.js';
import { type Emit, existsInImage, inImage, writeInImage } from './io.js';
import type { Runner } from '../../docker/runner.js';

/** What to do about one user's password, decided before the image is touched. */
export type PasswordPlan = { kind: 'none' } | { kind: 'hashed'; secret: string; how?: string } | { kind: 'clear'; secret: string; method: string };

export interface UserPlan {
  name: string;
  groups: string[];
  password: PasswordPlan;
  sudo: boolean;
  /** Login shell; new users get /bin/bash when none is given. */
  shell?: string;
  home?: string;
  /** Days a password stays valid (chage -M). */
  passwordMaxAge?: number;
  /** Run by the user's login shell on a terminal (~/.profile). */
  startupScript?: string;
}

/** The block the user's ~/.profile gets for startupScript; the path is checked (USER_PATH) and quoted. */
export function startupBlock(script: string): string {
  if (!USER_PATH.test(script)) throw new UserError(`startupScript ${JSON.stringify(script)} is not a plain absolute path`);
  return [
    '',
    '# g3-composer: systemConfig.users[].startupScript, run at login on a terminal',
    `if [ -t 0 ] && [ -x '${script}' ]; then '${script}'; fi`,
    '',
  ].join('\n');
}

// Same rule as template validation; repeated here because the name becomes part
// of a file path (/etc/sudoers.d/90-g3-<name>).
const USER_NAME = /^[a-z_][a-z0-9_-]*$/;

/** hash_algo values chpasswd can produce in a Debian image, and the method names it takes. */
export const HASH_METHODS: Readonly<Record<string, string>> = { sha512: 'SHA512', sha256: 'SHA256', yescrypt: 'YESCRYPT' };

const B64 = '[./0-9A-Za-z]';
// Recognised crypt(3) formats: a prefix says "this is a hash", the shape says it is a whole one.
const HASHED: Array<{ prefix: RegExp; shape: RegExp; what: string }> = [
  { prefix: /^\$6\$/, shape: new RegExp(`^\\$6\\$(rounds=\\d+\\$)?[^$:\\s]{0,16}\\$${B64}{86}$`), what: 'SHA-512' },
  { prefix: /^\$5\$/, shape: new RegExp(`^\\$5\\$(rounds=\\d+\\$)?[^$:\\s]{0,16}\\$${B64}{43}$`), what: 'SHA-256' },
  { prefix: /^\$y\$/, shape: new RegExp(`^\\$y\\$${B64}+\\$${B64}+\\$${B64}{43}$`), what: 'yescrypt' },
  { prefix: /^\$2[aby]\$/, shape: new RegExp(`^\\$2[aby]\\$\\d\\d\\$${B64}{53}$`), what: 'bcrypt' },
];

/** Check every user's settings and decide how each password is set; throws UserError before anything is changed. */
/**
 * Plan each user. With a `saltSeed` (from the lock and template), SHA-256 and
 * SHA-512 passwords are hashed here with a salt derived from it, so two builds
 * of one image write the same /etc/shadow; yescrypt is left to chpasswd (random salt).
 */
export function planUsers(users: UserTemplate[], saltSeed?: string): UserPlan[] {
  return users.map((u, i) => {
    const where = `systemConfig.users[${i}]`;
    if (!u.name || !USER_NAME.test(u.name))
      throw new UserError(`${where}.name: "${u.name ?? ''}" is not a valid user name`, `Use a name matching ${USER_NAME.source}.`);
    let password = planPassword(u, where);
    const algo = u.hash_algo ?? 'sha512';
    if (password.kind === 'clear' && saltSeed && (algo === 'sha512' || algo === 'sha256')) {
      password = {
        kind: 'hashed',
        secret: shaCrypt(algo, password.secret, derivedSalt(saltSeed, u.name)),
        how: `hashed with ${password.method} and a salt derived from the lock`,
      };
    }
    for (const key of ['shell', 'home', 'startupScript'] as const) {
      const v = u[key];
      if (v !== undefined && !USER_PATH.test(v)) throw new UserError(`${where}.${key}: ${JSON.stringify(v)} is not a plain absolute path`);
    }
    return {
      name: u.name,
      groups: u.groups ?? [],
      password,
      sudo: u.sudo === true,
      ...(u.shell !== undefined ? { shell: u.shell } : {}),
      ...(u.home !== undefined ? { home: u.home } : {}),
      ...(u.passwordMaxAge !== undefined ? { passwordMaxAge: u.passwordMaxAge } : {}),
      ...(u.startupScript !== undefined ? { startupScript: u.startupScript } : {}),
    };
  });
}

function planPassword(u: UserTemplate, where: string): PasswordPlan {
  const secret = u.password ?? '';
  if (secret === '') return { kind: 'none' };
  const who = `${where}.password (user ${u.name})`;
  if (secret.startsWith('$1$')) {
    throw new UserError(
      `${who} is an MD5-crypt hash ($1$), which is too weak to accept`,
      'Give the password in clear text (it is hashed in the image) or as a $6$ or $y$ hash.',
    );
  }
  const known = HASHED.find((h) => h.prefix.test(secret));
  if (known) {
    // A truncated hash used as a clear-text password would lock the user out without a word.
    if (!known.shape.test(secret))
      throw new UserError(
        `${who} starts like a ${known.what} hash but is not a complete one`,
        'Paste the whole hash as printed by mkpasswd or openssl passwd.',
      );
    return { kind: 'hashed', secret };
  }
  // chpasswd reads one "name:password" per line; a line break would set a second account.
  if (/[\n\r\0]/.test(secret)) throw new UserError(`${who} contains a line break or NUL character`, 'Passwords must be a single line.');
  const algo = u.hash_algo ?? 'sha512';
  const method = HASH_METHODS[algo];
  if (!method) {
    const accepted = Object.keys(HASH_METHODS).join(', ');
    throw new UserError(
      `${where}.hash_algo (user ${u.name}): "${algo}" cannot be used to hash a password in a Debian image`,
      `Use one of ${accepted}, or give the password already hashed.`,
    );
  }
  return { kind: 'clear', secret, method };
}

/** Create the groups and users in the image, set or lock their passwords and grant sudo. */
export async function applyUsers(runner: Runner, rootfs: string, plans: UserPlan[], emit: Emit): Promise<void> {
  const sudoers = plans.filter((p) => p.sudo);
  if (sudoers.length > 0 && !(await existsInImage(runner, rootfs, '/etc/sudoers'))) {
    throw new UserError(`user ${sudoers[0]!.name} has sudo: true but the image has no sudo; add sudo to systemConfig.packages`);
  }
  const wanted = [...new Set(plans.flatMap((p) => p.groups))];
  for (const group of wanted) {
    if (await known(runner, rootfs, 'group', group)) continue;
    await runner.run(inImage(rootfs, ['groupadd', '--', group]));
    emit({ type: 'info', message: `created group ${group}` });
  }
  for (const p of plans) {
    const groupArgs = p.groups.length > 0 ? ['-G', p.groups.join(',')] : [];
    if (p.shell !== undefined && !(await existsInImage(runner, rootfs, p.shell)))
      throw new UserError(`user ${p.name}: the shell ${p.shell} is not in the image`, 'Add the package that provides it to systemConfig.packages.');
    if (await known(runner, rootfs, 'passwd', p.name)) {
      const change = [...(groupArgs.length > 0 ? ['-a', ...groupArgs] : []), ...(p.shell ? ['-s', p.shell] : []), ...(p.home ? ['-d', p.home, '-m'] : [])];
      if (change.length > 0) await runner.run(inImage(rootfs, ['usermod', ...change, '--', p.name]));
      emit({ type: 'debug', message: `user ${p.name} already exists in the image; not created` });
    } else {
      await runner.run(inImage(rootfs, ['useradd', '-m', '-s', p.shell ?? '/bin/bash', ...(p.home ? ['-d', p.home] : []), ...groupArgs, '--', p.name]));
      emit({ type: 'info', message: `created user ${p.name}${p.groups.length > 0 ? ` (groups ${p.groups.join(', ')})` : ''}` });
    }
    await setPassword(runner, rootfs, p, emit);
    if (p.passwordMaxAge !== undefined) {
      await runner.run(inImage(rootfs, ['chage', '-M', String(p.passwordMaxAge), '--', p.name]));
      emit({ type: 'info', message: `user ${p.name}: a password is valid for ${p.passwordMaxAge} days` });
    }
    if (p.startupScript !== undefined) await addStartupScript(runner, rootfs, p.name, p.startupScript, emit);
  }
  for (const p of sudoers) await grantSudo(runner, rootfs, p.name, emit);
}

/** Whether `key` exists in the image's `database` (getent exits 2 for "not found"). */
async function known(runner: Runner, rootfs: string, database: 'group' | 'passwd', key: string): Promise<boolean> {
  const argv = inImage(rootfs, ['getent', database, key]);
  const r = await runner.run(argv, { reject: false });
  if (r.exitCode === 0) return true;
  if (r.exitCode === 2) return false;
  throw new StepError(`getent ${database} ${key} in ${rootfs} failed with exit code ${r.exitCode}`, { command: argv, exitCode: r.exitCode, stderr: r.stderr });
}

async function setPassword(runner: Runner, rootfs: string, p: UserPlan, emit: Emit): Promise<void> {
  const pw = p.password;
  if (pw.kind === 'none') {
    await runner.run(inImage(rootfs, ['usermod', '-L', '--', p.name]));
    emit({ type: 'info', message: `user ${p.name} has no password; the account is locked for password login` });
    return;
  }
  const args = pw.kind === 'hashed' ? ['-e'] : ['-c', pw.method];
  const argv = inImage(rootfs, ['chpasswd', ...args]);
  const r = await runner.run(argv, { input: `${p.name}:${pw.secret}\n`, reject: false });
  // Our own error: the generic one would be fine today, but this one is certain to carry no input.
  if (r.exitCode !== 0)
    throw new StepError(`setting the password of user ${p.name} failed (chpasswd exit code ${r.exitCode})`, {
      command: argv,
      exitCode: r.exitCode,
      stderr: r.stderr,
    });
  emit({ type: 'info', message: `set the password of user ${p.name} (${pw.kind === 'hashed' ? (pw.how ?? 'given hashed') : `hashed with ${pw.method}`})` });
}

/** Append the startup block to the user's ~/.profile (their home from the image's passwd), owned by the user. */
async function addStartupScript(runner: Runner, rootfs: string, name: string, script: string, emit: Emit): Promise<void> {
  const entry = (await runner.run(inImage(rootfs, ['getent', 'passwd', '--', name]))).stdout.trim().split(':');
  const home = entry[5] ?? '';
  if (!USER_PATH.test(home)) throw new StepError(`user ${name} has the home ${JSON.stringify(home)} in the image's passwd, which is not a plain path`);
  const profile = `${home}/.profile`;
  // In the image's root, as the user's own file: a link planted in the home cannot redirect the write.
  await runner.run(inImage(rootfs, ['sh', '-c', 'test ! -L "$1" && cat >> "$1" && chown -- "$2": "$1"', 'sh', profile, name]), { input: startupBlock(script) });
  emit({ type: 'info', message: `user ${name}: ${script} runs at login (${profile})` });
}

async function grantSudo(runner: Runner, rootfs: string, name: string, emit: Emit): Promise<void> {
  const file = `/etc/sudoers.d/90-g3-${name}`;
  await writeInImage(runner, rootfs, file, `${name} ALL=(ALL:ALL) ALL\n`, '0440');
  const argv = inImage(rootfs, ['visudo', '-cf', file]);
  const r = await runner.run(argv, { reject: false });
  if (r.exitCode !== 0) {
    throw new StepError(`visudo rejected ${file} for user ${name} (exit code ${r.exitCode})`, {
      command: argv,
      exitCode: r.exitCode,
      stderr: r.stderr || r.stdout,
    });
  }
  emit({ type: 'info', message: `user ${name} may use sudo (${file})` });
}
