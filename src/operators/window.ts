/**
 * The `window` stage: event time, stream time and watermark, lateness, and window assignment.
 *
 * `window` tags records with their windows; `aggregate` keeps one accumulator per (window, key) and emits results
 * when windows close. What flows between the two — the `$window` line with the spec, the tags on each record, in a
 * pipe or in one process — is time/windowtags.ts's; this stage decides what the tags say. Besides, it writes:
 *
 *   {"$kstream":{"watermark":1767225610000}}
 *       Written right after the record (or clock tick) that closed at least one window: watermark = stream
 *       time − grace. Deterministic for a given input, so piped and fused runs agree. Count windows have none.
 *
 * Late records (every window they belong to has closed) and records with an invalid event time are not written;
 * they are counted (`late`, `invalid-time`), late ones go to `--late <file>` when given. Incoming window and
 * watermark lines are replaced by this stage's own; other control lines pass through. `--no-watermarks` drops
 * all control lines (also the window spec, so do not use it before `aggregate`).
 * Strip control lines with `jq -c 'select(has("$kstream") | not)'`.
 */
import { Rec, WATERMARK, type InputGroup } from '../pipeline/record.js';
import { checkSignature, mergeNeeds, SIG_KEY, type FieldNeeds, type PartMetrics, type StatefulStage } from '../pipeline/stage.js';
import type { RecordErrors } from '../pipeline/onerror.js';
import { exprFailure, type Expr } from './expr.js';
import { evalKey, keyId, recordKey } from './groupkey.js';
import { invalidReason, toEventTime } from '../time/eventtime.js';
import { StreamTime } from '../time/watermark.js';
import type { WindowSpec } from '../time/windowspec.js';
import { specPayload, TagWriter, WINDOW_CONTROL, windowControl } from '../time/windowtags.js';
import { CountAssigner, GridAssigner, SessionAssigner, SlidingAssigner, type WinRef } from '../time/windowassign.js';

export interface WindowStageOptions {
  spec: WindowSpec;
  /** --time: event time from the record; otherwise the record timestamp (a record without one is an invalid time). */
  time?: Expr;
  /** --processing-time: always the wall clock at ingest. */
  processingTime?: boolean;
  /** --by: the group key (needed by per-key windows: session, sliding, count). */
  by?: Expr[];
  /** --idle-flush in ms. */
  idleFlushMs?: number;
  /** --idle-timeout in ms: a partition the source has had nothing of waiting for this long stops holding stream time back. */
  idleTimeoutMs?: number;
  /** The records come from input partitions (a Kafka source, fused): stream time per partition (time/watermark.ts). */
  partitioned?: boolean;
  /** Wall clock in epoch ms (injectable for tests). */
  clock?: () => number;
  /** Invalid event times (counted as invalid-time, or failing the run under --on-error fail). */
  timeErrors: RecordErrors;
  /** A --by expression that threw. */
  keyErrors: RecordErrors;
  /** Receives each late record (the command appends it to the --late file). */
  onLate?: (rec: Rec) => void;
  /** Called at end of input (the command closes the --late file). */
  onEnd?: () => void;
  /** --no-watermarks: no control records in the output. */
  dropControl?: boolean;
}

export class WindowStage implements StatefulStage {
  readonly name = 'window';
  readonly keyedBy?: readonly string[];
  /** Records keep their value (tags are added), so later stages' fields are read from the input. */
  readonly keepsValue = true;
  readonly reads: FieldNeeds;
  /** Only set when time can come from the wall clock, so the runner does not tick stages that never need it. */
  readonly tick?: (now: number, out: Rec[]) => void;

  private readonly spec: WindowSpec;
  private readonly stream: StreamTime;
  private readonly grid?: GridAssigner;
  private readonly sessions?: SessionAssigner;
  private readonly sliding?: SlidingAssigner;
  private readonly counts?: CountAssigner;
  private readonly by: Expr[];
  private readonly keyed: boolean;
  private readonly needAll: boolean;
  private readonly clock: () => number;
  private announced = false;
  private usedWallClock = false;
  private late = 0;
  private readonly tagger = new TagWriter();
  /** What the last checkpoint holds (drainChanges sends only what moved since). */
  private savedSt = -Infinity;
  private savedGrid = 0;
  private savedSig = false;
  /** What the state depends on: a restarted run with other window arguments must not reuse it. */
  private readonly signature: string;

