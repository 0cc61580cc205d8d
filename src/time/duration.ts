import { UsageError } from '../pipeline/errors.js';

/** docs/design.md conventions: durations `500ms 30s 1m 1h 1d`, sizes `1k 1m`, rates `20000` or `20k`. */
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Duration in milliseconds. A bare number is milliseconds (as Kafka configs use them). */
export function parseDuration(input: string | number, flag = 'duration'): number {
  if (typeof input === 'number' && Number.isFinite(input) && input >= 0) return input;
  const s = String(input).trim();
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(s);
  if (!m) throw new UsageError(`invalid ${flag} \`${s}\``, 'use a number with a unit: 500ms, 30s, 1m, 1h');
  return Math.round(Number(m[1]) * DURATION_UNITS[m[2] ?? 'ms']);
}

/** A size as people read it: 512 B, 64.0 KiB, 1.5 MiB, 2.00 GiB. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** Size in bytes: `1k` = 1024, `1m` = 1 MiB; `b` suffix optional. */
export function parseSize(input: string | number, flag = 'size'): number {
  if (typeof input === 'number' && Number.isInteger(input) && input >= 0) return input;
  const m = /^(\d+(?:\.\d+)?)([kmg]?)b?$/i.exec(String(input).trim());
  if (!m) throw new UsageError(`invalid ${flag} \`${input}\``, 'use bytes or a unit: 512, 64k, 1m');
  return Math.round(Number(m[1]) * SIZE_UNITS[m[2].toLowerCase()]);
}

const COUNT_UNITS: Record<string, number> = { '': 1, k: 1e3, m: 1e6 };

/** A count or rate: `20000`, `20k`, `1.5m` (decimal multipliers, as people say them). */
export function parseCount(input: string | number, flag = 'count'): number {
  if (typeof input === 'number' && Number.isFinite(input) && input >= 0) return input;
  const m = /^(\d+(?:\.\d+)?)([km]?)(?:\/s)?$/i.exec(String(input).trim());
  if (!m) throw new UsageError(`invalid ${flag} \`${input}\``, 'use a number such as 20000 or 20k');
  return Math.round(Number(m[1]) * COUNT_UNITS[m[2].toLowerCase()]);
}

/** Records per second. */
export function parseRate(input: string | number, flag = '--rate'): number {
  return parseCount(input, flag);
}

/** A duration as people read it: 850µs, 12.3ms, 1.25s, 3.33m, 2h. */
export function formatDuration(ms: number): string {
  if (ms < 1) return `${Math.round(ms * 1000)}µs`;
  if (ms < 1000) return `${+ms.toPrecision(3)}ms`;
  if (ms < 60_000) return `${+(ms / 1000).toFixed(2)}s`;
  if (ms < 3_600_000) return `${+(ms / 60_000).toFixed(2)}m`;
  return `${+(ms / 3_600_000).toFixed(2)}h`;
}
