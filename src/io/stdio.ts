import fs from 'node:fs';
import process from 'node:process';
import { Rec, encodeValue, type SourceRef } from '../pipeline/record.js';
import type { Carried, FieldNeeds, PartMetrics, Sink, Source } from '../pipeline/stage.js';
import type { RecordErrors } from '../pipeline/onerror.js';
import { asciiChunk, decodeUtf8, LineFramer, LineTooLong, LONG_LINE_HINT, looksLikeControl, NdjsonDecoder } from '../codec/ndjson.js';
import { RuntimeError } from '../pipeline/errors.js';
import { LineSpans } from '../pipeline/spans.js';
import { runtime } from '../runtime.js';
import { Buffer } from 'node:buffer';
import { envelopeOf, envelopeRec, EnvelopeStored, fromEnvelope, NotAnEnvelope } from './envelope.js';

/** Reads raw byte chunks from stdin (or a file). Large chunks: fewer, bigger batches downstream. */
export async function* readChunks(path?: string): AsyncIterable<Uint8Array> {
  const highWaterMark = 1 << 20;
  let stream: AsyncIterable<unknown>;
  if (path !== undefined) stream = fs.createReadStream(path, { highWaterMark });
  else if (runtime === 'node') {
    // Node reads fd 0 fastest itself; Bun and Deno are most reliable through process.stdin.
    const fd0 = new Fd0Reader(highWaterMark);
    try {
      yield* fd0.chunks();
      return;
    } catch (e) {
      // A non-blocking stdin (inherited from some shells/terminals): the stream implementation takes over.
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw new RuntimeError(`cannot read stdin: ${(e as Error).message}`);
      if (fd0.carry) yield fd0.carry;
      stream = process.stdin;
    }
  } else stream = process.stdin;
  try {
    for await (const chunk of stream) yield chunk as Uint8Array;
  } catch (e) {
    throw new RuntimeError(`cannot read ${path ? `\`${path}\`` : 'stdin'}: ${(e as Error).message}`);
  }
}

/**
 * fd 0, read into buffers that start with the previous read's unfinished last line: chunks end at a newline,
 * so the line framer never has to join a whole chunk to a carried-over line (a second copy of every byte, and a
 * megabyte of garbage per chunk). A chunk without any newline (a line longer than a buffer) goes out as it is,
 * for the framer to carry, with its length limit.
 */
class Fd0Reader {
  /** The unfinished last line of the chunk given out last, not in any chunk yet. */
  carry: Buffer | undefined;

  constructor(private readonly size: number) {}

  async *chunks(): AsyncGenerator<Uint8Array> {
    for (;;) {
      const c = this.carry ? this.carry.length : 0;
      const buf = Buffer.allocUnsafeSlow(Math.max(this.size, 2 * c));
      if (this.carry) this.carry.copy(buf, 0);
      const n = await new Promise<number>((resolve, reject) => fs.read(0, buf, c, buf.length - c, null, (e, got) => (e ? reject(e) : resolve(got))));
      this.carry = undefined;
      if (n === 0) {
        if (c) yield buf.subarray(0, c);
        return;
      }
      const end = c + n;
      const nl = buf.lastIndexOf(10, end - 1);
      if (nl < 0) {
        yield buf.subarray(0, end);
        continue;
      }
      if (nl + 1 < end) this.carry = buf.subarray(nl + 1, end);
      yield buf.subarray(0, nl + 1);
    }
  }
}

/** NDJSON records from stdin: one batch per input chunk. */
export class NdjsonSource implements Source {
  readonly name: string;
  private decoder: NdjsonDecoder | undefined;
  readonly ref: SourceRef;

  /**
   * What the records carry besides their value: envelopes (`--envelope`) bring the key, timestamp and headers;
   * plain NDJSON lines bring none of them.
   */
  readonly carries: Carried;

  constructor(private readonly errors: RecordErrors, private readonly path?: string, private readonly envelope = false) {
    this.carries = { key: envelope, ts: envelope, headers: envelope };
    this.name = path ?? 'stdin';
    const label = path ? `\`${path}\` line` : 'stdin line';
    this.ref = { name: this.name, where: (pos: number) => `${label} ${pos}` };
    // under --on-error skip/dlq a line that is not UTF-8 is a bad record like any other
    this.onBadUtf8 = errors.policy.mode === 'fail' ? undefined : (line, bytes) => errors.handle(this.ref.where(line), 'invalid UTF-8', bytes);
  }

  private readonly onBadUtf8: ((line: number, bytes: Buffer) => void) | undefined;
  private bytes = 0;

  metrics(): PartMetrics {
    return { bytes: this.bytes };
  }

  /** The fields downstream stages read; set by the runner before batches() starts. */
  plan: FieldNeeds = 'all';

  batches(): AsyncIterable<Rec[]> {
    return this.read(false) as AsyncIterable<Rec[]>;
  }

  /** The same input, with the lines of ASCII chunks as validated byte spans (see pipeline/spans.ts). */
  lines(): AsyncIterable<Rec[] | LineSpans> {
    return this.read(this.plan === 'none');
  }

  private async *read(asSpans: boolean): AsyncIterable<Rec[] | LineSpans> {
    // an envelope is read whole; what the stages read is its value
    const decoder = (this.decoder = new NdjsonDecoder(this.envelope ? 'all' : this.plan, this.errors, this.ref));
    if (this.envelope) asSpans = false;
    const framer = new LineFramer();
    const decodeLines = (bytes: Buffer): Rec[] | LineSpans => {
      const ascii = asSpans ? asciiChunk(bytes) : undefined;
      if (ascii) {
        const spans = new LineSpans(bytes, (bytes.length >> 6) + 16);
        framer.line += decoder.spans(bytes, ascii, framer.line, spans);
        return spans;
      }
      const { text, badLine, bytes: asciiText } = decodeUtf8(bytes, framer.line, this.onBadUtf8);
      const out: Rec[] = [];
      if (text.length || badLine === undefined) framer.line += decoder.decode(text, framer.line, out, asciiText);
      if (badLine !== undefined && !decoder.failure) {
        decoder.failure = new RuntimeError(`${this.ref.where(badLine)}: invalid UTF-8`, 'NDJSON input must be UTF-8 text');
      }
      return this.envelope ? this.unwrap(out, decoder) : out;
    };
    const any = (out: Rec[] | LineSpans) => (Array.isArray(out) ? out.length : out.count) > 0;
    try {
      for await (const chunk of readChunks(this.path)) {
        this.bytes += chunk.byteLength;
        const bytes = framer.push(chunk);
        if (bytes === undefined) continue;
        const out = decodeLines(bytes);
        if (any(out)) yield out;
        if (decoder.failure) throw decoder.failure;
      }
      const tail = framer.end();
      if (tail !== undefined) {
        const out = decodeLines(tail);
        if (any(out)) yield out;
        if (decoder.failure) throw decoder.failure;
      }
    } catch (e) {
      if (e instanceof LineTooLong) {
        throw new RuntimeError(`${this.ref.where(e.lineNo)}: line longer than ${e.limit} bytes`, LONG_LINE_HINT);
      }
      throw e;
    }
  }

  /** Envelope lines → records of their values (io/envelope.ts); a line that is no envelope goes to --on-error. */
  private unwrap(recs: Rec[], decoder: NdjsonDecoder): Rec[] {
    const stored = new EnvelopeStored();
    const out: Rec[] = [];
    for (const rec of recs) {
      if (rec.ctl !== undefined) {
        out.push(rec);
        continue;
      }
      try {
        out.push(envelopeRec(fromEnvelope(rec.value, rec.raw), rec.raw as string, stored, rec.pos, this.ref));
      } catch (e) {
        if (!(e instanceof NotAnEnvelope)) throw e;
        try {
          this.errors.handle(rec.where(), `${e.message} — --envelope reads lines written by \`kstream consume --format envelope\``, rec.raw);
        } catch (fatal) {
          decoder.failure ??= fatal;
          break;
        }
      }
    }
    return out;
  }

  counters(): Record<string, number> {
    return this.errors.count ? { [this.errors.policy.mode === 'dlq' ? 'dead-lettered' : 'skipped']: this.errors.count } : {};
  }
}