  constructor(private readonly o: WindowStageOptions) {
    const spec = (this.spec = o.spec);
    this.stream = new StreamTime(spec.grace, o.idleTimeoutMs);
    this.by = o.by ?? [];
    this.clock = o.clock ?? Date.now;
    switch (spec.type) {
      case 'tumbling': case 'hopping': this.grid = new GridAssigner(spec.size!, spec.advance!, spec.offset ?? 0); break;
      case 'session': this.sessions = new SessionAssigner(spec.gap!); break;
      case 'sliding': this.sliding = new SlidingAssigner(spec.diff!); break;
      case 'count': this.counts = new CountAssigner(spec.size!); break;
    }
    this.keyed = this.by.length > 0 || spec.type === 'session' || spec.type === 'sliding' || spec.type === 'count';
    if (this.keyed) this.keyedBy = this.by.length ? this.by.map((e) => e.source) : ['key'];
    let reads: FieldNeeds = o.time ? o.time.needs : 'none';
    for (const e of this.by) reads = mergeNeeds(reads, e.needs);
    this.reads = reads;
    this.needAll = reads === 'all';
    this.signature = JSON.stringify({ spec: specPayload(spec), time: o.time?.source ?? null, by: this.by.map((e) => e.source), processing: !!o.processingTime });
    // Decided once, from the source, so every `$window` line of the run says the same (a restarted run may
    // announce from a tick, before its first record).
    this.partitioned = o.partitioned === true && spec.type !== 'count' && !o.processingTime;
    // partitioned: a partition that goes idle while nothing arrives must still let stream time move on
    if (spec.type !== 'count' && (o.processingTime || o.idleFlushMs !== undefined || this.partitioned)) {
      this.tick = (now, out) => this.onTick(now, out);
    }
  }

  private readonly partitioned: boolean;
  /** The input partitions last seen (partitioned): the tick asks them which are idle. */
  private group: InputGroup | undefined;

