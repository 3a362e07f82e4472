// Parsing `--older-than` ages and `--max-size` sizes.
import { UserError } from '../errors.js';
import { readSize } from './size.js';

const AGE_UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** An age such as 180d, 12h, 30m, 2w or 90s, in milliseconds. */
export function parseAge(text: string, option = '--older-than'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$/.exec(text);
  const hint = 'Give a number and a unit: s, m (minutes), h, d or w, e.g. 180d, 12h, 30m, 2w.';
  if (!m) {
    const bare = /^\s*\d+(?:\.\d+)?\s*$/.test(text);
    throw new UserError(`${option} ${JSON.stringify(text)} ${bare ? 'has no unit' : 'is not an age'}`, hint);
  }
  const ms = Number(m[1]) * (AGE_UNITS[m[2] as string] as number);
  if (!Number.isSafeInteger(Math.round(ms))) throw new UserError(`${option} ${JSON.stringify(text)} is too large`, hint);
  return Math.round(ms);
}

/** A size such as 20G, 500MiB, 100MB or plain bytes, read as every size is (src/units/size.ts). */
export function parseSize(text: string, option = '--max-size'): number {
  const r = readSize(text);
  if (typeof r === 'number') return r;
  const why = { 'not-a-size': 'is not a size', 'not-whole': 'is not a whole number of bytes', 'too-large': 'is too large' }[r.kind];
  throw new UserError(
    `${option} ${JSON.stringify(text)} ${why}`,
    'Give bytes, or a number with a unit: K, M, G, T or KiB, MiB, GiB, TiB (powers of 1024), KB, MB, GB, TB (powers of 1000), e.g. 500M, 20G, 1.5T.',
  );
}

/** A short age for messages: 3d 4h, 12m, 40s. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}
