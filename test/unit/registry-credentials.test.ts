import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { credentialsFromEnv, redact } from '../../src/registry/credentials.js';

describe('credentialsFromEnv', () => {
  it.each([
    ['nothing set', {}, undefined],
    ['REGISTRY_* only', { REGISTRY_USERNAME: 'u', REGISTRY_PASSWORD: 'p' }, { username: 'u', password: 'p', from: 'REGISTRY_*' }],
    ['DOCKERHUB_* only', { DOCKERHUB_USERNAME: 'h', DOCKERHUB_PASSWORD: 'q' }, { username: 'h', password: 'q', from: 'DOCKERHUB_*' }],
    [
      'both pairs (REGISTRY_* wins)',
      { REGISTRY_USERNAME: 'u', REGISTRY_PASSWORD: 'p', DOCKERHUB_USERNAME: 'h', DOCKERHUB_PASSWORD: 'q' },
      { username: 'u', password: 'p', from: 'REGISTRY_*' },
    ],
    ['empty values (unset CI secrets)', { REGISTRY_USERNAME: '', REGISTRY_PASSWORD: '' }, undefined],
    [
      'empty REGISTRY_* and a DOCKERHUB_* pair',
      { REGISTRY_USERNAME: '', REGISTRY_PASSWORD: '', DOCKERHUB_USERNAME: 'h', DOCKERHUB_PASSWORD: 'q' },
      { username: 'h', password: 'q', from: 'DOCKERHUB_*' },
    ],
    [
      'a password with spaces and symbols',
      { REGISTRY_USERNAME: 'u', REGISTRY_PASSWORD: ' p :"$\\ ' },
      { username: 'u', password: ' p :"$\\ ', from: 'REGISTRY_*' },
    ],
  ])('reads %s', (_what, env, expected) => {
    expect(credentialsFromEnv(env)).toEqual(expected);
  });

  it.each([
    [{ REGISTRY_USERNAME: 'u' }, 'REGISTRY_USERNAME is set but REGISTRY_PASSWORD is not'],
    [{ REGISTRY_PASSWORD: 'p' }, 'REGISTRY_PASSWORD is set but REGISTRY_USERNAME is not'],
    [{ REGISTRY_USERNAME: 'u', REGISTRY_PASSWORD: '' }, 'REGISTRY_USERNAME is set but REGISTRY_PASSWORD is not'],
    [{ DOCKERHUB_USERNAME: 'h' }, 'DOCKERHUB_USERNAME is set but DOCKERHUB_PASSWORD is not'],
    [{ DOCKERHUB_PASSWORD: 'q' }, 'DOCKERHUB_PASSWORD is set but DOCKERHUB_USERNAME is not'],
    // A half-set first pair is an error even when the second pair is complete: the user meant the first.
    [{ REGISTRY_USERNAME: 'u', DOCKERHUB_USERNAME: 'h', DOCKERHUB_PASSWORD: 'q' }, 'REGISTRY_USERNAME is set but REGISTRY_PASSWORD is not'],
  ])('refuses half a pair %j, naming the missing variable', (env, message) => {
    let err: unknown;
    try {
      credentialsFromEnv(env);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toBe(message);
    expect((err as UserError).hint).toMatch(/^Set both /);
  });

  it('never puts a value in its error', () => {
    expect(() => credentialsFromEnv({ REGISTRY_PASSWORD: 'hunter2-secret' })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('hunter2') }),
    );
  });
});

describe('redact', () => {
  const creds = { username: 'alice', password: 's3cr3t/pw+=' };
  const basic = Buffer.from('alice:s3cr3t/pw+=').toString('base64');

  it.each([
    ['the password', 'login with s3cr3t/pw+= failed', 'login with *** failed'],
    ['the password twice', 's3cr3t/pw+=s3cr3t/pw+=', '******'],
    ['base64 of user:password (Basic header, docker config)', `Authorization: Basic ${basic}`, 'Authorization: Basic ***'],
    ['base64 of the password', `x ${Buffer.from('s3cr3t/pw+=').toString('base64')} y`, 'x *** y'],
    ['the URL-encoded password', 'GET /token?pw=s3cr3t%2Fpw%2B%3D', 'GET /token?pw=***'],
    ['nothing secret', 'push of a:1 failed: denied', 'push of a:1 failed: denied'],
  ])('replaces %s with ***', (_what, text, expected) => {
    expect(redact(text, creds)).toBe(expected);
  });

  it('replaces a JSON-escaped password', () => {
    const quoted = { username: 'u', password: 'a"b\\c' };
    expect(redact(JSON.stringify({ password: quoted.password }), quoted)).toBe('{"password":"***"}');
  });

  it('leaves the text alone without credentials', () => {
    expect(redact('s3cr3t', undefined)).toBe('s3cr3t');
  });
});
