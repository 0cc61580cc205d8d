/**
 * A binary min-heap on `at`, for "which windows close (or can be released) at this watermark". Entries are never
 * removed from the middle: an entry whose window was merged away or already handled is skipped by its owner when
 * it comes out (lazy deletion), so each window costs O(log n) once, not per record.
 */
export interface Timed {
  at: number;
}

export class MinQueue<T extends Timed> {
  private h: T[] = [];

  get size(): number {
    return this.h.length;
  }

  /** The smallest `at`, Infinity when empty: a cheap "is anything due" check before popDue. */
  get next(): number {
    return this.h.length > 0 ? this.h[0].at : Infinity;
  }

  push(x: T): void {
    const h = this.h;
    let i = h.length;
    h.push(x);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p].at <= x.at) break;
      h[i] = h[p];
      i = p;
    }
    h[i] = x;
  }

  /** The next entry with `at <= limit`, removed; undefined when there is none. */
  popDue(limit: number): T | undefined {
    const h = this.h;
    if (h.length === 0 || h[0].at > limit) return undefined;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      const n = h.length;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && h[r].at < h[l].at ? r : l;
        if (h[c].at >= last.at) break;
        h[i] = h[c];
        i = c;
      }
      h[i] = last;
    }
    return top;
  }

  clear(): void {
    this.h = [];
  }
}
