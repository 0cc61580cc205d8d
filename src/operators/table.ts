import { Rec, type SourceRef } from '../pipeline/record.js';
import type { Carried, SideInput, SideRow, Source } from '../pipeline/stage.js';

/**
 * The latest value per key of a log (SEMANTICS.md "Tables"): a row upserts its key, a tombstone (null value)
 * deletes it, a row without a key changes nothing and is counted. Keys are the record keys as text; the order of
 * the rows is the order in which their keys were (last) inserted.
 */
export class Table {
  private readonly rows = new Map<string, { value: unknown; ts: number | undefined }>();
  nullKeys = 0;
  /** Rows read, tombstones and rows without a key included. */
  updates = 0;

  get size(): number {
    return this.rows.size;
  }

  get(key: string): { value: unknown; ts: number | undefined } | undefined {
    return this.rows.get(key);
  }

  /**
   * Applies one row; returns the key's previous value (undefined when it had none), or NO_CHANGE when the row
   * changed nothing (no key, or a tombstone for an absent key).
   */
  apply(row: SideRow): unknown {
    this.updates++;
    if (row.key === null) {
      this.nullKeys++;
      return NO_CHANGE;
    }
    const had = this.rows.get(row.key);
    if (row.value === null) {
      if (!had) return NO_CHANGE;
      this.rows.delete(row.key);
      return had.value;
    }
    // delete first: an updated key moves to the end, as a log read again would order it
    if (had) this.rows.delete(row.key);
    this.rows.set(row.key, { value: row.value, ts: row.ts });
    return had ? had.value : undefined;
  }

  entries(): IterableIterator<[string, { value: unknown; ts: number | undefined }]> {
    return this.rows.entries();
  }
}

export const NO_CHANGE: unique symbol = Symbol('no change');

/**
 * The text a join key or a table key is compared as: strings as they are, numbers and booleans as JSON writes
 * them (a record key "42" matches `--on r.id` of 42), objects as their JSON; null and undefined are no key.
 */
export function keyText(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
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
    for await (const { rows, caughtUp } of this.side.batches()) {
      if (this.snapshot) {
        for (const row of rows) t.apply(row);
        if (caughtUp) break;
        continue;
      }
      const out: Rec[] = [];
      for (const row of rows) {
        const old = t.apply(row);
        if (old === NO_CHANGE) continue;
        const rec = new Rec({ key: row.key, value: row.value, old: old === undefined ? null : old }, undefined, false, ++this.emitted, this.ref);
        rec.key = row.key;
        rec.ts = row.ts;
        out.push(rec);
      }
      if (out.length) yield out;
    }
    if (!this.snapshot) return;
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
