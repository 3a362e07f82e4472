import type { LookupAddress } from 'node:dns';
import { describe, expect, it } from 'vitest';
import { refusedAddressReason } from '../../src/net/address.js';
import { guardedLookup, RefusedAddressError } from '../../src/net/connect.js';

describe('refusedAddressReason', () => {
  it.each([
    '169.254.169.254',
    '169.254.0.1',
    '[169.254.169.254]',
    'fe80::1',
    '[fe80::1%eth0]',
    'febf:ffff::1',
    '::ffff:169.254.169.254',
    '::ffff:a9fe:a9fe',
    '[::FFFF:A9FE:A9FE]',
    '::169.254.169.254',
    '64:ff9b::169.254.169.254',
    'fd00:ec2::254',
  ])('refuses %s', (address) => {
    expect(refusedAddressReason(address)).toBeDefined();
  });

  it.each([
    '127.0.0.1',
    '10.0.0.1',
    '169.253.255.255',
    '169.255.0.1',
    '::1',
    '::',
    'fec0::1',
    '::ffff:127.0.0.1',
    '2001:db8::a9fe:a9fe',
    'mirror.example',
    '::ffff:zz',
  ])('lets %s through', (address) => {
    expect(refusedAddressReason(address)).toBeUndefined();
  });
});

describe('guardedLookup', () => {
  const resolver =
    (addresses: LookupAddress[]) =>
    (_h: string, _o: unknown, cb: (err: NodeJS.ErrnoException | null, a: LookupAddress[]) => void): void =>
      cb(null, addresses);
  const call = (addresses: LookupAddress[], all: boolean) =>
    new Promise<{ err: unknown; result: unknown }>((resolve) =>
      guardedLookup(resolver(addresses))('metadata.example', { all }, (err, address, family) => resolve({ err, result: all ? address : { address, family } })),
    );

  it('refuses a name when any of its addresses is link-local, naming both', async () => {
    const { err } = await call(
      [
        { address: '192.0.2.1', family: 4 },
        { address: '169.254.169.254', family: 4 },
      ],
      true,
    );
    expect(err).toBeInstanceOf(RefusedAddressError);
    expect((err as Error).message).toBe(
      'refusing to connect to metadata.example (it resolves to 169.254.169.254): a link-local address (169.254.0.0/16, where cloud metadata services live)',
    );
  });

  it('answers in the shape asked for when every address is fine', async () => {
    const addrs = [
      { address: '192.0.2.1', family: 4 },
      { address: '2001:db8::1', family: 6 },
    ];
    expect(await call(addrs, true)).toEqual({ err: null, result: addrs });
    expect(await call(addrs, false)).toEqual({ err: null, result: { address: '192.0.2.1', family: 4 } });
  });
});
