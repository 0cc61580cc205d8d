import { encodeValue, Rec, WATERMARK } from '../pipeline/record.js';
import type { TableWriter } from '../pipeline/run-context.js';
import { checkSignature, mergeNeeds, SIG_KEY, type FieldNeeds, type PartMetrics, type StatefulStage } from '../pipeline/stage.js';
import type { RecordErrors } from '../pipeline/onerror.js';
import { RuntimeError, UsageError } from '../pipeline/errors.js';
import { exprFailure, type Expr } from './expr.js';
import { errorCounters } from './filter.js';
import { evalKey, groupId, keyId, keyText, normalizeKey } from './groupkey.js';
import { compileAdder, compileConverter, hdrRecordable, toNumber, type Adder, type AggPlan, type Converter } from './aggfns.js';
import type { WinRef } from '../time/windowassign.js';
import { closeAt, isKeyedType, slidingReleaseAt, type WindowSpec } from '../time/windowspec.js';
import { announcedPartitioned, specFromPayload, specPayload, TagReader, WINDOW_CONTROL, type WindowTags } from '../time/windowtags.js';
import { MinQueue } from '../time/windowqueue.js';

/**
 * The `aggregate` stage: one accumulator per open (window, key), never the records.
 *
 * After a `window` stage (announced by its `$window` control record) it follows the window tags of each record
 * (format: time/windowtags.ts): adds the record to the windows in `@windows`, merges the sessions in
 * `@merged`, seeds new sliding windows from the window in `from`, and closes windows when the watermark passes
 * their close point — the watermark being the larger of `@time` − grace and the last `$watermark` line (the line
 * alone when the window stage keeps stream time per input partition: `"partitioned":true`). A closed
 * window's result is emitted (`--emit final`) and its state released at once (sliding windows: once they can no
 * longer seed a new window). Without a window stage it is a rolling aggregate per key.
 *
 * Output: `{"key":…,"window":{"start":…,"end":…},"<name>":…,"emit":"final"|"update"|"retract"}` — key only with a
 * group key, window only when windowed (`{"index":i}` for count windows). Final results come in order of
 * (end, start, key), keys compared as text; results at end of input likewise; count windows by (key, index);
 * rolling `--emit end` results by key. The record's Kafka key is `key@start` for time windows, `key#index` for
 * count windows, the plain key for rolling aggregates; its timestamp is the largest event time in the group.
 *
 * Group key: `@key` when the window stage has one; else `--by` here (allowed after tumbling and hopping windows
 * only — session, sliding and count windows are per key, so their key belongs on `window --by`).
 */
export type EmitMode = 'final' | 'update' | 'end';

export interface AggregateStageOptions {
  plan: AggPlan;
  /** The compiled plan.args, same order. */
  args: Expr[];
  by?: Expr[];
  emit?: EmitMode;
  /** Bad values and expressions that threw (per --on-error). */
  errors: RecordErrors;
  dropControl?: boolean;
  /** `--materialize`: every result also goes here as a table row (key: the result's key; a retraction deletes). */
  table?: TableWriter;
}

interface Acc {
  at: number;
  /** Table position: window start (count: index; rolling: 0) and group id (sessions: key id + end). */
  outer: number;
  id: unknown;
  /** The key's id as text, to order results whose keys read the same ("1" and 1). */
  inner: string;
  key: unknown;
  hasKey: boolean;
  /** The key as text, for ordering. */
  kt: string;
  /** Window start (count windows: index); rolling: 0. */
  start: number;
  end: number;
  states: unknown[];
  n: number;
  maxTime: number;
  closed: boolean;
  dead: boolean;
  /** Changed since the last checkpoint (listed in `dirty`); in the changelog (a removal needs a tombstone). */
  dirty: boolean;
  saved: boolean;
}

const SKIP = Symbol('skip');

export class AggregateStage implements StatefulStage {
  readonly name = 'aggregate';
  readonly keyedBy: readonly string[];
  readonly keepsValue = false;
  /** Results have a key (group, or key@start) and a time (the latest event time in the group). */
  // results come from no input partition of their own (a result carries the record that closed its window's source):
  // a window after this one keeps one stream time
  readonly gives = { key: true, ts: true, partitions: false };
  readonly reads: FieldNeeds;

