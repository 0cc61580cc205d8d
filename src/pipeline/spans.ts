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

  /** Bytes of all lines together. */
  bytes(): number {
    let n = 0;
    for (let i = 0; i < this.count; i++) n += this.ends[i] - this.starts[i];
    return n;
  }
}
