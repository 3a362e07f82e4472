// The one way downloads open connections: a refused address (see address.ts)
// is never connected to, whether the URL names it, a redirect leads there or
// a host name resolves to it. The check runs on the addresses the connection
// will actually use, so a name that resolves differently later cannot slip by.
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions, type LookupOneOptions } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { buildConnector } from 'undici';
import { refusedAddressReason } from './address.js';

/** A connection the toolkit refused to open; never worth a retry. */
export class RefusedAddressError extends Error {
  override name = 'RefusedAddressError';
  readonly code = 'G3_REFUSED_ADDRESS';
  constructor(
    readonly host: string,
    readonly address: string,
    readonly reason: string,
  ) {
    super(`refusing to connect to ${host}${address !== host ? ` (it resolves to ${address})` : ''}: ${reason}`);
  }
}

/** Why connecting to the host of `url` is refused (IP literals only; names are checked when resolved), or undefined. */
export function refusedUrlReason(url: URL): string | undefined {
  return refusedAddressReason(url.hostname);
}

type Resolve = (hostname: string, options: LookupAllOptions, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

/** dns.lookup that fails with RefusedAddressError when any address of the name is refused. */
export function guardedLookup(resolve: Resolve = dnsLookup): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, { ...(options as LookupOneOptions), all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const bad = addresses.find((a) => refusedAddressReason(a.address));
      if (bad) return callback(new RefusedAddressError(hostname, bad.address, refusedAddressReason(bad.address) as string) as NodeJS.ErrnoException, '', 0);
      if ((options as LookupAllOptions).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      const [first] = addresses;
      if (!first) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
      return callback(null, first.address, first.family);
    });
  };
}

/** An undici connector that refuses IP literals and names that resolve to refused addresses. */
export function guardedConnector(): buildConnector.connector {
  const base = buildConnector({ lookup: guardedLookup() } as buildConnector.BuildOptions);
  return (opts, callback) => {
    const reason = refusedAddressReason(opts.hostname);
    if (reason) return callback(new RefusedAddressError(opts.hostname, opts.hostname, reason), null);
    return base(opts, callback);
  };
}
