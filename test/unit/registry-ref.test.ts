import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { formatRef, isLoopback, manifestReference, parseRef, refName, registryBase } from '../../src/registry/ref.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('parseRef', () => {
  it.each([
    ['os-image', { registry: undefined, repository: 'os-image' }],
    ['team/os-image:1.0', { registry: undefined, repository: 'team/os-image', tag: '1.0' }],
    ['127.0.0.1:5000/team/os-image:1.0', { registry: '127.0.0.1:5000', repository: 'team/os-image', tag: '1.0' }],
    ['localhost/a', { registry: 'localhost', repository: 'a' }],
    ['localhost:5000/a/b/c:v_1.2-rc', { registry: 'localhost:5000', repository: 'a/b/c', tag: 'v_1.2-rc' }],
    ['registry.example.test/a__b/c.d-e', { registry: 'registry.example.test', repository: 'a__b/c.d-e' }],
    ['Host.Example.Test/a', { registry: 'Host.Example.Test', repository: 'a' }],
    ['[::1]:5000/a:1', { registry: '[::1]:5000', repository: 'a', tag: '1' }],
    [`127.0.0.1:5000/a@${D}`, { registry: '127.0.0.1:5000', repository: 'a', digest: D }],
    [`a:1@${D}`, { registry: undefined, repository: 'a', tag: '1', digest: D }],
    [`a:${'x'.repeat(128)}`, { registry: undefined, repository: 'a', tag: 'x'.repeat(128) }],
  ])('parses %s', (text, ref) => {
    expect(parseRef(text)).toEqual(ref);
  });

  it.each([
    ['', /it is empty/],
    ['   ', /it is empty/],
    ['a b', /white space/],
    ['Team', /"Team" has uppercase letters/],
    ['team/OsImage:1', /"OsImage" has uppercase letters/],
    ['a//b', /empty element/],
    ['a/', /empty element/],
    ['-a', /element "-a" may only hold/],
    ['a_-b', /element "a_-b" may only hold/],
    ['a:', /the tag "" may only hold/],
    ['a:.x', /the tag ".x" may only hold/],
    ['a:-x', /the tag "-x" may only hold/],
    ['a:x/y', /registry port "x" is not a number/],
    ['a:x+y', /the tag "x\+y" may only hold/],
    [`a:${'x'.repeat(129)}`, /the tag is 129 characters long; at most 128/],
    [':1', /repository name is missing/],
    ['a@sha256:abc', /64 lowercase hex digits/],
    [`a@sha256:${'A'.repeat(64)}`, /64 lowercase hex digits/],
    ['a@md5:abc', /not sha256:<hex> or sha512:<hex>/],
    ['host:99999/a', /port "99999" is not a number from 1 to 65535/],
    ['host:0/a', /port "0"/],
    ['-host.test/a', /host "-host.test" is not a host name/],
    [`h.test/${'a'.repeat(250)}`, /at most 255/],
  ])('refuses %j with a UserError that says why', (text, why) => {
    let err: unknown;
    try {
      parseRef(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toContain(`invalid image reference ${JSON.stringify(text)}`);
    expect((err as UserError).message).toMatch(why);
    expect((err as UserError).hint).toMatch(/host\[:port\]\/path\[:tag\]/);
  });

  it('names where the reference came from', () => {
    expect(() => parseRef('A', 'template.yml:4 target.push[0]')).toThrow(/^template\.yml:4 target\.push\[0\]: invalid image reference "A"/);
  });
});

describe('formatRef, refName and manifestReference', () => {
  it.each(['a', 'team/a:1', '127.0.0.1:5000/team/a:1', `localhost:5000/a@${D}`, `a:1@${D}`, '[::1]:5000/a:1'])('formats %s back to the same text', (text) => {
    expect(formatRef(parseRef(text))).toBe(text);
  });

  it.each([
    ['127.0.0.1:5000/team/a:1', '127.0.0.1:5000/team/a', '1'],
    ['team/a', 'team/a', 'latest'],
    [`h.test/a:1@${D}`, 'h.test/a', D],
  ])('names %s as %s and asks the registry for %s', (text, name, reference) => {
    const ref = parseRef(text);
    expect(refName(ref)).toBe(name);
    expect(manifestReference(ref)).toBe(reference);
  });
});

describe('registryBase', () => {
  it.each([
    ['127.0.0.1:5000', 'http://127.0.0.1:5000'],
    ['127.1.2.3', 'http://127.1.2.3'],
    ['localhost:5000', 'http://localhost:5000'],
    ['LOCALHOST', 'http://LOCALHOST'],
    ['[::1]:5000', 'http://[::1]:5000'],
    ['registry.example.test', 'https://registry.example.test'],
    ['registry.example.test:5000', 'https://registry.example.test:5000'],
    ['128.0.0.1:5000', 'https://128.0.0.1:5000'],
    ['127.0.0.1.example.test', 'https://127.0.0.1.example.test'],
  ])('speaks to %s at %s (plain HTTP only on loopback)', (registry, base) => {
    expect(registryBase(registry)).toBe(base);
    expect(isLoopback(registry)).toBe(base.startsWith('http:'));
  });
});