  private readonly plan: AggPlan;
  private readonly args: Expr[];
  /** --by; emptied when the window stage groups by the same key (its tags then carry it). */
  private by: Expr[];
  private readonly needAll: boolean;
  private spec: WindowSpec | undefined;
  private specText = '';
  private mode: 'unknown' | 'rolling' | 'windowed' = 'unknown';
  private emit: EmitMode = 'final';
  private wm = -Infinity;
  private readonly table = new AccTable();
  private readonly queue = new MinQueue<Acc>();
  private seq = 0;
  /** Percentile inputs left out: negative (clock skew) or beyond the fixed-point range. */
  private unrecordable = 0;
  private readonly vals: unknown[];
  private readonly inp: unknown[];
  private readonly slotText: string[];
  private readonly adder: Adder;
  private readonly convert: Converter;
  /** Reads each record's window tags, attached or in its value. */
  private readonly reader = new TagReader();
  /** Windowed by tumbling or hopping windows (and no full parse needed): gridRecord's case. */
  private grid = false;
  private grace = 0;
  /** The window stage keeps stream time per input partition: windows close by its watermark lines alone, not by a record's time. */
  private byLines = false;
  /** Checkpointed (restore was called): changed accumulators are listed for drainChanges. */
  private track = false;
  private readonly dirty: Acc[] = [];
  private savedMeta = '';
  private savedSig = false;
  /** What the accumulators mean: functions and their arguments, names, keys, emit mode. */
  private readonly signature: string;

  constructor(private readonly o: AggregateStageOptions) {
    this.plan = o.plan;
    this.args = o.args;
    this.by = o.by ?? [];
    // (after a per-key window the window's key groups instead: pipeline/assemble.ts looks at the window first)
    this.keyedBy = this.by.map((e) => e.source);
    // No window tags: in a fused run they travel on the record; read from a pipe, the decoder adds them to the
    // view once the `$window` line went by (codec/ndjson.ts), and a source that does not gets a full parse.
    let reads: FieldNeeds = 'none';
    for (const e of this.args) reads = mergeNeeds(reads, e.needs);
    for (const e of this.by) reads = mergeNeeds(reads, e.needs);
    this.reads = reads;
    this.needAll = reads === 'all';
    this.vals = new Array(this.args.length);
    this.inp = new Array(this.plan.slots.length);
    this.adder = compileAdder(this.plan.slots, SKIP);
    this.convert = compileConverter(this.plan.slots, SKIP);
    this.slotText = this.plan.slots.map((_, i) => this.plan.outputs.find((x) => x.slot === i)!.text);
    this.signature = JSON.stringify({
      slots: this.plan.slots.map((sl) => [sl.kind, sl.arg < 0 ? null : this.plan.args[sl.arg]]),
      outputs: this.plan.outputs.map((x) => [x.name, x.text]),
      by: this.by.map((e) => e.source),
      emit: o.emit ?? null,
    });
  }

  process(batch: Rec[], out: Rec[]): void {
    const from = out.length;
    this.processBatch(batch, out);
    if (this.o.table) this.materialize(out, from);
  }

  /** The results among out[from..] as rows of the --materialize table (the controls passed on are not results). */
  private materialize(out: Rec[], from: number): void {
    const t = this.o.table!;
    for (let i = from; i < out.length; i++) {
      const r = out[i];
      if (r.ctl !== undefined) continue;
      const v = r.value as { emit?: string };
      t.put(typeof r.key === 'string' ? r.key : null, v.emit === 'retract' ? null : encodeValue(r), r.ts);
    }
  }

  private processBatch(batch: Rec[], out: Rec[]): void {
    const drop = !!this.o.dropControl;
    for (let i = 0; i < batch.length; i++) {
      const rec = batch[i];
      if (rec.ctl !== undefined) {
        if (rec.ctl === WINDOW_CONTROL) {
          this.configure(rec.value);
          continue;
        }
        if (rec.ctl === WATERMARK && this.mode === 'windowed' && typeof rec.value === 'number') this.advance(rec.value, out, rec);
        if (!drop) out.push(rec);
        continue;
      }
      const tags = this.reader.attached(rec);
      if (this.grid && tags !== undefined) this.gridRecord(rec, tags, out);
      else {
        if (this.mode === 'unknown') this.startRolling(rec);
        this.record(rec, tags, out);
      }
    }
  }

