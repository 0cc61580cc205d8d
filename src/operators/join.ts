import type { Rec } from '../pipeline/record.js';
import { RuntimeError, UsageError } from '../pipeline/errors.js';
import { errorCounters, type RecordErrors } from '../pipeline/onerror.js';
import { mergeNeeds, type FieldNeeds, type PartMetrics, type SideInput, type Stage } from '../pipeline/stage.js';
import { exprFailure, type Expr } from './expr.js';
import { fieldsRead, type ContextName } from './fields.js';
import { keyText, Table, TOO_OLD, VersionedTable } from './table.js';
import { invalidReason, toEventTime } from '../time/eventtime.js';

/** `--select`: the output value from the stream record and the table row (SEMANTICS.md "Joins"). */
export interface Select {
  source: string;
  needs: FieldNeeds;
  /** The record's context it reads besides r (`key`, `ts`, `headers`): the command checks the records carry them. */
  uses: Set<ContextName>;
  fn: (r: unknown, o: unknown, key: unknown, okey: string | null, ts: number | undefined, ots: number | undefined) => unknown;
}

/**
 * A stream record's join key (`--on`, over its value `r`) as table text; undefined when the expression failed,
 * which `errors` has then handled (the record is skipped, dead-lettered or the run fails).
 */
export function joinKeyOf(on: Expr, r: unknown, rec: Rec, errors: RecordErrors): string | null | undefined {
  try {
    return keyText(on.fn(r, rec.key, rec.ts, rec.headers));
  } catch (err) {
    errors.handle(rec.where(), exprFailure(on, err), rec.raw ?? rec.value);
    return undefined;
  }
}

export function compileSelect(source: string): Select {
  let fn: Select['fn'];
  try {
    fn = new Function('r', 'o', 'key', 'okey', 'ts', 'ots', `"use strict"; return (${source}\n);`) as Select['fn'];
  } catch (e) {
    throw new UsageError(`invalid --select \`${source}\`: ${(e as Error).message}`, 'a JavaScript expression over r (the stream record), o (the table row\'s value, null when none), key, okey, ts and ots');
  }
  const uses = new Set<ContextName>();
  return { source, needs: fieldsRead(source, 'r', uses), uses, fn };
}

export interface JoinOptions {
  side: SideInput;
  /** The join key of a stream record (`--on`; the record key by default). */
  on: Expr;
  left: boolean;
  /** The field the table row's value goes into (`--as`) when there is no --select. */
  as: string;
  select?: Select;
  errors: RecordErrors;
  /** The one line that says the table is loaded (rows, seconds); none under --quiet. */
  log?: (line: string) => void;
  /**
   * `--as-of`: each record sees the table as of its own event time (the record timestamp, or `time`), from a
   * history of `historyMs`.
   */
  asOf?: { historyMs: number; time?: Expr };
}

/**
 * Stream–table join against a table read whole (`join global:<topic>`, `join file:<path>`), as a GlobalKTable
 * join in Kafka Streams: `open` reads the side to the end offsets seen at start before the first stream record;
 * after that the side keeps following its topic and its updates change the table between batches (they emit
 * nothing). Each stream record looks its join key up: a match goes out as `{...r, <as>: o}` (or `--select`);
 * no match is dropped (inner) or goes out with o = null (`--left`). A stream record with a null value is dropped;
 * one without a join key is dropped (inner) or goes out unmatched (left). Output key and time are the stream
 * record's.
 */
