/**
 * Where consumption starts: rpk's offset grammar with kcat's aliases.
 *
 *   start | beginning | earliest | oldest     the first offset still in the log
 *   end | latest | newest                     the end (only records produced from now on)
 *   stored                                    the group's committed offset (needs --group)
 *   <n>                                       offset n (clamped to the log)
 *   +<n>                                      n after the start
 *   -<n>                                      n before the end
 *   @<epoch ms> | @<RFC 3339> | @-<duration>  the first record at or after that time (duration: before now)
 *   <p>=<any of the above>,...                per partition; alone, they also select the partitions read
 *
 * A default and per-partition entries combine: `end,0=100` reads partition 0 from 100, the others from the end.
 */
import { UsageError } from '../pipeline/errors.js';
import { parseDuration } from '../time/duration.js';

export type OffsetSpec =
  | { kind: 'start' }
  | { kind: 'end' }
  | { kind: 'stored' }
  | { kind: 'at'; offset: number }
  | { kind: 'afterStart'; n: number }
  | { kind: 'beforeEnd'; n: number }
  | { kind: 'time'; ts: number };

export interface OffsetPlan {
  /** For partitions without their own entry; undefined when only per-partition entries were given. */
  all: OffsetSpec | undefined;
  perPartition: Map<number, OffsetSpec>;
}

const HINT = 'use start, end, stored, <n>, +<n>, -<n>, @<epoch ms>, @<RFC 3339 time>, @-<duration> or <partition>=<offset>,…';

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?)?$/;

/** Parses a time after `@`: epoch milliseconds, an RFC 3339 date-time (UTC when no zone is given), or -<duration>. */
export function parseTime(text: string, now: number): number {
  if (/^\d+$/.test(text)) return Number(text);
  if (text.startsWith('-')) {
    const ms = parseDuration(text.slice(1), 'time offset');
    return now - ms;
  }
  const m = RFC3339.exec(text);
  if (m) {
    let iso = text.replace(' ', 'T');
    if (m[4] === undefined) iso += 'T00:00:00Z';
    else if (m[8] === undefined) iso += 'Z';
    const t = Date.parse(iso);
    if (!Number.isNaN(t)) return t;
  }
  throw new UsageError(`invalid time \`@${text}\``, 'use @<epoch ms>, @2024-05-01T12:00:00Z or @-<duration> such as @-1h');
}

export function parseOne(text: string, now: number): OffsetSpec {
  const t = text.trim().toLowerCase();
  switch (t) {
    case 'start': case 'beginning': case 'earliest': case 'oldest': case 'first':
      return { kind: 'start' };
    case 'end': case 'latest': case 'newest': case 'last':
      return { kind: 'end' };
    case 'stored': case 'committed':
      return { kind: 'stored' };
  }
  if (/^\d+$/.test(t)) return { kind: 'at', offset: Number(t) };
  if (/^\+\d+$/.test(t)) return { kind: 'afterStart', n: Number(t.slice(1)) };
  if (/^-\d+$/.test(t)) return { kind: 'beforeEnd', n: Number(t.slice(1)) };
  if (t.startsWith('@') && t.length > 1) return { kind: 'time', ts: parseTime(text.trim().slice(1), now) };
  throw new UsageError(`invalid offset \`${text}\``, HINT);
}

/** Parses `--offset`; `now` anchors @-<duration>. */
export function parseOffsets(input: string | number, now = Date.now()): OffsetPlan {
  const text = String(input).trim();
  if (text === '') throw new UsageError('empty --offset', HINT);
  const plan: OffsetPlan = { all: undefined, perPartition: new Map() };
  for (const item of text.split(',')) {
    const m = /^\s*(\d+)\s*=(.*)$/.exec(item);
    if (m) {
      const p = Number(m[1]);
      if (plan.perPartition.has(p)) throw new UsageError(`partition ${p} appears twice in --offset \`${text}\``, HINT);
      plan.perPartition.set(p, parseOne(m[2], now));
    } else {
      if (plan.all) throw new UsageError(`more than one default offset in \`${text}\``, 'give one default and any number of <partition>=<offset> entries');
      plan.all = parseOne(item, now);
    }
  }
  return plan;
}

export function planUsesStored(plan: OffsetPlan): boolean {
  if (plan.all?.kind === 'stored') return true;
  for (const s of plan.perPartition.values()) if (s.kind === 'stored') return true;
  return false;
}

/** The spec for a partition: its own entry, else the default, else `start`. */
export function specFor(plan: OffsetPlan, partition: number): OffsetSpec {
  return plan.perPartition.get(partition) ?? plan.all ?? { kind: 'start' };
}

/** Log bounds and, when needed, time lookups of one partition: what resolution needs from the broker. */
export interface PartitionBounds {
  start: number;
  end: number;
  /** First offset at or after the spec's time (end when none); only for `time` specs. */
  atTime?: number;
}

/**
 * The next offset to read for a spec, clamped to the log. `committed` is the group's committed offset when it
 * has one: a group resumes there whatever the spec says (the spec applies to partitions it never committed).
 */
export function resolveOffset(spec: OffsetSpec, b: PartitionBounds, committed: number | undefined): number {
  if (committed !== undefined && committed >= 0) return Math.min(Math.max(committed, b.start), b.end);
  switch (spec.kind) {
    case 'start':
    case 'stored':
      return b.start;
    case 'end':
      return b.end;
    case 'at':
      return Math.min(Math.max(spec.offset, b.start), b.end);
    case 'afterStart':
      return Math.min(b.start + spec.n, b.end);
    case 'beforeEnd':
      return Math.max(b.end - spec.n, b.start);
    case 'time':
      return b.atTime ?? b.end;
  }
}
