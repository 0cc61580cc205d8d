import fs from 'node:fs/promises';
import { RuntimeError, UsageError } from '../pipeline/errors.js';
import type { SideInput, SidePosition, SideRow } from '../pipeline/stage.js';

/**
 * An NDJSON file read as a table side (`join file:<path>`, `kstream table file:<path>`), whole, at start. Each line
 * is a row: with `keyOf` (`--key <expr>`) the line is the value and the expression gives its key; without it each
 * line is `{"key": …, "value": …}`, as `kstream table --snapshot` writes them (value null: a tombstone).
 */
export class FileSide implements SideInput {
  readonly follows = false;
  /** A checkpointed position: the rows before it are not handed over again. */
  resumeAt: SidePosition | undefined;
  constructor(
    private readonly path: string,
    readonly name: string,
    private readonly keyOf: ((value: unknown) => unknown) | undefined,
    private readonly keyText: (v: unknown) => string | null,
  ) {}

  async *batches(): AsyncIterable<{ rows: SideRow[]; caughtUp: boolean }> {
    let text: string;
    try {
      text = await fs.readFile(this.path, 'utf8');
    } catch (e) {
      throw new UsageError(`cannot read \`${this.path}\` (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, `the side \`${this.name}\` names an NDJSON file to read as a table`);
    }
    const rows: SideRow[] = [];
    let line = 0;
    for (let p = 0; p < text.length; ) {
      let e = text.indexOf('\n', p);
      if (e < 0) e = text.length;
      line++;
      const s = text.slice(p, e).trim();
      p = e + 1;
      if (s === '') continue;
      const where = `${this.name} line ${line}`;
      let v: unknown;
      try {
        v = JSON.parse(s);
      } catch (err) {
        throw new RuntimeError(`${where}: not JSON (${(err as Error).message})`, 'a table file holds one JSON document per line');
      }
      if (this.keyOf) {
        let k: unknown;
        try {
          k = this.keyOf(v);
        } catch (err) {
          throw new RuntimeError(`${where}: --key failed (${(err as Error).message})`, 'fix the --key expression or the line');
        }
        rows.push({ key: this.keyText(k), value: v, ts: undefined });
      } else {
        if (v === null || typeof v !== 'object' || Array.isArray(v) || !('key' in v)) {
          throw new RuntimeError(`${where}: no \`key\` field`, 'give --key <expr> to take the key from each line (e.g. --key r.id), or write the file with `kstream table <topic> --snapshot`');
        }
        const o = v as { key: unknown; value?: unknown };
        rows.push({ key: this.keyText(o.key), value: o.value === undefined ? null : o.value, ts: undefined });
      }
    }
    yield { rows: this.resumeAt?.rows ? rows.slice(this.resumeAt.rows) : rows, caughtUp: true };
  }

  async close(): Promise<void> {}
}
