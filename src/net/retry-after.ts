// Retry-After is either delay-seconds or an HTTP date (RFC 9110 §10.2.3).

/** Milliseconds to wait, or undefined when the header is absent or unusable. */
export function parseRetryAfter(value: string | string[] | undefined, nowMs: number): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  // Only an HTTP date (it names a weekday or month); Date.parse accepts far more.
  if (!/[A-Za-z]{3}/.test(v) || !/\d{4}/.test(v)) return undefined;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}