export class JoinStage implements Stage {
  readonly name = 'join';
  /**
   * Without --select the record keeps its value and text and gains one member: later stages read their fields
   * from the decoder's view as they would after a filter (the decode plan looks past this stage).
   */
  readonly keepsValue: boolean;
  readonly reads: FieldNeeds;
  /** A table that does not change (a file) makes the join a function of each record: it may run on threads. */
  readonly stateless: boolean;
  readonly table: Table | VersionedTable;
  private pump: Promise<void> | undefined;
  private failure: unknown;
  private closed = false;
  private matched = 0;
  private unmatched = 0;
  private noMatch = 0;
  private noKey = 0;
  private nullValues = 0;
  private tooOld = 0;
  private readonly all: boolean;
  /** `"<as>":`, and `"<as>"` to tell a record that has the member already. */
  private readonly member: string;
  private readonly quoted: string;
  constructor(private readonly o: JoinOptions) {
    // the default output adds a member to the record's own text (or, where it cannot, to its parsed value);
    // --select reads what it names
    this.reads = o.select ? mergeNeeds(o.on.needs, o.select.needs) : o.on.needs;
    if (o.asOf?.time) this.reads = mergeNeeds(this.reads, o.asOf.time.needs);
    this.keepsValue = !o.select;
    this.stateless = !o.side.follows;
    this.all = this.reads === 'all';
    this.member = `${JSON.stringify(o.as)}:`;
    this.quoted = JSON.stringify(o.as);
    this.table = o.asOf ? new VersionedTable(o.asOf.historyMs) : new Table();
  }

  async open(how?: { quiet?: boolean }): Promise<void> {
    const t0 = Date.now();
    let loaded!: () => void;
    let failed!: (e: unknown) => void;
    const ready = new Promise<void>((res, rej) => ((loaded = res), (failed = rej)));
    let caught = false;
    this.pump = (async () => {
      try {
        for await (const { rows, caughtUp } of this.o.side.batches()) {
          for (const row of rows) this.table.apply(row, false);
          if (caughtUp && !caught) {
            caught = true;
            loaded();
          }
          if (this.closed) break;
        }
        if (!caught) loaded();
      } catch (e) {
        if (this.closed) return;
        this.failure = e;
        failed(e);
      }
    })();
    await ready;
    const t = this.table;
    if (!how?.quiet && !this.closed) this.o.log?.(`kstream: join: ${this.o.side.name} loaded, ${t.size.toLocaleString('en')} row${t.size === 1 ? '' : 's'} (${t.updates.toLocaleString('en')} read) in ${((Date.now() - t0) / 1000).toFixed(2)} s${this.o.side.follows ? '; following it' : ''}`);
  }

