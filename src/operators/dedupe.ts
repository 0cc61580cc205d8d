/**
 * The `dedupe` stage: drops records whose id was already emitted within an event-time span.
 *
 * Definition. Event time t comes from `--time` (ms or ISO-8601), else the record timestamp, else the wall clock at
 * ingest, exactly as for `window`. Stream time ST is the largest event time seen so far, this record included.
 * An emitted record (X, t0) is *remembered* while ST ≤ t0 + within. A record with id X at time t is a duplicate
 * iff a remembered emitted record (X, t0) has |t − t0| ≤ within. Duplicates are dropped and counted; everything
 * else passes unchanged and, unless it is already more than `within` behind ST, becomes the remembered record for X.
 *
 * For input in event-time order this is simply "an earlier emitted record with the same id lies within `within`"
 * (t0 ≥ t − within = ST − within, so nothing that could match has been forgotten), and both ends are inclusive:
 * records exactly `within` apart are duplicates. Out-of-order records are compared with what is remembered, so a
 * record that arrives more than `within` behind stream time may pass although an older, forgotten copy existed:
 * the same bound Kafka Streams' window-store dedup has through its retention.
 *
 * First occurrence wins and a duplicate does *not* refresh the span: with refreshing, an id repeated more often
 * than every `within` (a retrying producer, a heartbeat) would never pass again. Without it the output keeps a
 * property that can be checked on the output alone — two emitted records with the same id are more than `within`
 * apart in event time (for in-order input) — and an entry's lifetime is fixed when it is created. (Confluent's
 * dedup example re-puts the id on each duplicate, which does extend it; kstream deliberately does not.)
 *
 * At most one record per id is remembered: while (X, t0) is remembered, any X that is not more than `within`
 * behind ST lies within `within` of t0. So the state is a map id → t0, plus a min-heap on expiry time that
 * releases entries once per batch (no per-record timers); a lookup treats an entry past its expiry as absent, so
 * releasing late within a batch never changes a decision.
 *
 * A record whose id is null (a single `--by` that gives null or nothing) cannot be told apart from others: it
 * passes, counted as `no-id`. Invalid times are counted as `invalid-time` (or fail under --on-error fail).
 * Control records pass through.
 *
 * State for the changelog (StatefulStage): key = the id (a string id as itself, any other JSON value as NUL + its
 * JSON text), value = t0, null once released; plus the stream time under STREAM_TIME_KEY, which decides what is
 * remembered and what is too late, so a restored stage continues exactly as the original would have.
 */
import type { Rec } from '../pipeline/record.js';
import { mergeNeeds, type FieldNeeds, type PartMetrics, type StatefulStage } from '../pipeline/stage.js';
import type { RecordErrors } from '../pipeline/onerror.js';
import { exprFailure, type Expr } from './expr.js';
import { evalKey, keyId } from './groupkey.js';
import { INVALID_MISSING, invalidReason, toEventTime } from '../time/eventtime.js';
import { MinQueue } from '../time/windowqueue.js';

/** Changelog key of the stream time. No id encodes to it: ids start with NUL only when followed by JSON text. */
export const STREAM_TIME_KEY = '\u0000$stream-time';

export interface DedupeStageOptions {
  /** --by: the id (several make a composite id). */
  by: Expr[];
  /** --within in ms. */
  withinMs: number;
  /** --time: event time from the record; otherwise the record timestamp (the command refuses records without one), or processing time. */
  time?: Expr;
  /** --processing-time: the wall clock at ingest, even where records have a timestamp. */
  processingTime?: boolean;
  /** Wall clock in epoch ms (injectable for tests). */
  clock?: () => number;
  /** Invalid event times. */
  timeErrors: RecordErrors;
  /** A --by expression that threw. */
  keyErrors: RecordErrors;
}

interface Entry {
  /** t0 + within: the entry is released once stream time passes it. */
  at: number;
  id: string;
  t0: number;
}

export class DedupeStage implements StatefulStage {
  readonly name = 'dedupe';
  readonly keyedBy: readonly string[];
  readonly keepsValue = true;
  readonly reads: FieldNeeds;

  private readonly by: Expr[];
  private readonly within: number;
  private readonly needAll: boolean;
  private readonly clock: () => number;
  private readonly last = new Map<string, number>();
  private readonly expiry = new MinQueue<Entry>();
  private st = -Infinity;
  private duplicates = 0;
  private noId = 0;
  // Changelog bookkeeping: latest value per changed id since the last drain, and the stream time drained last.
  private readonly changed = new Map<string, number | null>();
  private drainedSt = -Infinity;

  constructor(private readonly o: DedupeStageOptions) {
    this.by = o.by;
    this.keyedBy = o.by.map((e) => e.source);
    this.within = o.withinMs;
    this.clock = o.clock ?? Date.now;
    let reads: FieldNeeds = o.time ? o.time.needs : 'none';
    for (const e of o.by) reads = mergeNeeds(reads, e.needs);
    this.reads = reads;
    this.needAll = reads === 'all';
  }