  process(batch: Rec[], out: Rec[]): void {
    // records of several input partitions: stream time is kept per partition, idle ones told apart by the wall clock
    const group = this.partitioned ? inputGroup(batch) : undefined;
    const multi = group !== undefined && group.members.length >= 2;
    const wall = multi ? this.clock() : 0;
    if (group !== undefined) this.group = group;
    if (!this.announced) this.announce(out);
    const o = this.o;
    const isCount = this.spec.type === 'count';
    const grid = this.grid;
    let now = -1;
    let hadData = false;
    for (let i = 0; i < batch.length; i++) {
      const rec = batch[i];
      if (rec.ctl !== undefined) {
        if (rec.ctl !== WATERMARK && rec.ctl !== WINDOW_CONTROL && !o.dropControl) out.push(rec);
        continue;
      }
      hadData = true;
      const v = this.needAll && rec.partial ? rec.fullValue() : rec.value;

      // Event time.
      let t: number;
      if (!isCount && o.processingTime) {
        if (now < 0) now = this.clock();
        this.usedWallClock = true;
        // The wall clock at ingest, never behind stream time: nothing is late in processing time.
        t = Math.max(Math.floor(now), this.stream.st);
      } else if (o.time) {
        let raw: unknown;
        try {
          raw = o.time.fn(v, rec.key, rec.ts, rec.headers);
        } catch (err) {
          this.o.timeErrors.handle(rec.where(), `invalid event time: ${exprFailure(o.time, err)}`, rec.raw ?? rec.value);
          continue;
        }
        t = toEventTime(raw);
        if (t < 0) {
          this.o.timeErrors.handle(rec.where(), `invalid event time (${invalidReason(t)}) from --time \`${o.time.source}\`: ${preview(raw)}`, rec.raw ?? rec.value);
          continue;
        }
      } else if (rec.ts !== undefined) {
        t = toEventTime(rec.ts);
        if (t < 0) {
          this.o.timeErrors.handle(rec.where(), `invalid record timestamp (${invalidReason(t)}): ${preview(rec.ts)}`, rec.raw ?? rec.value);
          continue;
        }
      } else if (!isCount) {
        // A record without the timestamp its source carries (an envelope with "timestamp": null): never the wall
        // clock instead, which would move stream time to now and make every later record late.
        this.o.timeErrors.handle(rec.where(), 'invalid record timestamp (missing)', rec.raw ?? rec.value);
        continue;
      } else {
        t = -1; // count windows without a time
      }

      // Group key.
      let key: unknown;
      let hasKey = false;
      if (this.by.length) {
        try {
          key = evalKey(this.by, v, rec.key, rec.ts, rec.headers);
        } catch (err) {
          this.o.keyErrors.handle(rec.where(), exprFailure(this.by[0], err), rec.raw ?? rec.value);
          continue;
        }
        hasKey = true;
      } else if (this.keyed) {
        key = recordKey(rec.key);
        hasKey = key !== undefined;
      }

      let closed = false;
      if (!isCount && (multi ? this.stream.observeIn(t, rec.src!, group!, wall) : this.stream.observe(t))) closed = this.closeDue();
      if (grid !== undefined) {
        // Tumbling and hopping inline: the common case, kept free of calls that would box the time.
        const list = grid.windowsOf(t, this.stream.watermark);
        if (list === undefined) {
          this.o.timeErrors.handle(rec.where(), `event time ${t} is before the first window (--offset ${this.spec.offset})`, rec.raw ?? rec.value);
        } else if (list.length === 0) {
          this.lateRecord(rec);
        } else {
          this.tagger.tag(rec, v, t, list, hasKey ? key : undefined, undefined);
          out.push(rec);
        }
      } else {
        this.assign(rec, v, t, key, hasKey, out);
      }
      if (closed && !o.dropControl) out.push(Rec.control(WATERMARK, this.stream.watermark));
    }
    if (multi && this.stream.recheck(group, wall) && this.closeDue() && !o.dropControl) out.push(Rec.control(WATERMARK, this.stream.watermark));
    if (hadData && o.idleFlushMs !== undefined) this.stream.arrived(now >= 0 ? now : multi ? wall : this.clock());
  }

  /** Session, sliding and count windows (process() does tumbling and hopping). */
  private assign(rec: Rec, v: unknown, t: number, key: unknown, hasKey: boolean, out: Rec[]): void {
    const w = this.stream.watermark;
    let wins: readonly WinRef[] | readonly { index: number }[];
    let merged: WinRef[] | undefined;
    switch (this.spec.type as 'session' | 'sliding' | 'count') {
      case 'session': {
        const s = this.sessions!.assign(hasKey ? keyId(key) : '', t, w);
        if (!s) return this.lateRecord(rec);
        wins = [s.win];
        merged = s.merged;
        break;
      }
      case 'sliding': {
        const s = this.sliding!.assign(hasKey ? keyId(key) : '', t, w);
        if (!s) return this.lateRecord(rec);
        if (!s.added) this.lateRecord(rec);
        if (s.ops.length === 0) return;
        wins = s.ops;
        break;
      }
      case 'count':
        wins = [{ index: this.counts!.assign(hasKey ? keyId(key) : '') }];
        break;
    }
    this.tagger.tag(rec, v, t, wins, hasKey ? key : undefined, merged);
    out.push(rec);
  }

  private lateRecord(rec: Rec): void {
    this.late++;
    this.o.onLate?.(rec);
  }

  private closeDue(): boolean {
    const w = this.stream.watermark;
    if (this.grid) return this.grid.closeDue(w);
    if (this.sessions) return this.sessions.closeDue(w);
    if (this.sliding) return this.sliding.closeDue(w);
    return false;
  }

  private onTick(now: number, out: Rec[]): void {
    let moved = false;
    if (this.usedWallClock) moved = this.stream.observe(Math.floor(now));
    else if (this.o.idleFlushMs !== undefined) moved = this.stream.idle(now, this.o.idleFlushMs);
    if (this.group !== undefined && this.group.members.length >= 2 && this.stream.recheck(this.group, now)) moved = true;
    if (moved && this.closeDue() && !this.o.dropControl) {
      if (!this.announced) this.announce(out);
      out.push(Rec.control(WATERMARK, this.stream.watermark));
    }
  }

