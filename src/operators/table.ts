import { Rec, type SourceRef } from '../pipeline/record.js';
import type { Carried, SideInput, SideRow, Source } from '../pipeline/stage.js';
import { keyText as groupKeyText } from './groupkey.js';

/**
 * The latest value per key of a log (SEMANTICS.md "Tables"): a row upserts its key, a tombstone (null value)
 * deletes it, a row without a key changes nothing and is counted. Keys are the record keys as text; the order of
 * the rows is the order in which their keys were (last) inserted.
 */
export class Table {
  /** `json`: the value's JSON, made once by the first join that writes it; `lazy`: the value is its text still. */
  private readonly rows = new Map<string, Row>();
  nullKeys = 0;
  /** Rows read, tombstones and rows without a key included. */
  updates = 0;

  get size(): number {
    return this.rows.size;
  }

  get(key: string): Row | undefined {
    const r = this.rows.get(key);
    if (r?.lazy) resolve(r);
    return r;
  }

  /**
   * Applies one row; returns the key's previous value (undefined when it had none), or NO_CHANGE when the row
   * changed nothing (no key, or a tombstone for an absent key).
   */
  apply(row: SideRow, wantOld = true): unknown {
    this.updates++;
    if (row.key === null) {
      this.nullKeys++;
      return NO_CHANGE;
    }
    const had = this.rows.get(row.key);
    if (row.value === null) {
      if (!had) return NO_CHANGE;
      this.rows.delete(row.key);
      return !wantOld ? undefined : had.lazy ? resolve(had) : had.value;
    }
    // delete first: an updated key moves to the end, as a log read again would order it
    if (had) this.rows.delete(row.key);
    this.rows.set(row.key, row.lazy ? { value: row.value, ts: row.ts, lazy: true } : { value: row.value, ts: row.ts });
    // a join never asks what a row was: its text is not decoded for nothing
    return had && wantOld ? (had.lazy ? resolve(had) : had.value) : undefined;
  }

  /** The rows in order, their values decoded. */
  *entries(): IterableIterator<[string, Row]> {
    for (const e of this.rows) {
      if (e[1].lazy) resolve(e[1]);
      yield e;
    }
  }
}

interface Row {
  value: unknown;
  ts: number | undefined;
  json?: string;
  lazy?: boolean;
}

