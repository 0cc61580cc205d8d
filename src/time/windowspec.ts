import { UsageError } from '../pipeline/errors.js';
import { parseDuration } from './duration.js';

/**
 * What a window stage does. It is announced downstream in the `$window` control record (time/windowtags.ts):
 * the aggregate stage learns from it how windows close; a reader of piped output learns what the tags mean.
 *
 * Close points (docs/semantics.md table), as "closed once watermark >= closeAt(...)", with watermark = ST − grace:
 *   tumbling/hopping  ST >= end + grace       → closeAt = end
 *   sliding           ST >  end + grace       → closeAt = end + 1
 *   session           ST >  end + gap + grace → closeAt = end + gap + 1
 *   count             at its N-th record (no time)
 * Times are integer ms, so "> x" is ">= x + 1".
 */
export const WINDOW_TYPES = ['tumbling', 'hopping', 'sliding', 'session', 'count'] as const;
export type WindowType = (typeof WINDOW_TYPES)[number];

export interface WindowSpec {
  type: WindowType;
  /** tumbling/hopping: window length in ms; count: records per window. */
  size?: number;
  /** hopping: advance in ms (tumbling: equal to size). */
  advance?: number;
  /** tumbling/hopping: shift of the window grid in ms, 0 <= offset < advance. */
  offset?: number;
  /** sliding: the time difference D in ms. */
  diff?: number;
  /** session: inactivity gap P in ms. */
  gap?: number;
  grace: number;
  /** count: emit incomplete windows at end of input. */
  partial?: boolean;
  /** Where event time comes from: the --time expression, "ts" (the record timestamp), or "processing". */
  time: string;
  /** The window's grouping key: the --by expression(s), "key" (the Kafka record key), or null. */
  by: string | null;
}

export const isKeyedType = (t: WindowType): boolean => t === 'session' || t === 'sliding' || t === 'count';

export function closeAt(spec: WindowSpec, end: number): number {
  switch (spec.type) {
    case 'sliding': return end + 1;
    case 'session': return end + (spec.gap as number) + 1;
    default: return end;
  }
}

/**
 * Sliding windows stay in state after they close until they can no longer seed a new window: the KIP-450
 * algorithm builds a new window from an existing window's aggregate (see windowassign.ts), and that source may
 * already be closed. A closed window [s, s+D] can still be a source while watermark <= end + D + 1; released at
 * end + D + 2. (Kafka Streams keeps them for its store retention, 2·D + grace after the window start.)
 */
export function slidingReleaseAt(spec: WindowSpec, end: number): number {
  return end + (spec.diff as number) + 2;
}

export interface WindowArgs {
  every?: string | number;
  offset?: string | number;
  grace?: string | number;
  partial?: boolean;
  time: string;
  by: string | null;
}

const TYPE_HINT = 'use tumbling, hopping, sliding, session or count';
const SIZE_EXAMPLE: Record<WindowType, string> = {
  tumbling: 'window tumbling 1m',
  hopping: 'window hopping 5m --every 1m',
  sliding: 'window sliding 30s',
  session: 'window session 30m',
  count: 'window count 100',
};

/** Builds a spec from `window <type> [size]` and its flags; every mistake is a UsageError with a hint. */
export function parseWindowArgs(args: string[], a: WindowArgs): WindowSpec {
  const [typeArg, sizeArg, ...extra] = args;
  if (typeArg === undefined) throw new UsageError('missing window type', TYPE_HINT);
  const type = typeArg.toLowerCase() as WindowType;
  if (!(WINDOW_TYPES as readonly string[]).includes(type)) {
    const near = WINDOW_TYPES.find((t) => t.startsWith(type.slice(0, 3)));
    throw new UsageError(`unknown window type \`${typeArg}\``, near ? `did you mean \`${near}\`? ${TYPE_HINT}` : TYPE_HINT);
  }
  if (sizeArg === undefined) throw new UsageError(`\`window ${type}\` needs a ${type === 'count' ? 'record count' : type === 'sliding' ? 'time difference' : type === 'session' ? 'gap' : 'size'}`, `for example \`${SIZE_EXAMPLE[type]}\``);
  if (extra.length) throw new UsageError(`unexpected argument \`${extra[0]}\` after \`window ${type} ${sizeArg}\``, `for example \`${SIZE_EXAMPLE[type]}\``);
  const grace = a.grace === undefined ? 0 : parseDuration(a.grace, '--grace');
  if (a.every !== undefined && type !== 'hopping') {
    throw new UsageError(`\`--every\` is for hopping windows`, `for example \`${SIZE_EXAMPLE.hopping}\``);
  }
  if (a.offset !== undefined && type !== 'hopping' && type !== 'tumbling') {
    throw new UsageError(`\`--offset\` is for tumbling and hopping windows`, 'it shifts their grid, e.g. `window tumbling 1d --offset 2h`');
  }
  if (a.partial === false && type !== 'count') throw new UsageError('`--no-partial` is for count windows', `for example \`${SIZE_EXAMPLE.count} --no-partial\``);
  const base = { grace, time: a.time, by: a.by };
  if (type === 'count') {
    if (!/^\d+$/.test(String(sizeArg)) || Number(sizeArg) < 1) throw new UsageError(`invalid count window size \`${sizeArg}\``, 'use a whole number of records >= 1, e.g. `window count 100`');
    return { type, size: Number(sizeArg), partial: a.partial !== false, ...base, grace: 0 };
  }
  const d = parseDuration(sizeArg, `window ${type} size`);
  if (type === 'sliding') return { type, diff: d, ...base };
  if (d <= 0) throw new UsageError(`\`window ${type}\` needs a ${type === 'session' ? 'gap' : 'size'} > 0`, `for example \`${SIZE_EXAMPLE[type]}\``);
  if (type === 'session') return { type, gap: d, ...base };
  let advance = d;
  if (type === 'hopping') {
    if (a.every === undefined) throw new UsageError('hopping windows need `--every <advance>`', `for example \`${SIZE_EXAMPLE.hopping}\``);
    advance = parseDuration(a.every, '--every');
    if (advance <= 0 || advance > d) throw new UsageError(`\`--every ${a.every}\` must be > 0 and at most the window size \`${sizeArg}\``, 'an advance equal to the size is a tumbling window');
  }
  const off = a.offset === undefined ? 0 : parseDuration(a.offset, '--offset');
  return { type, size: d, advance, offset: off % advance, ...base };
}
