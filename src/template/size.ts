// Disk sizes and offsets as templates write them.
//
// K, M, G, T and KiB, MiB, GiB, TiB are powers of 1024 (what partitioning
// tools mean by "M"); KB, MB, GB, TB are powers of 1000 (what disk vendors
// mean). A bare number, or one ending in B, is bytes. Units are not case
// sensitive.
import { UserError } from '../errors.js';

const POWERS: Record<string, number> = { '': 0, k: 1, m: 2, g: 3, t: 4 };

/** Why `text` is not a size, or undefined when it is one. */
export function sizeProblem(text: string | number): string | undefined {
  const r = measure(text);
  return typeof r === 'string' ? r : undefined;
}

/** Bytes in a size such as `4GiB`, `512M`, `1.5GB` or `1048576`; errors name `field`. */
export function parseSize(text: string | number, field: string): number {
  const r = measure(text);
  if (typeof r === 'string') throw new UserError(`${field} ${r}`, 'Write a size such as 4GiB, 512MiB, 100MB or a number of bytes.');
  return r;
}

/** Bytes, or a problem description. */
function measure(text: string | number): number | string {
  if (typeof text === 'number') {
    return Number.isSafeInteger(text) && text >= 0 ? text : `must be a whole, non-negative number of bytes, not ${text}`;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:([kmgt])(i?)(b?)|(b?))\s*$/i.exec(text);
  if (!m) return `is not a size: ${JSON.stringify(text)} (expected e.g. 4GiB, 512M, 100MB or bytes)`;
  const [, num, prefix = '', binary, byteSuffix] = m;
  // "Ki" must be followed by B ("KiB"), or it is a typo worth pointing out.
  if (binary && !byteSuffix) return `is not a size: ${JSON.stringify(text)} (did you mean ${prefix}iB?)`;
  const decimal = prefix !== '' && !binary && byteSuffix !== '';
  const base = decimal ? 1000 : 1024;
  const bytes = Number(num) * base ** (POWERS[prefix.toLowerCase()] ?? 0);
  if (!Number.isSafeInteger(bytes)) {
    return Number.isInteger(bytes) ? `is too large: ${JSON.stringify(text)}` : `is not a whole number of bytes: ${JSON.stringify(text)}`;
  }
  return bytes;
}

/** Bytes written the short way when exact (`4GiB`, `513MiB`), else as bytes. */
export function formatSize(bytes: number): string {
  for (const [unit, power] of [['TiB', 4], ['GiB', 3], ['MiB', 2], ['KiB', 1]] as const) {
    const n = bytes / 1024 ** power;
    if (bytes !== 0 && Number.isInteger(n)) return `${n}${unit}`;
  }
  return `${bytes} bytes`;
}