  /** `tags`: the window tags attached in this process (undefined: in the value, if anywhere). */
  private record(rec: Rec, tags: WindowTags | undefined, out: Rec[]): void {
    const reader = this.reader;
    let v = this.needAll && rec.partial ? rec.fullValue() : rec.value;
    if (rec.partial && tags === undefined && this.mode === 'windowed' && !reader.inView(v as object)) v = rec.fullValue();
    // A view (partial) is always an object; a full value may be anything.
    const tv = rec.partial || (v !== null && typeof v === 'object' && !Array.isArray(v)) ? (v as Record<string, unknown>) : undefined;
    const spec = this.spec;
    const r = reader.value(tv, v);
    const wins = reader.windows(tags, tv);
    const t = reader.time(tags, tv, rec.ts);

    // Group key.
    let key: unknown;
    let hasKey = false;
    if (spec !== undefined && spec.by !== null) {
      key = reader.key(tags, tv, normalizeKey);
      hasKey = key !== undefined;
    } else if (this.by.length) {
      key = this.byKey(r, rec, t);
      if (key === SKIP) return;
      hasKey = true;
    }

    if (!this.inputs(r, rec, t)) return;
    this.seq++;

    if (this.mode === 'rolling') {
      const id = hasKey ? groupId(key) : '';
      let acc = this.table.get(0, id);
      if (!acc) {
        acc = this.newAcc(0, id, key, hasKey, 0, 0);
        this.table.set(acc);
      }
      this.add(acc, t);
      if (this.emit === 'update') out.push(this.result(acc, 'update', rec));
      return;
    }

    if (!Array.isArray(wins)) {
      this.o.errors.handle(rec.where(), 'record has no `@windows` tag — it did not come from `kstream window`', rec.raw ?? rec.value);
      return;
    }
    if (t !== undefined && spec!.type !== 'count' && !this.byLines && t - this.grace > this.wm) this.advance(t - this.grace, out, rec);
    switch (spec!.type) {
      case 'tumbling': case 'hopping': {
        const id = hasKey ? groupId(key) : '';
        for (let i = 0; i < wins.length; i++) {
          const acc = this.gridAcc(id, key, hasKey, wins[i] as WinRef);
          this.add(acc, t);
          if (this.emit === 'update') out.push(this.result(acc, 'update', rec));
        }
        break;
      }
      case 'session': {
        const merged = reader.merged(tags, tv) as WinRef[] | undefined;
        this.session(hasKey ? keyId(key) : '', key, hasKey, wins[0] as WinRef, merged, t, rec, out);
        break;
      }
      case 'sliding': this.slide(hasKey ? groupId(key) : '', key, hasKey, wins as WinRef[], t, rec, out); break;
      case 'count': this.count(hasKey ? groupId(key) : '', key, hasKey, (wins[0] as { index: number }).index, t, rec, out); break;
    }
  }

  /**
   * record() for the common fused case, tumbling or hopping windows with the tags on the record, with the
   * choices that depend on the configuration made once (configure sets `grid`).
   */
  private gridRecord(rec: Rec, tags: WindowTags, out: Rec[]): void {
    const reader = this.reader;
    // A view is an object; a full value (copied by the window) is an object too, wrapped when it was not.
    const v = rec.value as Record<string, unknown>;
    const r = reader.value(v, v);
    const t = reader.time(tags, v, rec.ts);
    let key: unknown;
    let hasKey = false;
    if (this.by.length) {
      key = this.byKey(r, rec, t);
      if (key === SKIP) return;
      hasKey = true;
    } else if (this.spec!.by !== null) {
      key = reader.key(tags, v, normalizeKey);
      hasKey = key !== undefined;
    }
    if (!this.inputs(r, rec, t)) return;
    this.seq++;
    if (t !== undefined && !this.byLines && t - this.grace > this.wm) this.advance(t - this.grace, out, rec);
    const wins = tags.windows as readonly WinRef[];
    const id = hasKey ? groupId(key) : '';
    const update = this.emit === 'update';
    for (let i = 0; i < wins.length; i++) {
      const acc = this.gridAcc(id, key, hasKey, wins[i]);
      this.add(acc, t);
      if (update) out.push(this.result(acc, 'update', rec));
    }
  }

