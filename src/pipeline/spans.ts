import type { SourceRef } from './record.js';

/**
 * The other form of a batch: validated NDJSON lines of one ASCII input chunk as byte ranges of it, with no record
 * per line. A source hands these over only to a sink that writes each line exactly as it was read (produce of
 * stdin with no key or headers to compute) and only with no stage between them: nothing reads a value then, so
 * making a record, a string and a view per line would be work for nobody.
 */
export class LineSpans {
  count = 0;
  starts: Int32Array;
  ends: Int32Array;
  /** The input line `buf` starts with, and how positions are named: for errors about one line (see `where`). */
  firstLine = 1;
  src: SourceRef | undefined;

  constructor(readonly buf: Buffer, capacity = 1024) {
    this.starts = new Int32Array(capacity);
    this.ends = new Int32Array(capacity);
  }

  push(start: number, end: number): void {
    if (this.count === this.starts.length) {
      const starts = new Int32Array(this.count * 2);
      const ends = new Int32Array(this.count * 2);
      starts.set(this.starts);
      ends.set(this.ends);
      this.starts = starts;
      this.ends = ends;
    }
    this.starts[this.count] = start;
    this.ends[this.count++] = end;
  }

  /** Names line `i` as the source does (`stdin line 1234`): counted only when an error needs it. */
  where(i: number): string {
    let line = this.firstLine;
    const s = this.starts[i];
    for (let p = this.buf.indexOf(10); p >= 0 && p < s; p = this.buf.indexOf(10, p + 1)) line++;
    return this.src ? this.src.where(line) : `line ${line}`;
  }

  /** Leaves line `i` out (a record the sink sets aside). */
  remove(i: number): void {
    this.starts.copyWithin(i, i + 1, this.count);
    this.ends.copyWithin(i, i + 1, this.count);
    this.count--;
  }

  /** Bytes of all lines together. */
  bytes(): number {
    let n = 0;
    for (let i = 0; i < this.count; i++) n += this.ends[i] - this.starts[i];
    return n;
  }
}
