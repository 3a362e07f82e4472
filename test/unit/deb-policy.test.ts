import { describe, expect, it } from 'vitest';
import { architectureProblem, filenameProblem, packageNameProblem, recordProblem, versionProblem } from '../../src/deb/policy.js';

describe('Debian policy for what a signed index may name', () => {
  it.each(['hello', 'libc6', 'g++', 'libstdc++6', 'python3.13', 'x11-common', '0ad'])('accepts the package name %s', (name) => {
    expect(packageNameProblem(name)).toBeUndefined();
  });
  it.each(['a', 'Hello', '-x', '.x', 'x;reboot', 'x$(id)', 'x y', 'x_y', 'x/y', `x${'y'.repeat(200)}`, 'x\u001b'])('refuses the package name %j', (name) => {
    expect(packageNameProblem(name)).toBeDefined();
  });

  it.each(['1.0-1', '2:1.2.3+dfsg-4~bpo12+1', '1.0', '0.5.12-12'])('accepts the version %s', (v) => expect(versionProblem(v)).toBeUndefined());
  it.each(['x.1', '1.0;id', '1.0 1', '1.0-a_b', '1.0$', ''])('refuses the version %j', (v) => expect(versionProblem(v)).toBeDefined());

  it.each(['amd64', 'all', 'arm64', 'kfreebsd-amd64'])('accepts the architecture %s', (a) => expect(architectureProblem(a)).toBeUndefined());
  it.each(['AMD64', 'amd64;x', '', '-x', 'a b'])('refuses the architecture %j', (a) => expect(architectureProblem(a)).toBeDefined());

  it.each([
    'pool/main/h/hello/hello_2.10-3_amd64.deb',
    'pool/main/b/bash/bash_5.2.15-2+b2_amd64.deb',
    'pool/non-free/F/Foo/foo_1%3a2.0~rc1_all.deb',
    'hello_1.0_all.deb',
  ])('accepts the Filename %s', (f) => expect(filenameProblem(f)).toBeUndefined());
  it.each([
    ['a parent segment', '../../x.deb', /"\.\." path segment/],
    ['a parent segment in the middle', 'pool/../../etc/x.deb', /"\.\." path segment/],
    ['an absolute path', '/etc/passwd.deb', /absolute path/],
    ['a dot segment', 'pool/./x.deb', /"\." path segment/],
    ['an empty segment', 'pool//x.deb', /empty path segment/],
    ['a trailing slash', 'pool/x.deb/', /empty path segment/],
    ['a backslash', 'pool\\..\\x.deb', /characters outside/],
    ['a space', 'pool/x y.deb', /characters outside/],
    ['a shell metacharacter', 'pool/x;reboot.deb', /characters outside/],
    ['a control character', 'pool/x\u001b.deb', /control character U\+001B/],
    ['a hidden file', 'pool/.g3-stamps.deb', /hidden file/],
    ['one of our graphs', 'pool/main/latest.dot', /does not name a \.deb/],
    ['the chroot graph', 'chrootpkgs.dot', /does not name a \.deb/],
    ['a bare .deb', 'pool/.deb', /hidden file/],
    ['a long name', `pool/${'x'.repeat(300)}.deb`, /longer than 200 bytes/],
  ])('refuses a Filename with %s', (_what, f, problem) => {
    expect(filenameProblem(f)).toMatch(problem);
  });

  it('names the field and the value, escaped, in the first problem of a record', () => {
    const ok = { name: 'hello', version: '1.0-1', architecture: 'amd64', filename: 'pool/main/h/hello/hello_1.0-1_amd64.deb' };
    expect(recordProblem(ok)).toBeUndefined();
    expect(recordProblem({ ...ok, filename: '../../x\u202e.deb' })).toBe('Filename "../../x\\u202e.deb" has the control character U+202E');
    expect(recordProblem({ ...ok, name: 'x;y', filename: '/abs.deb' })).toMatch(/^Package "x;y" /);
  });
});