  /** The record's `aggregate --by` key; SKIP when the expression threw (handled per --on-error). */
  private byKey(r: unknown, rec: Rec, t: number | undefined): unknown {
    try {
      return evalKey(this.by, r, rec.key, t, rec.headers);
    } catch (err) {
      this.o.errors.handle(rec.where(), exprFailure(this.by[0], err), rec.raw ?? rec.value);
      return SKIP;
    }
  }

  /**
   * Evaluates the arguments and checks each slot's input once per record, before any window sees them; false
   * when the record is bad (handled per --on-error). Inputs land in `this.inp`, SKIP for values left out.
   */
  private inputs(r: unknown, rec: Rec, t: number | undefined): boolean {
    const args = this.args;
    const vals = this.vals;
    for (let a = 0; a < args.length; a++) {
      try {
        vals[a] = args[a].fn(r, rec.key, t, rec.headers);
      } catch (err) {
        this.o.errors.handle(rec.where(), exprFailure(args[a], err), rec.raw ?? rec.value);
        return false;
      }
    }
    const inp = this.inp;
    if (this.convert(vals, inp)) return true;
    const slots = this.plan.slots;
    for (let s = 0; s < slots.length; s++) {
      const slot = slots[s];
      if (slot.arg < 0) { inp[s] = true; continue; }
      const x = vals[slot.arg];
      if (x === null || x === undefined) { inp[s] = SKIP; continue; }
      if (!slot.numeric) { inp[s] = x; continue; }
      const n = typeof x === 'number' && Number.isFinite(x) ? x : toNumber(x);
      if (Number.isNaN(n)) {
        this.o.errors.handle(rec.where(), `\`${this.slotText[s]}\`: ${preview(x)} is not a number`, rec.raw ?? rec.value);
        return false;
      }
      if (slot.fn.numeric === 'recordable' && !hdrRecordable(n)) {
        this.unrecordable++;
        inp[s] = SKIP;
        continue;
      }
      inp[s] = n;
    }
    return true;
  }

  private session(kid: string, key: unknown, hasKey: boolean, w: WinRef, merged: WinRef[] | undefined, t: number | undefined, rec: Rec, out: Rec[]): void {
    const target = this.timeAcc(kid, key, hasKey, w);
    if (merged) {
      for (const m of merged) {
        const old = this.table.get(m.start, sessionId(kid, m.end));
        if (!old || old === target) continue;
        if (this.emit === 'update') out.push(this.result(old, 'retract', rec));
        this.mergeInto(target, old);
        old.dead = true;
        this.drop(old);
        this.release(old);
      }
    }
    this.add(target, t);
    if (this.emit === 'update') out.push(this.result(target, 'update', rec));
  }