const NEWLINE = Buffer.from('\n');

/** A record a pipe cannot carry: its line is exactly a control line (pipeline/record.ts). Refused, never turned into one. */
function controlLike(r: Rec): RuntimeError {
  return new RuntimeError(`${r.where()}: the record reads as a kstream control line in a pipe (\`{"$kstream":{…}}\` is reserved)`, 'read it as an envelope (--format envelope), or join the next stage with `+`');
}

/** Thrown by the stdout sink when the reader went away (`| head`): the run ends quietly with exit 0. */
export class ReaderGone extends Error {
  constructor() {
    super('stdout closed');
  }
}

/**
 * NDJSON to stdout: one write per batch; waits for 'drain' when the pipe is full, so a slow reader slows the
 * pipeline instead of growing memory.
 */
export class StdoutSink implements Sink {
  readonly name = 'stdout';
  readonly reads: FieldNeeds = 'none';
  private gone = false;
  private readonly out = process.stdout;
  /** Bytes written, counted once --metrics asks (`meter`): a string's UTF-8 length is a pass over it. */
  private bytes = 0;
  private counting = false;

  meter(): void {
    this.counting = true;
  }

  metrics(): PartMetrics {
    return { bytes: this.bytes };
  }

  private put(chunk: string | Uint8Array): boolean {
    if (this.counting) this.bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk, 'utf8') : chunk.byteLength;
    return this.out.write(chunk);
  }

  /**
   * `format`: `ndjson` writes values; `envelope` writes each record as a consume envelope (a record whose value no
   * stage replaced as the line it came in); `raw` writes stored values as their bytes (consume --format raw).
   */
  constructor(private readonly dropControl = false, private readonly format: 'ndjson' | 'envelope' | 'raw' = 'ndjson') {
    this.out.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED') this.gone = true;
      else throw e;
    });
  }

  write(batch: Rec[]): Promise<void> | void {
    if (this.gone) throw new ReaderGone();
    if (this.format === 'raw') return this.writeRaw(batch);
    if (this.format === 'envelope') {
      let s = '';
      for (const r of batch) {
        if (r.ctl !== undefined && this.dropControl) continue;
        s += (r.ctl !== undefined ? encodeValue(r) : envelopeOf(r)) + '\n';
      }
      if (s.length > 0 && !this.put(s)) return this.drained();
      return;
    }
    const bytes = this.storedLines(batch);
    if (bytes !== undefined) {
      if (bytes.length > 0 && !this.put(bytes)) return this.drained();
      return;
    }
    let s = '';
    let n = 0;
    for (let i = 0; i < batch.length; i++) {
      const r = batch[i];
      if (r.ctl !== undefined && this.dropControl) continue;
      let line: string;
      try {
        line = encodeValue(r);
        if (r.ctl === undefined && line.charCodeAt(0) === 123 && looksLikeControl(line)) throw controlLike(r);
      } catch (e) {
        // the records before it in the batch are written: the run stops at this one, and only there
        if (n > 0) this.put(s);
        throw e;
      }
      s += line + '\n';
      n++;
    }
    if (n > 0 && !this.put(s)) return this.drained();
  }

  /**
   * A batch whose records all have their text in stored bytes (Rec.textStored: a plain consume) as lines copied from
   * those bytes, without decoding a string; undefined when some record has not, or may read as a control line (the
   * string path then writes the batch and refuses that record where it stands).
   */
  private storedLines(batch: Rec[]): Buffer | undefined {
    // the size first, exactly: one buffer, no guess to outgrow
    let size = 0;
    for (const r of batch) {
      if (r.ctl !== undefined) {
        if (this.dropControl) continue;
        return undefined;
      }
      if (!r.textStored || r.stored?.valueSize === undefined) return undefined;
      size += r.stored.valueSize(r.si) + 1;
    }
    const out = Buffer.allocUnsafe(size);
    let at = 0;
    for (const r of batch) {
      if (r.ctl !== undefined) continue;
      const k = r.stored!.copyValue!(r.si, out, at);
      // `{"$…`: maybe a control line, which the string path refuses
      if (out[at] === 123 && out[at + 1] === 34 && out[at + 2] === 36) return undefined;
      at += k;
      out[at++] = 10;
    }
    return out;
  }

  /** Stored values as their bytes, one per line (a tombstone is an empty line, as kcat writes it); others as NDJSON. */
  private writeRaw(batch: Rec[]): Promise<void> | void {
    const parts: Uint8Array[] = [];
    for (const r of batch) {
      if (r.ctl !== undefined && this.dropControl) continue;
      const v = r.stored !== undefined && r.valueStored ? r.stored.value(r.si) : undefined;
      // raw output is for readers of the bytes (as kcat -C writes them), not for kstream stages: nothing refused
      if (v === undefined) parts.push(Buffer.from(encodeValue(r), 'utf8'));
      else if (v !== null) parts.push(v);
      parts.push(NEWLINE);
    }
    if (parts.length > 0 && !this.put(Buffer.concat(parts))) return this.drained();
  }

  /** NDJSON lines already encoded (by the threads of pipeline/parallel.ts), with the same backpressure. */
  writeBytes(lines: Uint8Array): Promise<void> | void {
    if (this.gone) throw new ReaderGone();
    if (lines.byteLength > 0 && !this.put(lines)) return this.drained();
  }

  /** Waits for 'drain'; rejects with ReaderGone when the reader went away instead. */
  private drained(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const done = () => { cleanup(); this.gone ? reject(new ReaderGone()) : resolve(); };
      const cleanup = () => { this.out.off('drain', done); this.out.off('close', done); this.out.off('error', done); };
      this.out.once('drain', done);
      this.out.once('close', done);
      this.out.once('error', done);
    });
  }

  end(): Promise<void> {
    if (this.gone) return Promise.resolve();
    // Resolve once everything written so far reached the OS.
    return new Promise((resolve) => this.out.write('', () => resolve()));
  }
}
