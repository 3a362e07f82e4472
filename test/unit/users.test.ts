// OS Image Composer's user keys (shell, home, passwordMaxAge, startupScript):
// validated as plain absolute paths and a day count, planned as given, and the
// startup block quoted so a path can never become shell syntax.
import { describe, expect, it } from 'vitest';
import { planUsers, startupBlock } from '../../src/compose/configure/users.js';
import { UserError } from '../../src/errors.js';
import { parseTemplate } from '../../src/template/load.js';
import { validateTemplate } from '../../src/template/validate.js';

// Only the users' problems: the template is not otherwise complete.
const errors = (users: string) =>
  validateTemplate(
    parseTemplate(`target: {os: debian, dist: debian13, arch: x86_64, imageType: raw}\nsystemConfig:\n  users:\n${users}\n`, 'u.yml').template,
    'u.yml',
  ).errors.filter((e) => e.includes('users['));

describe('user keys', () => {
  it('accepts them and plans them as given', () => {
    expect(errors('    - {name: ops, shell: /bin/sh, home: /srv/ops, passwordMaxAge: 90, startupScript: /usr/local/bin/hello}')).toEqual([]);
    const [p] = planUsers([{ name: 'ops', shell: '/bin/sh', home: '/srv/ops', passwordMaxAge: 90, startupScript: '/usr/local/bin/hello' }]);
    expect(p).toMatchObject({ name: 'ops', shell: '/bin/sh', home: '/srv/ops', passwordMaxAge: 90, startupScript: '/usr/local/bin/hello' });
    expect(planUsers([{ name: 'plain' }])[0]).toEqual({ name: 'plain', groups: [], password: { kind: 'none' }, sudo: false });
  });

  it.each([
    ['shell: bash', /systemConfig\.users\[0\]\.shell "bash" is not an absolute path/],
    ['home: "/srv/../etc"', /systemConfig\.users\[0\]\.home "\/srv\/\.\.\/etc" is not an absolute path/],
    ['startupScript: "/x\'; reboot; \'"', /systemConfig\.users\[0\]\.startupScript ".*" is not an absolute path/],
    ['passwordMaxAge: -1', /systemConfig\.users\[0\]\.passwordMaxAge -1 is not a number of days/],
    ['passwordMaxAge: "90"', /u\.yml:4: systemConfig\.users\[0\]\.passwordMaxAge must be a whole number/],
  ])('refuses %s', (field, problem) => {
    const run = () => errors(`    - {name: ops, ${field}}`).join('\n');
    let message: string;
    try {
      message = run();
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(problem);
  });

  it('refuses an unsafe path when planning too, before the image is touched', () => {
    expect(() => planUsers([{ name: 'ops', startupScript: '/a b' }])).toThrow(UserError);
  });

  it('writes a startup block that runs the script only on a terminal, the path quoted', () => {
    expect(startupBlock('/root/attendedinstaller')).toBe(
      "\n# g3-composer: systemConfig.users[].startupScript, run at login on a terminal\nif [ -t 0 ] && [ -x '/root/attendedinstaller' ]; then '/root/attendedinstaller'; fi\n",
    );
    expect(() => startupBlock("/x'$(reboot)'")).toThrow(UserError);
  });
});
