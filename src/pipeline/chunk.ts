import { Buffer } from 'node:buffer';
import { encodeValue, type Rec, type SourceRef } from './record.js';
import { PartialFailure, type Chain } from './chain.js';
import { NdjsonDecoder, decodeUtf8, LONG_LINE_HINT } from '../codec/ndjson.js';
import { parseOnError, RecordErrors } from './onerror.js';
import { chainOf } from './assemble.js';
import type { Commands } from './registry.js';
import { KsError } from './errors.js';
import type { RangeReader } from '../io/filerange.js';

/**
 * Runs a chain of stateless stages over one chunk of complete NDJSON lines: decode → stages → encode, returning
 * the output bytes. The same code runs inline and inside worker threads (parallel.ts), so threaded runs give the
 * same output as single-threaded ones.
 *
 * Positions inside a chunk are relative (line 1 = the chunk's first line). Error messages carry a marker the
 * main thread replaces with the absolute line number, since only it knows how many lines came before.
 */
export const LINE_MARK = '\u0001';

export interface ChunkResult {
  out: Uint8Array;
  lines: number;
  /** Data records decoded from the chunk, and written to `out` (for --metrics: control lines are not records). */
  recordsIn: number;
  records: number;
  /** Ranges of a file: the position past the last line taken, if any; reading goes on there after the last range. */
  end?: number;
  /** --on-error fail hit a record: its message (with a line marker) and exit code; `out` holds what came before. */
  failure?: { message: string; hint?: string; exitCode: number };
}

const relative: SourceRef = { name: 'stdin', where: (pos: number) => `stdin line ${LINE_MARK}${pos}${LINE_MARK}` };

/** The failure of a line longer than KSTREAM_MAX_LINE, `line` lines into a chunk. */
export function lineTooLong(line: number, limit: number): NonNullable<ChunkResult['failure']> {
  return { message: `${relative.where(line)}: line longer than ${limit} bytes`, hint: LONG_LINE_HINT, exitCode: 1 };
}

export class ChunkProcessor {
  private constructor(
    private readonly chain: Chain,
    private readonly decoder: NdjsonDecoder,
    private readonly inputErrors: RecordErrors,
    private readonly dropControl: boolean,
  ) {}

  /** `quiet`: a worker thread, which loads its stages' side inputs without saying so (the main thread says it once). */
  static async create(segments: string[][], commands: Commands, quiet = false): Promise<ChunkProcessor> {
    const { chain, first, last } = await chainOf(segments, commands, 'a worker thread');
    await chain.open({ quiet });
    const inputErrors = new RecordErrors(parseOnError(first.opts.onError), 'stdin');
    const decoder = new NdjsonDecoder(chain.plan(), inputErrors, relative);
    return new ChunkProcessor(chain, decoder, inputErrors, last.opts.watermarks === false);
  }

  process(bytes: Uint8Array): ChunkResult {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const recs: Rec[] = [];
    let failure: ChunkResult['failure'];
    const errs = this.inputErrors;
    const { text, badLine, bytes: ascii } = decodeUtf8(buf, 1, errs.policy.mode === 'fail' ? undefined : (line, bytes) => errs.handle(relative.where(line), 'invalid UTF-8', bytes));
    const controls = this.decoder.controls;
    const lines = text.length || badLine === undefined ? this.decoder.decode(text, 1, recs, ascii) : 0;
    if (badLine !== undefined && !this.decoder.failure) {
      failure = { message: `${relative.where(badLine)}: invalid UTF-8`, hint: 'NDJSON input must be UTF-8 text', exitCode: 1 };
    }
    if (this.decoder.failure) {
      failure = describe(this.decoder.failure);
      this.decoder.failure = undefined;
    }
    const recordsIn = recs.length - (this.decoder.controls - controls);
    let res = this.chain.push(recs);
    if (res instanceof PartialFailure) {
      failure ??= describe(res.error);
      res = res.out;
    }
    let s = '';
    let records = 0;
    for (let i = 0; i < res.length; i++) {
      const r = res[i];
      if (this.dropControl && r.ctl !== undefined) continue;
      let line: string;
      try {
        line = encodeValue(r);
      } catch (e) {
        // a value JSON cannot hold (a BigInt inside it): the output ends before it, as a failing line ends it
        failure ??= describe(e);
        break;
      }
      s += line + '\n';
      if (r.ctl === undefined) records++;
    }
    return { out: Buffer.from(s, 'utf8'), lines, recordsIn, records, failure };
  }

  /** The lines that start in [p, q) of the file `reader` reads (see io/filerange.ts), processed like a chunk. */
  processRange(reader: RangeReader, p: number, q: number, lead: boolean): ChunkResult {
    const r = reader.read(p, q, lead);
    const res: ChunkResult = r.any ? this.process(r.bytes) : { out: new Uint8Array(0), lines: 0, recordsIn: 0, records: 0 };
    if (r.tooLong) res.failure ??= lineTooLong(res.lines + 1, reader.maxLine);
    res.end = r.end;
    return res;
  }

  counters(): Record<string, Record<string, number>> {
    const res: Record<string, Record<string, number>> = {};
    if (this.inputErrors.count) res.stdin = { [this.inputErrors.policy.mode === 'dlq' ? 'dead-lettered' : 'skipped']: this.inputErrors.count };
    return Object.assign(res, this.chain.counters());
  }
}

function describe(e: unknown): { message: string; hint?: string; exitCode: number } {
  if (e instanceof KsError) return { message: e.message, hint: e.hint, exitCode: e.exitCode };
  return { message: e instanceof Error ? e.message : String(e), exitCode: 1 };
}
