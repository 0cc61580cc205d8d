import { Rec, type SourceRef } from '../pipeline/record.js';
import type { Source } from '../pipeline/stage.js';
import { decodeUtf8, LineFramer, LineTooLong } from '../codec/ndjson.js';
import type { Buffer } from 'node:buffer';
import { RuntimeError } from '../pipeline/errors.js';
import { readChunks } from './stdio.js';
import type { RecordErrors } from '../pipeline/onerror.js';

/**
 * Plain text lines from stdin, not parsed: each line is a string value whose text is also its `raw` (for
 * `produce --raw`, which sends lines as they are). A trailing "\r" is dropped; empty lines are empty values.
 */
export class LinesSource implements Source {
  readonly name = 'stdin';
  private readonly ref: SourceRef = { name: 'stdin', where: (pos: number) => `stdin line ${pos}` };
  /** Under --on-error skip/dlq a line that is not UTF-8 is set aside (its bytes kept) instead of failing the run. */
  private readonly onBadUtf8: ((line: number, bytes: Buffer) => void) | undefined;

  constructor(private readonly errors?: RecordErrors) {
    this.onBadUtf8 = errors && errors.policy.mode !== 'fail'
      ? (line, bytes) => {
        errors.handle(this.ref.where(line), 'invalid UTF-8', bytes);
        this.setAside.add(line);
      }
      : undefined;
  }

  /** Lines set aside as invalid UTF-8: decodeUtf8 leaves them empty in the text, and empty is a value here. */
  private readonly setAside = new Set<number>();

  counters(): Record<string, number> {
    return this.errors?.count ? { [this.errors.policy.mode === 'dlq' ? 'dead-lettered' : 'skipped']: this.errors.count } : {};
  }

  async *batches(): AsyncIterable<Rec[]> {
    const framer = new LineFramer();
    const lines = (bytes: Buffer): Rec[] => {
      const { text, badLine, bytes: ascii } = decodeUtf8(bytes, framer.line, this.onBadUtf8);
      const out: Rec[] = [];
      if (text.length || badLine === undefined) framer.line += this.split(text, framer.line, out, ascii !== undefined);
      if (badLine !== undefined) this.failure = new RuntimeError(`stdin line ${badLine}: invalid UTF-8`, '--raw sends text lines; binary data needs --envelope with base64 values');
      return out;
    };
    try {
      for await (const chunk of readChunks()) {
        const bytes = framer.push(chunk);
        if (bytes === undefined) continue;
        const out = lines(bytes);
        if (out.length) yield out;
        if (this.failure) throw this.failure;
      }
      const tail = framer.end();
      if (tail !== undefined) {
        const out = lines(tail);
        if (out.length) yield out;
        if (this.failure) throw this.failure;
      }
    } catch (e) {
      if (e instanceof LineTooLong) throw new RuntimeError(`stdin line ${e.lineNo}: line longer than ${e.limit} bytes`);
      throw e;
    }
  }

  private failure: RuntimeError | undefined;

  /** Lines of `text` (complete lines joined by "\n", without the final newline) as records; returns lines taken. */
  private split(text: string, firstLine: number, out: Rec[], ascii: boolean): number {
    let p = 0;
    let line = firstLine;
    for (;;) {
      let e = text.indexOf('\n', p);
      const last = e < 0;
      if (last) e = text.length;
      const end = e > p && text.charCodeAt(e - 1) === 13 ? e - 1 : e;
      if (this.setAside.size === 0 || !this.setAside.delete(line)) {
        const s = text.slice(p, end);
        out.push(new Rec(s, s, false, line, this.ref, ascii));
      }
      line++;
      if (last) break;
      p = e + 1;
    }
    return line - firstLine;
  }
}