/** A row's value from its text: JSON when the text is JSON, else the text (as `consume` reads a value). */
export function decodeText(text: string): unknown {
  // the text `null` is a value, not a deletion (a tombstone has no value at all): it stays the text
  if (text === 'null') return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function resolve(r: Row): unknown {
  r.value = decodeText(r.value as string);
  r.lazy = false;
  return r.value;
}

export const NO_CHANGE: unique symbol = Symbol('no change');

/**
 * A table with its history (`join --as-of`, as Kafka Streams' versioned stores, KIP-889): per key the values it
 * had and from when (a tombstone is a version whose value is null), so a lookup can ask for the value as of a time.
 * History is kept for `historyMs` behind the latest row time seen; a lookup for an older time has no answer (it is
 * `TOO_OLD`), as a versioned store's beyond its history retention. Rows arriving out of time order go where their
 * time puts them; one with the time of an existing version replaces it.
 */
export class VersionedTable {
  private readonly keys = new Map<string, { ts: number[]; values: unknown[] }>();
  nullKeys = 0;
  updates = 0;
  /** The latest row time seen. */
  private high = -Infinity;
  /** Rows without a usable time (counted; they cannot be placed in history). */
  untimed = 0;

  constructor(private readonly historyMs: number) {}

  /** Keys with a live latest version. */
  get size(): number {
    let n = 0;
    for (const v of this.keys.values()) if (v.values[v.values.length - 1] !== null) n++;
    return n;
  }

  apply(row: SideRow, _wantOld?: boolean): void {
    this.updates++;
    if (row.key === null) {
      this.nullKeys++;
      return;
    }
    const t = row.ts;
    if (t === undefined || !Number.isFinite(t)) {
      this.untimed++;
      return;
    }
    if (t > this.high) this.high = t;
    const value = row.lazy ? decodeText(row.value as string) : row.value;
    let h = this.keys.get(row.key);
    if (!h) {
      if (value === null) return; // nothing to delete
      this.keys.set(row.key, (h = { ts: [], values: [] }));
    }
    let i = h.ts.length;
    while (i > 0 && h.ts[i - 1] > t) i--;
    if (i > 0 && h.ts[i - 1] === t) h.values[i - 1] = value;
    else {
      h.ts.splice(i, 0, t);
      h.values.splice(i, 0, value);
    }
    // versions no lookup can reach any more: all but the newest one at or before the edge of history
    const edge = this.high - this.historyMs;
    let drop = 0;
    while (drop + 1 < h.ts.length && h.ts[drop + 1] <= edge) drop++;
    if (drop) {
      h.ts.splice(0, drop);
      h.values.splice(0, drop);
    }
  }

  /** The value of `key` as of time `t` (undefined: none then, or deleted), or TOO_OLD when `t` is beyond history. */
  at(key: string, t: number): { value: unknown; ts: number } | undefined | typeof TOO_OLD {
    if (t < this.high - this.historyMs) return TOO_OLD;
    const h = this.keys.get(key);
    if (!h) return undefined;
    let i = h.ts.length - 1;
    while (i >= 0 && h.ts[i] > t) i--;
    if (i < 0 || h.values[i] === null) return undefined;
    return { value: h.values[i], ts: h.ts[i] };
  }
}

export const TOO_OLD: unique symbol = Symbol('older than the history');

/**
 * The text a join key or a table key is compared as: strings as they are, numbers and booleans as JSON writes
 * them (a record key "42" matches `--on r.id` of 42), objects as their JSON; null and undefined are no key.
 */
export function keyText(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  // a group key's text (aggregate --by), so a join key and a materialized row's key are spelled alike
  return typeof v === 'bigint' ? String(v) : groupKeyText(v);
}

/** Reads a side to the end offsets seen at start into a table (`table --snapshot`, `lookup`), then closes it. */
export async function loadTable(side: SideInput, table = new Table()): Promise<Table> {
  try {
    for await (const { rows, caughtUp } of side.batches()) {
      for (const row of rows) table.apply(row, false);
      if (caughtUp) break;
    }
  } finally {
    await side.close();
  }
  return table;
}

/**
 * `kstream table <topic>`: the table's changes as records `{key, value, old}` (value null: the key was deleted;
 * old null: it was new), keyed and timed like the row that made them — or with `snapshot`, the live rows
 * `{key, value}` once the end offsets seen at start are reached, then the end.
 */
export class TableSource implements Source {
  readonly carries: Carried;
  readonly table = new Table();
  private readonly ref: SourceRef;
  private emitted = 0;

  constructor(private readonly side: SideInput, private readonly snapshot: boolean) {
    this.name = side.name;
    this.ref = { name: side.name, where: (pos: number) => `${side.name} row ${pos}` };
    this.carries = { key: true, ts: !snapshot, headers: false, what: snapshot ? 'rows of `table --snapshot`' : 'changes of `table`' };
  }

  readonly name: string;

  async *batches(): AsyncIterable<Rec[]> {
    const t = this.table;
    if (this.snapshot) await loadTable(this.side, t);
    else {
      for await (const { rows } of this.side.batches()) {
        const out: Rec[] = [];
        for (const row of rows) {
          // a change shows the value now, and later as `old`: decoded once, kept decoded
          if (row.lazy) {
            row.value = decodeText(row.value as string);
            row.lazy = false;
          }
          const old = t.apply(row);
          if (old === NO_CHANGE) continue;
          const rec = new Rec({ key: row.key, value: row.value, old: old === undefined ? null : old }, undefined, false, ++this.emitted, this.ref);
          rec.key = row.key;
          rec.ts = row.ts;
          out.push(rec);
        }
        if (out.length) yield out;
      }
      return;
    }
    let batch: Rec[] = [];
    for (const [key, row] of t.entries()) {
      const rec = new Rec({ key, value: row.value }, undefined, false, ++this.emitted, this.ref);
      rec.key = key;
      batch.push(rec);
      if (batch.length === 4096) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length) yield batch;
  }

  async close(): Promise<void> {
    await this.side.close();
  }

  counters(): Record<string, number> {
    return { rows: this.table.size, ...(this.table.nullKeys ? { 'null-keys': this.table.nullKeys } : {}) };
  }
}