  /** The `$window` line; `partitioned` when stream time is per input partition (aggregate then follows watermarks only). */
  private announce(out: Rec[]): void {
    this.announced = true;
    if (!this.o.dropControl) out.push(windowControl(this.spec, this.partitioned));
  }

  end(_out: Rec[]): void {
    // Nothing to flush: the window stage holds window bounds only; `aggregate` closes every window at end of input.
    (this.grid ?? this.sessions ?? this.sliding ?? this.counts)?.clear();
    this.o.onEnd?.();
  }

  /**
   * State for the changelog: stream time (`$st`), the open tumbling/hopping windows (`$grid`), or per key
   * (`k:<key id>`) its sessions, sliding windows or record count. Bounds only; the aggregates are aggregate's.
   */
  drainChanges(): [string, unknown][] {
    const res: [string, unknown][] = [];
    if (!this.savedSig) {
      res.push([SIG_KEY, this.signature]);
      this.savedSig = true;
    }
    const st = this.stream.st;
    if (st !== this.savedSt && Number.isFinite(st)) {
      res.push(['$st', st]);
      this.savedSt = st;
    }
    if (this.grid) {
      if (this.grid.version !== this.savedGrid) {
        res.push(['$grid', this.grid.openStarts()]);
        this.savedGrid = this.grid.version;
      }
      return res;
    }
    const a = this.sessions ?? this.sliding ?? this.counts;
    if (a?.touched) {
      for (const k of a.touched) res.push(['k:' + k, a.snapshot(k)]);
      a.touched.clear();
    }
    return res;
  }

  restore(entries: Iterable<[string, unknown]>): void {
    const a = this.sessions ?? this.sliding ?? this.counts;
    if (a) a.touched = new Set();
    const list = [...entries];
    this.savedSig = checkSignature('window', list, this.signature);
    // Wall-clock time is not state: idle flush counts quiet time from the restart, processing time goes on.
    if (this.o.processingTime) this.usedWallClock = true;
    for (const [k, v] of list) {
      if (k === '$st') {
        if (typeof v === 'number') this.stream.observe((this.savedSt = v));
      } else if (k === '$grid') {
        if (this.grid && Array.isArray(v)) this.grid.restore(v);
      } else if (k.startsWith('k:') && v !== null) {
        const id = k.slice(2);
        if (this.sessions && Array.isArray(v)) this.sessions.restoreKey(id, v);
        else if (this.sliding && Array.isArray(v)) this.sliding.restoreKey(id, v);
        else if (this.counts && typeof v === 'number') this.counts.restoreKey(id, v);
      }
    }
    if (this.grid) this.savedGrid = this.grid.version;
    if (this.o.idleFlushMs !== undefined && Number.isFinite(this.stream.st)) this.stream.arrived(this.clock());
  }

  /** The run stops with its state checkpointed: nothing is flushed (a restarted run goes on from the state). */
  suspend(): void {
    this.o.onEnd?.();
  }

  counters(): Record<string, number> {
    const c: Record<string, number> = { late: this.late, 'invalid-time': this.o.timeErrors.count };
    if (this.o.keyErrors.count) c[this.o.keyErrors.policy.mode === 'dlq' ? 'dead-lettered' : 'skipped'] = this.o.keyErrors.count;
    return c;
  }

  /** What --metrics shows of the stage (read when scraped). */
  metrics(): PartMetrics {
    return { windowsOpen: this.stateSize };
  }

  /** Window bounds held (for tests: released as windows close). */
  get stateSize(): number {
    if (this.grid) return this.grid.openWindows;
    if (this.sessions) return this.sessions.size;
    if (this.sliding) return this.sliding.size;
    return 0;
  }
}

/** The input partitions of a batch's records (the first data record's source says), if they have any. */
function inputGroup(batch: Rec[]): InputGroup | undefined {
  for (let i = 0; i < batch.length; i++) if (batch[i].ctl === undefined) return batch[i].src?.group;
  return undefined;
}

function preview(v: unknown): string {
  const s = v === undefined ? 'undefined' : JSON.stringify(v) ?? String(v);
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}
