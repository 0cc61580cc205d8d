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

  constructor(readonly name: string, private readonly side: SideInput) {}

  /** Starts reading; `onError` hears a failure of the side after it started. */
  start(onError: (e: unknown) => void): void {
    this.done = (async () => {
      for await (const { rows, caughtUp } of this.side.batches()) {
        for (const r of rows) {
          if (r.key === null) continue;
          if (r.value === null) this.rows.delete(r.key);
          else this.rows.set(r.key, { value: r.value, lazy: r.lazy });
        }
        if (caughtUp) this.ready = true;
      }
    })().catch(onError);
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
    return this.side.close();
  }
}
