import type { SideInput } from '../pipeline/stage.js';
import { Table } from '../operators/table.js';

/**
 * A table the gateway serves at `GET /tables/{name}/{key}` (`serve --tables`): a topic read to its end and then
 * followed (the side input `join global:` uses) into the same Table a join keeps: a value stays the record's text
 * until someone asks for its key, and is read as `lookup` reads it.
 */
export class LiveTable {
  private table = new Table();
  ready = false;
  done: Promise<void> = Promise.resolve();

  private side: SideInput;

  /** `open` makes the side input (again, after a failure: a side that failed is closed for good). */
  constructor(readonly name: string, private readonly open: () => SideInput) {
    this.side = open();
  }

  private closed = false;

  /**
   * Starts reading. A failure (the topic deleted, an outage longer than the client retries through) is told to
   * `onError` and the topic is read again from its start after `restartMs`, the rows served meanwhile as they were.
   */
  start(onError: (e: unknown) => void, restartMs = 1000): void {
    this.done = (async () => {
      while (!this.closed) {
        try {
          // read again from its start after a failure: into a table of its own, the old one served until then
          const table = this.ready ? new Table() : this.table;
          for await (const { rows, caughtUp } of this.side.batches()) {
            for (const r of rows) table.apply(r, false);
            if (caughtUp) {
              this.table = table;
              this.ready = true;
            }
          }
          return;
        } catch (e) {
          if (this.closed) return;
          onError(e);
          await this.side.close().catch(() => undefined);
          await new Promise((r) => setTimeout(r, restartMs));
          if (!this.closed) this.side = this.open();
        }
      }
    })();
  }

  /** The key's value as JSON text, or undefined when the table has none. */
  get(key: string): string | undefined {
    const row = this.table.get(key);
    if (!row) return undefined;
    return (row.json ??= JSON.stringify(row.value));
  }

  get size(): number {
    return this.table.size;
  }

  close(): Promise<void> {
    this.closed = true;
    return this.side.close();
  }
}