  private slide(kid: unknown, key: unknown, hasKey: boolean, ops: WinRef[], t: number | undefined, rec: Rec, out: Rec[]): void {
    // Seeds are copied before this record changes anything: a new right window copies a window the record
    // is about to be added to.
    let seeds: (Acc | undefined)[] | undefined;
    for (let i = 0; i < ops.length; i++) {
      const f = ops[i].from;
      if (!f) continue;
      const src = this.table.get(f.start, kid);
      (seeds ??= new Array(ops.length))[i] = src && this.copyOf(src);
    }
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i];
      let acc = this.table.get(op.start, kid);
      if (!acc) {
        // A window seeded from a source this stage never saw would be empty: empty windows do not exist.
        if (op.add === false && !seeds?.[i]) continue;
        acc = this.timeAcc(kid, key, hasKey, op);
        const seed = seeds?.[i];
        if (seed) {
          acc.states = seed.states;
          acc.n = seed.n;
          acc.maxTime = seed.maxTime;
          if (this.track && !acc.dirty) this.touch(acc);
        }
      }
      if (op.add !== false) this.add(acc, t);
      if (this.emit === 'update') out.push(this.result(acc, 'update', rec));
    }
  }

  private count(kid: unknown, key: unknown, hasKey: boolean, index: number, t: number | undefined, rec: Rec, out: Rec[]): void {
    let acc = this.table.get(index, kid);
    if (!acc) {
      acc = this.newAcc(index, kid, key, hasKey, index, -1);
      this.table.set(acc);
    }
    this.add(acc, t);
    if (this.emit === 'update') out.push(this.result(acc, 'update', rec));
    if (acc.n >= this.spec!.size!) {
      if (this.emit === 'final') out.push(this.result(acc, 'final', rec));
      this.drop(acc);
      this.release(acc);
    }
  }

  /** Moves the watermark; closes due windows, emitting their finals in (end, start, key) order. */
  private advance(w: number, out: Rec[], from: Rec | undefined): void {
    if (!(w > this.wm)) return;
    this.wm = w;
    if (w < this.queue.next) return;
    const sliding = this.spec!.type === 'sliding';
    let done: Acc[] | undefined;
    for (let a = this.queue.popDue(w); a; a = this.queue.popDue(w)) {
      if (a.dead) continue;
      if (a.closed) {
        this.drop(a);
        this.release(a);
        continue;
      }
      a.closed = true;
      (done ??= []).push(a);
      if (sliding) {
        a.at = slidingReleaseAt(this.spec!, a.end);
        this.queue.push(a);
        if (this.track && !a.dirty) this.touch(a);
      } else {
        this.drop(a);
      }
    }
    if (done === undefined) return;
    if (this.emit === 'final') {
      done.sort(byWindowThenKey);
      for (const a of done) out.push(this.result(a, 'final', from));
    }
    // Sliding windows stay (they may seed another) until they come out of the queue a second time.
    if (!sliding) for (const a of done) this.release(a);
  }

  /** An accumulator left the table for good: states with pooled memory give it back. */
  private release(acc: Acc): void {
    const slots = this.plan.slots;
    for (let s = 0; s < slots.length; s++) slots[s].fn.release?.(acc.states[s]);
  }

  end(out: Rec[]): void {
    const from = out.length;
    this.endAll(out);
    if (this.o.table) this.materialize(out, from);
  }

  private endAll(out: Rec[]): void {
    if (this.mode === 'windowed') {
      if (this.spec!.type === 'count') {
        const open = this.table.values().sort((a, b) => cmpText(a.kt, b.kt) || a.start - b.start || cmpText(a.inner, b.inner));
        if (this.emit === 'final' && this.spec!.partial !== false) for (const a of open) out.push(this.result(a, 'final', undefined));
      } else {
        this.advance(Infinity, out, undefined);
      }
    } else if (this.mode === 'rolling' && this.emit === 'end') {
      const all = this.table.values().sort((a, b) => cmpText(a.kt, b.kt) || cmpText(a.inner, b.inner));
      for (const a of all) out.push(this.result(a, 'end', undefined));
    }
    // Everything was emitted: the checkpoint after the run removes it from the changelog.
    if (this.track) for (const a of this.table.values()) if (!a.dirty) this.touch(a);
    this.table.clear();
    this.queue.clear();
  }

  private touch(acc: Acc): void {
    acc.dirty = true;
    this.dirty.push(acc);
  }

  /** Removes an accumulator from the table (a closed or merged window) and from the changelog at the next drain. */
  private drop(acc: Acc): void {
    this.table.delete(acc);
    if (this.track && !acc.dirty) this.touch(acc);
  }

  /**
   * State for the changelog: per accumulator (`<start>/<group id>`) its window, key, count, largest event time
   * and function states (each function's toJson, aggregate/functions/), null once it is gone; and `$agg`: mode, window spec, watermark
   * and arrival sequence (first/last order), so a restored stage continues as if it had never stopped.
   */
  drainChanges(): [string, unknown][] {
    const res: [string, unknown][] = [];
    if (!this.savedSig) {
      res.push([SIG_KEY, this.signature]);
      this.savedSig = true;
    }
    const slots = this.plan.slots;
    // Removals first: a window replaced in the same batch by one with the same id (a session) keeps the new one.
    for (const a of this.dirty) {
      if (a.saved && !this.isLive(a)) {
        res.push([accKey(a), null]);
        a.saved = false;
      }
    }
    for (const a of this.dirty) {
      a.dirty = false;
      if (!this.isLive(a)) continue;
      const v: Record<string, unknown> = { i: a.id, s: a.start, e: a.end, n: a.n, m: a.maxTime, v: slots.map((sl, k) => sl.fn.toJson(a.states[k])) };
      if (a.hasKey) v.k = a.key;
      if (a.closed) v.c = 1;
      res.push([accKey(a), v]);
      a.saved = true;
    }
    this.dirty.length = 0;
    const meta = { mode: this.mode, emit: this.emit, spec: this.specText || null, wm: Number.isFinite(this.wm) ? this.wm : null, seq: this.seq };
    const text = JSON.stringify(meta);
    if (text !== this.savedMeta) {
      res.push(['$agg', meta]);
      this.savedMeta = text;
    }
    return res;
  }

  private isLive(a: Acc): boolean {
    return !a.dead && this.table.get(a.outer, a.id) === a;
  }

  restore(entries: Iterable<[string, unknown]>): void {
    this.track = true;
    const list = [...entries];
    this.savedSig = checkSignature('aggregate', list, this.signature);
    const accs: Record<string, any>[] = [];
    let meta: Record<string, any> | undefined;
    for (const [k, v] of list) {
      if (k === '$agg') meta = v as Record<string, any>;
      else if (k !== SIG_KEY && v !== null && typeof v === 'object') accs.push(v as Record<string, any>);
    }
    if (!meta || meta.mode === 'unknown') return;
    if (meta.mode === 'windowed' && typeof meta.spec === 'string') {
      this.configure(JSON.parse(meta.spec));
    } else if (meta.mode === 'rolling') {
      this.mode = 'rolling';
      this.emit = meta.emit;
    }
    this.wm = typeof meta.wm === 'number' ? meta.wm : -Infinity;
    this.seq = typeof meta.seq === 'number' ? meta.seq : 0;
    this.savedMeta = JSON.stringify(meta);
    const slots = this.plan.slots;
    const timed = this.mode === 'windowed' && this.spec!.type !== 'count';
    for (const j of accs) {
      const a = this.newAcc(j.s, j.i, j.k, 'k' in j, j.s, j.e);
      if (!Array.isArray(j.v) || j.v.length !== slots.length) continue;
      for (let k = 0; k < slots.length; k++) a.states[k] = slots[k].fn.fromJson(j.v[k]);
      a.n = j.n;
      a.maxTime = j.m;
      a.closed = j.c === 1;
      a.saved = true;
      this.table.set(a);
      if (timed) {
        a.at = a.closed ? slidingReleaseAt(this.spec!, a.end) : closeAt(this.spec!, a.end);
        this.queue.push(a);
      }
    }
  }

  counters(): Record<string, number> {
    const c = errorCounters(this.o.errors);
    if (this.unrecordable) c['not-recordable'] = this.unrecordable;
    return c;
  }

  /** What --metrics shows of the stage (read when scraped). */
  metrics(): PartMetrics {
    return { stateEntries: this.stateSize };
  }

  /** Accumulators held (for tests: released as windows close). */
  get stateSize(): number {
    return this.table.size;
  }

  // ---- helpers -------------------------------------------------------------------------------------------------

  /** Follows a `$window` control record's payload. */
  private configure(payload: unknown): void {
    if (this.mode === 'rolling') {
      throw new RuntimeError('a `$window` control record arrived after data records', 'put `kstream window` directly before `aggregate`');
    }
    let spec: WindowSpec;
    try {
      spec = specFromPayload(payload);
    } catch (e) {
      throw new RuntimeError(`invalid \`$window\` control record ${JSON.stringify(payload)}: ${(e as Error).message}`, 'it is written by `kstream window` and read by `aggregate`');
    }
    // the spec's own text (what a state saved before the `partitioned` field existed holds too), and each line says
    // how its stage reads its input
    const text = JSON.stringify(specPayload(spec));
    this.byLines = announcedPartitioned(payload);
    if (this.mode === 'windowed') {
      if (text === this.specText) return;
      throw new RuntimeError(`two different \`$window\` specs in one input: ${this.specText} and ${text}`, 'aggregate one windowed stream at a time');
    }
    // the same key on both stages means what it says once: the window's key, on its tags
    if (this.by.length && spec.by === this.by.map((e) => e.source).join(', ')) this.by = [];
    if (this.by.length && (spec.by !== null || isKeyedType(spec.type))) {
      const src = this.by.map((e) => e.source).join(' --by ');
      throw new UsageError(
        spec.by !== null && spec.by !== 'key'
          ? `both \`window --by ${spec.by}\` and \`aggregate --by ${src}\` given`
          : `\`aggregate --by ${src}\` cannot regroup ${spec.type} windows: they are per key`,
        `put the key on the window stage only: \`window ${spec.type} … --by ${src}\``,
      );
    }
    const emit = this.o.emit ?? 'final';
    if (emit === 'end') throw new UsageError('`--emit end` is for rolling aggregates', 'windowed results use --emit final (when each window closes) or --emit update');
    this.emit = emit;
    this.spec = spec;
    this.specText = text;
    this.mode = 'windowed';
    this.grid = (spec.type === 'tumbling' || spec.type === 'hopping') && !this.needAll;
    this.grace = spec.grace;
  }

  private startRolling(first: Rec): void {
    // The whole first value: a view holds only the fields this stage reads, never the tags.
    const v = (first.partial ? JSON.parse(first.raw as string) : first.value) as Record<string, unknown> | null;
    if (this.reader.carried(v)) {
      throw new UsageError('records carry window tags but no `$window` line came first', 'keep control lines between `window` and `aggregate`: no `--no-watermarks` on window, no filter that drops `$` lines');
    }
    const emit = this.o.emit ?? 'update';
    if (emit === 'final') throw new UsageError('`--emit final` needs windows: no `window` stage came before `aggregate`', 'use --emit end for one result per key at end of input, or put `kstream window …` first');
    this.emit = emit;
    this.mode = 'rolling';
  }

  private newAcc(outer: number, id: unknown, key: unknown, hasKey: boolean, start: number, end: number): Acc {
    const slots = this.plan.slots;
    const states = new Array(slots.length);
    for (let s = 0; s < slots.length; s++) states[s] = slots[s].fn.init();
    const inner = typeof id === 'string' ? id : keyId(key);
    return { at: 0, outer, id, inner, key, hasKey, kt: hasKey ? keyText(key) : '', start, end, states, n: 0, maxTime: -1, closed: false, dead: false, dirty: false, saved: false };
  }

  /** The accumulator of a time window, created (and scheduled to close) on first use. */
  private timeAcc(kid: unknown, key: unknown, hasKey: boolean, w: WinRef): Acc {
    const id = this.spec!.type === 'session' ? sessionId(kid as string, w.end) : kid;
    let acc = this.table.get(w.start, id);
    if (!acc) acc = this.openAcc(this.table.group(w.start), id, key, hasKey, w);
    return acc;
  }

  /** timeAcc for tumbling and hopping windows: the records of one window come in runs, so its group is cached. */
  private gridAcc(id: unknown, key: unknown, hasKey: boolean, w: WinRef): Acc {
    const g = this.table.group(w.start);
    const acc = g.get(id);
    return acc !== undefined ? acc : this.openAcc(g, id, key, hasKey, w);
  }

  private openAcc(g: Map<unknown, Acc>, id: unknown, key: unknown, hasKey: boolean, w: WinRef): Acc {
    const acc = this.newAcc(w.start, id, key, hasKey, w.start, w.end);
    acc.at = closeAt(this.spec!, w.end);
    this.table.add(g, acc);
    this.queue.push(acc);
    return acc;
  }

  private add(acc: Acc, t: number | undefined): void {
    if (this.track && !acc.dirty) this.touch(acc);
    acc.n++;
    const time = t ?? 0;
    if (t !== undefined && t > acc.maxTime) acc.maxTime = t;
    this.adder(acc.states, this.inp, time, this.seq);
  }

  private mergeInto(into: Acc, from: Acc): void {
    const slots = this.plan.slots;
    for (let s = 0; s < slots.length; s++) into.states[s] = slots[s].fn.merge(into.states[s], from.states[s]);
    into.n += from.n;
    if (from.maxTime > into.maxTime) into.maxTime = from.maxTime;
  }

  private copyOf(src: Acc): Acc {
    const slots = this.plan.slots;
    const states = new Array(slots.length);
    for (let s = 0; s < slots.length; s++) states[s] = slots[s].fn.clone(src.states[s]);
    return { ...src, states };
  }

  private result(a: Acc, kind: 'final' | 'update' | 'retract' | 'end', from: Rec | undefined): Rec {
    const o: Record<string, unknown> = {};
    if (a.hasKey) o.key = a.key;
    const windowed = this.mode === 'windowed';
    const isCount = windowed && this.spec!.type === 'count';
    if (windowed) o.window = isCount ? { index: a.start } : { start: a.start, end: a.end };
    for (const x of this.plan.outputs) o[x.name] = kind === 'retract' ? null : x.result(a.states[x.slot]);
    o.emit = kind;
    const r = new Rec(o, undefined, false, from ? from.pos : -1, from?.src);
    r.key = !windowed ? (a.hasKey ? a.kt : undefined) : isCount ? `${a.kt}#${a.start}` : `${a.kt}@${a.start}`;
    r.ts = a.maxTime >= 0 ? a.maxTime : undefined;
    return r;
  }
}

