/**
 * Event time of a record, as docs/semantics.md defines it: integer milliseconds since the epoch, >= 0, taken from a
 * number of ms or an ISO-8601 string.
 *
 * `toEventTime` returns the time, or one of the negative INVALID_* codes, so the hot path allocates nothing for
 * the common case; `invalidReason` turns a code into the words used in errors.
 */
export const INVALID_MISSING = -1;
export const INVALID_NEGATIVE = -2;
export const INVALID_UNPARSABLE = -3;

// Date, optional time with optional fraction, optional zone. Date.parse alone would accept "1 Jan 2026" or "5".
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

export function toEventTime(v: unknown): number {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return INVALID_UNPARSABLE;
    if (v < 0) return INVALID_NEGATIVE;
    // Fractions of a millisecond (performance.now()-style values) are cut, never rounded up into the next window.
    // A whole number is returned as itself: no new boxed double per record.
    const f = Math.floor(v);
    return f === v ? v : f;
  }
  if (v === undefined || v === null || v === '') return INVALID_MISSING;
  if (typeof v === 'string') return parseTimeString(v);
  if (v instanceof Date) return toEventTime(v.getTime());
  if (typeof v === 'bigint') return v < 0n ? INVALID_NEGATIVE : toEventTime(Number(v));
  return INVALID_UNPARSABLE;
}

function parseTimeString(s: string): number {
  const c = s.charCodeAt(0);
  // A string of digits is a number of milliseconds that travelled as text (some producers quote big numbers).
  if (c >= 48 && c <= 57 && /^\d+$/.test(s)) return Number(s);
  if (c === 45 && /^-\d+$/.test(s)) return INVALID_NEGATIVE;
  const m = ISO.exec(s.trim());
  if (!m) return INVALID_UNPARSABLE;
  const [, y, mo, d, h, mi, sec, frac, zone] = m;
  // Month/day/hour ranges are checked here: Date.UTC would silently roll "2026-02-31" into March.
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > daysIn(Number(y), month)) return INVALID_UNPARSABLE;
  if (h !== undefined && (Number(h) > 23 || Number(mi) > 59 || (sec !== undefined && Number(sec) > 59))) return INVALID_UNPARSABLE;
  const ms = frac === undefined ? 0 : Math.floor(Number(('0.' + frac).slice(0, 6)) * 1000);
  let t = Date.UTC(Number(y), month - 1, day, Number(h ?? 0), Number(mi ?? 0), Number(sec ?? 0), ms);
  // No zone means UTC, not the machine's local time: the same input must give the same windows everywhere.
  if (zone !== undefined && zone !== 'Z' && zone !== 'z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const offMin = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || '0');
    t -= sign * offMin * 60_000;
  }
  if (!Number.isFinite(t)) return INVALID_UNPARSABLE;
  return t < 0 ? INVALID_NEGATIVE : t;
}

function daysIn(y: number, m: number): number {
  return m === 2 ? ((y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28) : [4, 6, 9, 11].includes(m) ? 30 : 31;
}

export function invalidReason(code: number): string {
  if (code === INVALID_MISSING) return 'missing';
  if (code === INVALID_NEGATIVE) return 'negative';
  return 'not a number of ms or an ISO-8601 time';
}