  process(batch: Rec[], out: Rec[]): void {
    const o = this.o;
    const within = this.within;
    let now = -1;
    for (let i = 0; i < batch.length; i++) {
      const rec = batch[i];
      if (rec.ctl !== undefined) { out.push(rec); continue; }
      const v = this.needAll && rec.partial ? rec.fullValue() : rec.value;

      let key: unknown;
      try {
        key = evalKey(this.by, v, rec.key, rec.ts, rec.headers);
      } catch (err) {
        o.keyErrors.handle(rec.where(), exprFailure(this.by[0], err), rec.raw ?? rec.value);
        continue;
      }
      if (key === null) { this.noId++; out.push(rec); continue; }

      let t: number;
      if (o.time) {
        let raw: unknown;
        try {
          raw = o.time.fn(v, rec.key, rec.ts, rec.headers);
        } catch (err) {
          o.timeErrors.handle(rec.where(), `invalid event time: ${exprFailure(o.time, err)}`, rec.raw ?? rec.value);
          continue;
        }
        t = toEventTime(raw);
        if (t < 0) {
          o.timeErrors.handle(rec.where(), `invalid event time (${invalidReason(t)}) from --time \`${o.time.source}\`: ${preview(raw)}`, rec.raw ?? rec.value);
          continue;
        }
      } else if (!o.processingTime) {
        // the record timestamp; missing is an invalid time, never a silent switch to the wall clock
        t = rec.ts === undefined ? INVALID_MISSING : toEventTime(rec.ts);
        if (t < 0) {
          const what = t === INVALID_MISSING ? 'invalid record timestamp (missing)' : `invalid record timestamp (${invalidReason(t)}): ${preview(rec.ts)}`;
          o.timeErrors.handle(rec.where(), what, rec.raw ?? rec.value, 'take the time from the record with --time r.<field>, or use --processing-time');
          continue;
        }
      } else {
        if (now < 0) now = this.clock();
        // Never behind stream time: a clock stepping back must not make the record look late.
        t = Math.max(Math.floor(now), this.st);
      }

      if (t > this.st) this.st = t;
      const horizon = this.st - within;
      const id = idOf(key);
      const t0 = this.last.get(id);
      if (t0 !== undefined && t0 >= horizon && (t >= t0 ? t - t0 : t0 - t) <= within) {
        this.duplicates++;
        continue;
      }
      out.push(rec);
      // A record already more than `within` behind stream time would be released at once: not remembered.
      if (t >= horizon) this.remember(id, t);
    }
    this.release();
  }

  private remember(id: string, t: number): void {
    this.last.set(id, t);
    this.expiry.push({ at: t + this.within, id, t0: t });
    this.changed.set(id, t);
  }

  /** Releases every entry whose expiry stream time has passed (ST > t0 + within). */
  private release(): void {
    // Times are whole milliseconds, so `at < st` is `at <= st - 1`.
    const limit = this.st - 1;
    for (let e = this.expiry.popDue(limit); e !== undefined; e = this.expiry.popDue(limit)) {
      // The id may have been remembered again since (its old entry looked absent): keep the newer one.
      if (this.last.get(e.id) === e.t0) {
        this.last.delete(e.id);
        this.changed.set(e.id, null);
      }
    }
  }

  drainChanges(): [string, unknown][] {
    const res: [string, unknown][] = [];
    for (const [k, v] of this.changed) res.push([k, v]);
    this.changed.clear();
    if (this.st !== this.drainedSt) {
      res.push([STREAM_TIME_KEY, this.st]);
      this.drainedSt = this.st;
    }
    return res;
  }

  restore(entries: Iterable<[string, unknown]>): void {
    this.last.clear();
    this.expiry.clear();
    this.changed.clear();
    let st = -Infinity;
    let maxT0 = -Infinity;
    for (const [k, v] of entries) {
      if (k === STREAM_TIME_KEY) {
        if (typeof v === 'number' && Number.isFinite(v)) st = v;
        continue;
      }
      if (v === null) { this.last.delete(k); continue; }
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) continue;
      this.last.set(k, v);
    }
    for (const [id, t0] of this.last) {
      this.expiry.push({ at: t0 + this.within, id, t0 });
      if (t0 > maxT0) maxT0 = t0;
    }
    // Without a recorded stream time, the newest remembered time is the best lower bound.
    this.st = st === -Infinity ? maxT0 : Math.max(st, maxT0);
    this.drainedSt = this.st;
    this.release();
  }

  counters(): Record<string, number> {
    const c: Record<string, number> = { duplicates: this.duplicates, 'invalid-time': this.o.timeErrors.count, 'no-id': this.noId };
    if (this.o.keyErrors.count) c[this.o.keyErrors.policy.mode === 'dlq' ? 'dead-lettered' : 'skipped'] = this.o.keyErrors.count;
    return c;
  }

  /** What --metrics shows of the stage (read when scraped). */
  metrics(): PartMetrics {
    return { stateEntries: this.stateSize };
  }

  /** Ids remembered (for tests: bounded by the span). */
  get stateSize(): number {
    return this.last.size;
  }
}

/**
 * The id's state key: keyId, except that a string starting with NUL is escaped like a non-string key, so the
 * string "\u00001" and the number 1 stay apart and no id can collide with STREAM_TIME_KEY.
 */
function idOf(k: unknown): string {
  return typeof k === 'string' && k.charCodeAt(0) === 0 ? '\u0000' + JSON.stringify(k) : keyId(k);
}

function preview(v: unknown): string {
  const s = v === undefined ? 'undefined' : JSON.stringify(v) ?? String(v);
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}
