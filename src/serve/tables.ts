import type { SideInput } from '../pipeline/stage.js';

/**
 * A table the gateway serves at `GET /tables/{name}/{key}` (`serve --tables`): a topic read to its end and then
 * followed (the side input `join global:` uses), its latest value per key kept in memory. A value is kept as the
 * record's text and decoded only when someone asks for its key.
 */
export class LiveTable {
  private readonly rows = new Map<string, { value: unknown; lazy?: boolean }>();
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
          for await (const { rows, caughtUp } of this.side.batches()) {
            for (const r of rows) {
              if (r.key === null) continue;
              if (r.value === null) this.rows.delete(r.key);
              else this.rows.set(r.key, { value: r.value, lazy: r.lazy });
            }
            if (caughtUp) this.ready = true;
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
    const row = this.rows.get(key);
    if (!row) return undefined;
    if (row.lazy) {
      const text = row.value as string;
      try {
        JSON.parse(text);
        return text;
      } catch {
        return JSON.stringify(text);
      }
    }
    return JSON.stringify(row.value);
  }

  get size(): number {
    return this.rows.size;
  }

  close(): Promise<void> {
    this.closed = true;
    return this.side.close();
  }
}
