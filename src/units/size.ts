// The one reading of a size, for templates, `cache prune --max-size` and any
// other size the toolkit takes.
//
// KiB, MiB, GiB, TiB, PiB, and the bare K, M, G, T, P, are powers of 1024
// (what partitioning tools mean by "M"); KB, MB, GB, TB, PB are powers of
// 1000 (SI, as OS Image Composer reads "MB" in a template). A bare number, or
// one ending in B, is bytes. Units are not case sensitive. The result must be
// a whole number of bytes.
import { UserError } from '../errors.js';

const POWERS: Record<string, number> = { '': 0, k: 1, m: 2, g: 3, t: 4, p: 5 };

/** What to write instead, for hints. */
export const SIZE_EXAMPLES = '4GiB, 512MiB (or 512M), 100MB or a number of bytes';

/** Why a text is not a size: the kind, and the words for a message after the field's name. */
export interface SizeProblem {
  kind: 'not-a-size' | 'not-whole' | 'too-large';
  message: string;
}

/** Why `text` is not a size, in words, or undefined when it is one. */
export function sizeProblem(text: string | number): string | undefined {
  const r = readSize(text);
  return typeof r === 'number' ? undefined : r.message;
}

/** Bytes in a size such as `4GiB`, `512M`, `1.5GB` or `1048576`; errors name `field`. */
export function parseSize(text: string | number, field: string): number {
  const r = readSize(text);
  if (typeof r !== 'number') throw new UserError(`${field} ${r.message}`, `Write a size such as ${SIZE_EXAMPLES}.`);
  return r;
}

/** Bytes, or why `text` is not a size. */
export function readSize(text: string | number): number | SizeProblem {
  const problem = (kind: SizeProblem['kind'], message: string): SizeProblem => ({ kind, message });
  if (typeof text === 'number') {
    return Number.isSafeInteger(text) && text >= 0
      ? text
      : problem(Number.isInteger(text) && text >= 0 ? 'too-large' : 'not-whole', `must be a whole, non-negative number of bytes, not ${text}`);
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:([kmgtp])(i?)(b?)|(b?))\s*$/i.exec(text);
  if (!m) return problem('not-a-size', `is not a size: ${JSON.stringify(text)} (expected e.g. ${SIZE_EXAMPLES})`);
  const [, num, prefix = '', binary, byteSuffix] = m;
  // "Ki" must be followed by B ("KiB"), or it is a typo worth pointing out.
  if (binary && !byteSuffix) return problem('not-a-size', `is not a size: ${JSON.stringify(text)} (did you mean ${prefix}iB?)`);
  const decimal = prefix !== '' && !binary && byteSuffix !== '';
  const base = decimal ? 1000 : 1024;
  const bytes = Number(num) * base ** (POWERS[prefix.toLowerCase()] ?? 0);
  if (!Number.isSafeInteger(bytes)) {
    return Number.isInteger(bytes)
      ? problem('too-large', `is too large: ${JSON.stringify(text)}`)
      : problem('not-whole', `is not a whole number of bytes: ${JSON.stringify(text)}`);
  }
  return bytes;
}

/** Bytes written the short way when exact (`4GiB`, `513MiB`), else as bytes. */
export function formatSize(bytes: number): string {
  for (const [unit, power] of [
    ['TiB', 4],
    ['GiB', 3],
    ['MiB', 2],
    ['KiB', 1],
  ] as const) {
    const n = bytes / 1024 ** power;
    if (bytes !== 0 && Number.isInteger(n)) return `${n}${unit}`;
  }
  return `${bytes} bytes`;
}
