/**
 * The seeded record generator: a preset or template, a sequence number and an event-time line.
 *
 * Event time is data, not the clock: by default record `seq` gets `ts = start + floor(seq * 1000 / eventRate)`, so the
 * same seed and flags give the same bytes on every run and runtime. A paced run may instead move the time line onto
 * the send schedule (`setTimeline(scheduleStart, rate)`), which makes `ts` the record's intended send time — the
 * reference a latency measurement needs to be free of coordinated omission.
 *
 * Usable without the CLI (bench): `createGenerator(opts).nextBatch(n)`.
 */
import { Prng } from './prng.js';
import { createPreset } from './presets.js';
import { compileTemplate } from './template.js';
import type { RecordMaker } from './maker.js';
import { wallNow } from '../runtime.js';

/** 2026-01-01T00:00:00Z: the default start of the event-time line. */
export const DEFAULT_START = 1767225600000;
export const DEFAULT_EVENT_RATE = 1000;

export interface GeneratorOptions {
  /** Preset name (clicks, orders, iot); ignored when `template` is given. Default clicks. */
  preset?: string;
  /** Template text (not a file name). */
  template?: string;
  /** Default 1. Numbers and numeric strings are the same seed. */
  seed?: number | string;
  /** Epoch ms of record 0's event time. Default 2026-01-01T00:00:00Z. */
  start?: number;
  /** Records per second of event time. Default 1000. */
  eventRate?: number;
  /** Make ts out of order: each ts moves back by a seeded 0..disorder ms. */
  disorder?: number;
  /** Build value objects next to the lines (default true); bench writing raw lines only can skip them. */
  values?: boolean;
  /** Wall clock for `{{now}}` (epoch ms). */
  wallNow?: () => number;
}

export interface GenBatch {
  firstSeq: number;
  lines: string[];
  /** Value objects, parallel to `lines`; null when the generator was built with `values: false`. */
  values: unknown[] | null;
}

export class RecordGenerator {
  /** Sequence number of the next record. */
  seq = 0;
  private start: number;
  private eventRate: number;
  private readonly disorder: number;
  private readonly jitter: Prng | undefined;
  private readonly maker: RecordMaker;
  private readonly withValues: boolean;
  private readonly clock: () => number;
  private tsBuf = new Float64Array(0);

  constructor(opts: GeneratorOptions = {}) {
    const seed = opts.seed ?? 1;
    const rng = new Prng(seed);
    this.maker = opts.template !== undefined ? compileTemplate(opts.template).maker(rng) : createPreset(opts.preset ?? 'clicks', rng);
    this.start = Math.floor(opts.start ?? DEFAULT_START);
    this.eventRate = opts.eventRate ?? DEFAULT_EVENT_RATE;
    this.disorder = Math.max(0, Math.floor(opts.disorder ?? 0));
    // Its own stream: turning --disorder on moves ts only, every other field stays the same.
    this.jitter = this.disorder > 0 ? Prng.derive(seed, 'disorder') : undefined;
    this.withValues = opts.values ?? true;
    this.clock = opts.wallNow ?? wallNow;
  }

  /** Move the event-time line: record `seq` gets `start + floor(seq * 1000 / eventRate)`. */
  setTimeline(start: number, eventRate: number): void {
    this.start = Math.floor(start);
    this.eventRate = eventRate;
  }

  /** Event time of record `seq` before disorder. */
  baseTs(seq: number): number {
    return this.start + Math.floor((seq * 1000) / this.eventRate);
  }

  nextBatch(n: number): GenBatch {
    const firstSeq = this.seq;
    if (this.tsBuf.length < n) this.tsBuf = new Float64Array(Math.max(n, 1024));
    const ts = this.tsBuf;
    const jitter = this.jitter;
    for (let i = 0; i < n; i++) {
      ts[i] = this.baseTs(firstSeq + i) - (jitter ? jitter.int(0, this.disorder) : 0);
    }
    const lines: string[] = [];
    const values = this.withValues ? ([] as unknown[]) : null;
    this.maker.make(firstSeq, ts, n, this.clock(), lines, values);
    this.seq = firstSeq + n;
    return { firstSeq, lines, values };
  }
}

export function createGenerator(opts: GeneratorOptions = {}): RecordGenerator {
  return new RecordGenerator(opts);
}
