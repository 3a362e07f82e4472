// Addresses a download must never reach: link-local networks, where cloud
// metadata services live (169.254.169.254 hands out credentials), in every
// spelling an address can take (IPv4-mapped, IPv4-compatible, NAT64).
import { isIPv4, isIPv6 } from 'node:net';

/** Why `address` (an IP literal, with or without brackets or a zone) is refused, or undefined when it may be reached. */
export function refusedAddressReason(address: string): string | undefined {
  const ip = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  if (isIPv4(ip)) return ipv4Reason(ip);
  if (!isIPv6(ip)) return undefined;
  const words = ipv6Words(ip);
  if (!words) return undefined;
  // fe80::/10
  if ((words[0]! & 0xffc0) === 0xfe80) return 'a link-local address (fe80::/10)';
  // The IPv6 address of the cloud metadata service (AWS IMDS), not link-local but the same service.
  if (words.join(':') === [0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x254].join(':')) return 'the cloud metadata address fd00:ec2::254';
  const v4 = embeddedIPv4(words);
  return v4 === undefined ? undefined : ipv4Reason(v4);
}

function ipv4Reason(ip: string): string | undefined {
  return ip.startsWith('169.254.') ? 'a link-local address (169.254.0.0/16, where cloud metadata services live)' : undefined;
}

/** The IPv4 address inside ::ffff:a.b.c.d, ::a.b.c.d and 64:ff9b::a.b.c.d, if any. */
function embeddedIPv4(w: number[]): string | undefined {
  const zero = (from: number, to: number) => w.slice(from, to).every((x) => x === 0);
  const mapped = zero(0, 5) && w[5] === 0xffff;
  const compatible = zero(0, 6) && (w[6] !== 0 || (w[7] ?? 0) > 1);
  const nat64 = w[0] === 0x64 && w[1] === 0xff9b && zero(2, 6);
  if (!mapped && !compatible && !nat64) return undefined;
  const hi = w[6] ?? 0;
  const lo = w[7] ?? 0;
  return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
}

/** The eight 16-bit words of a valid IPv6 literal (a trailing dotted quad included). */
function ipv6Words(ip: string): number[] | undefined {
  let text = ip.toLowerCase();
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const part = (s: string) => (s === '' ? [] : s.split(':').map((h) => Number.parseInt(h, 16)));
  const left = part(head);
  const right = tail === undefined ? [] : part(tail);
  const fill = tail === undefined ? 0 : 8 - left.length - right.length;
  const words = [...left, ...new Array<number>(Math.max(0, fill)).fill(0), ...right];
  return words.length === 8 && words.every((x) => Number.isInteger(x) && x >= 0 && x <= 0xffff) ? words : undefined;
}