  process(batch: Rec[], out: Rec[]): void {
    if (this.failure !== undefined) {
      const e = this.failure;
      throw e instanceof RuntimeError ? e : new RuntimeError(`join: ${this.o.side.name}: ${(e as Error).message ?? e}`, 'the table side stopped; check the broker and the topic, then restart');
    }
    const { on, errors, select, left } = this.o;
    for (let i = 0; i < batch.length; i++) {
      const rec = batch[i];
      if (rec.ctl !== undefined) {
        out.push(rec);
        continue;
      }
      const r = this.all && rec.partial ? rec.fullValue() : rec.value;
      // a view's record has a value (an object): null can only be a whole value
      if (r === null) {
        this.nullValues++;
        continue;
      }
      // refused before it is counted as matched or not
      if (!select && (typeof r !== 'object' || Array.isArray(r))) {
        errors.handle(rec.where(), `the stream value is ${Array.isArray(r) ? 'an array' : `a ${typeof r}`}, not an object to add \`${this.o.as}\` to`, rec.raw ?? rec.value, `build the output with --select, e.g. --select '({value: r, ${this.o.as}: o})'`);
        continue;
      }
      const k = joinKeyOf(on, r, rec, errors);
      if (k === undefined) continue;
      let row: { value: unknown; ts: number | undefined; json?: string } | undefined;
      let tooOld = false;
      if (k !== null) {
        if (this.table instanceof Table) row = this.table.get(k);
        else {
          const t = this.eventTime(rec, r);
          if (t === undefined) continue;
          const found = this.table.at(k, t);
          if (found === TOO_OLD) {
            // beyond the history: no answer, which a left join gives as null
            tooOld = true;
            if (!left) {
              this.tooOld++;
              continue;
            }
          } else row = found;
        }
      }
      if (!row) {
        if (!left) {
          // counted by why it is dropped (a left join passes these on, unmatched)
          if (k === null) this.noKey++;
          else if (!tooOld) this.noMatch++;
          continue;
        }
        this.unmatched++;
      } else this.matched++;
      const o = row ? row.value : null;
      let v: unknown;
      if (select) {
        try {
          v = select.fn(r, o, rec.key, row ? k : null, rec.ts, row?.ts);
        } catch (err) {
          errors.handle(rec.where(), `--select \`${select.source}\` failed: ${(err as Error).message ?? err}`, rec.raw ?? rec.value);
          continue;
        }
        if (v === undefined) v = null;
        rec.setValue(v);
        out.push(rec);
        continue;
      }
      const raw = rec.raw;
      const end = raw === undefined || raw.indexOf(this.quoted) >= 0 ? -1 : raw.lastIndexOf('}');
      if (end < 0) {
        // no text, or one that names the member already (`{...r, as: o}` keeps its place): the parsed value
        rec.setValue({ ...(rec.partial ? (rec.fullValue() as object) : (r as object)), [this.o.as]: o });
      } else {
        // `{...r, <as>: o}` as text: the record's own text with the member added at its end — no parse of the
        // rest and no serialisation of the record; the view (or value) gains the member too, for later stages
        let p = end - 1;
        for (let c = raw!.charCodeAt(p); p >= 0 && (c === 32 || c === 9 || c === 10 || c === 13); c = raw!.charCodeAt(--p));
        const oj = row ? (row.json ??= JSON.stringify(o)) : 'null';
        const text = raw!.slice(0, end) + (raw!.charCodeAt(p) === 123 ? '' : ',') + this.member + oj + raw!.slice(end);
        if (rec.partial && !Object.isFrozen(r)) {
          // the decoder's view is this record's own: it gains the member in place (one hidden-class step, the
          // same for every record) — but not the frozen empty view a decoder that reads no field shares
          (r as Record<string, unknown>)[this.o.as] = o;
        } else rec.value = { ...(r as object), [this.o.as]: o };
        rec.raw = text;
      }
      out.push(rec);
    }
  }

  /** --as-of: the record's event time, or undefined after handing the record to --on-error. */
  private eventTime(rec: Rec, r: unknown): number | undefined {
    const e = this.o.asOf!.time;
    let v: unknown = rec.ts;
    if (e) {
      try {
        v = e.fn(r, rec.key, rec.ts, rec.headers);
      } catch (err) {
        this.o.errors.handle(rec.where(), exprFailure(e, err), rec.raw ?? rec.value);
        return undefined;
      }
    }
    const t = toEventTime(v);
    if (t >= 0) return t;
    this.o.errors.handle(rec.where(), `event time ${invalidReason(t)}${e ? ` (--time \`${e.source}\`)` : ''}`, rec.raw ?? rec.value, 'fix the record or the --time expression');
    return undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.o.side.close().catch(() => undefined);
    await this.pump;
  }

  counters(): Record<string, number> {
    const c: Record<string, number> = { matched: this.matched, ...errorCounters(this.o.errors) };
    if (this.o.left) c.unmatched = this.unmatched;
    else c['no-match'] = this.noMatch;
    if (this.noKey) c['no-key'] = this.noKey;
    if (this.nullValues) c['null-value'] = this.nullValues;
    if (this.tooOld) c['older-than-history'] = this.tooOld;
    if (this.table instanceof VersionedTable && this.table.untimed) c['table-untimed'] = this.table.untimed;
    if (this.table.nullKeys) c['table-null-keys'] = this.table.nullKeys;
    return c;
  }

  metrics(): PartMetrics {
    return { stateEntries: this.table.size };
  }
}