/** An accumulator's changelog key: window start and group id (a string id as itself, others as JSON text). */
function accKey(a: Acc): string {
  return `${a.start}/${typeof a.id === 'string' ? 's' + a.id : JSON.stringify(a.id)}`;
}

/** Sessions of one key may share a start (a session and the one it grows into), so their id includes the end. */
function sessionId(kid: string, end: number): string {
  return `${kid}\u0001${end}`;
}

/**
 * Accumulators by window start, then group id (groupkey.ts): a lookup per record hashes the key once, with no
 * string built from key and window. Tumbling, hopping and sliding windows are identified by start (the end
 * follows). The group looked up last is kept: records of one window come in runs.
 */
class AccTable {
  private readonly m = new Map<number, Map<unknown, Acc>>();
  private lastOuter = NaN;
  private last: Map<unknown, Acc> | undefined;
  size = 0;

  get(outer: number, id: unknown): Acc | undefined {
    return this.m.get(outer)?.get(id);
  }

  /** The accumulators of one window start, created empty when there are none. */
  group(outer: number): Map<unknown, Acc> {
    if (outer === this.lastOuter) return this.last!;
    let g = this.m.get(outer);
    if (g === undefined) this.m.set(outer, (g = new Map()));
    this.lastOuter = outer;
    this.last = g;
    return g;
  }

  /** Adds acc to its group (from `group(acc.outer)`). */
  add(g: Map<unknown, Acc>, acc: Acc): void {
    g.set(acc.id, acc);
    this.size++;
  }

  set(acc: Acc): void {
    this.add(this.group(acc.outer), acc);
  }

  delete(acc: Acc): void {
    const g = this.m.get(acc.outer);
    if (!g || g.get(acc.id) !== acc) return;
    g.delete(acc.id);
    this.size--;
    if (g.size === 0) {
      this.m.delete(acc.outer);
      if (g === this.last) {
        this.last = undefined;
        this.lastOuter = NaN;
      }
    }
  }

  values(): Acc[] {
    const all: Acc[] = [];
    for (const g of this.m.values()) for (const a of g.values()) all.push(a);
    return all;
  }

  clear(): void {
    this.m.clear();
    this.last = undefined;
    this.lastOuter = NaN;
    this.size = 0;
  }
}

function cmpText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function byWindowThenKey(a: Acc, b: Acc): number {
  return a.end - b.end || a.start - b.start || cmpText(a.kt, b.kt) || cmpText(a.inner, b.inner);
}

function preview(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}
