import process from 'node:process';
import bufferModule, { Buffer } from 'node:buffer';
import { CONTROL_KEY, CONTROL_PREFIX, END, Rec, WATERMARK, type SourceRef } from '../pipeline/record.js';
import type { FieldNeeds } from '../pipeline/stage.js';
import type { RecordErrors } from '../pipeline/onerror.js';
import type { LineSpans } from '../pipeline/spans.js';
import { chunkBytes, chunkIsPlain, FieldScanner, JsonSyntaxError, validateJson, type ChunkBytes } from './scan.js';
import { TAG_MEMBERS, WINDOW_CONTROL } from '../time/windowtags.js';

/**
 * NDJSON framing over byte chunks: no readline, one decode per chunk, lines split by '\n' with '\r' stripped,
 * blank lines skipped, a last line without a newline accepted. Only complete lines are decoded, so a multi-byte
 * UTF-8 character split across chunks is never cut (0x0A never occurs inside one).
 */
export class LineFramer {
  // Bytes after the last newline so far, kept as pieces and joined once the line ends: a line spanning many
  // chunks (a 100 MB record) costs one copy, not one per chunk.
  private pieces: Buffer[] = [];
  private pending = 0;
  /** Physical line number of the next line (1-based), counting blank lines, for error positions. */
  line = 1;
  private readonly maxLine: number;

  constructor(maxLineBytes = maxLineFromEnv()) {
    this.maxLine = maxLineBytes;
  }

  /** Complete lines in `chunk` (joined with any carried-over prefix), without the final newline. */
  push(chunk: Uint8Array): Buffer | undefined {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const last = buf.lastIndexOf(10);
    if (last < 0) {
      // The read buffer may be reused by the stream: keep a copy.
      this.pieces.push(Buffer.from(buf));
      this.pending += buf.length;
      if (this.pending > this.maxLine) throw new LineTooLong(this.line, this.maxLine);
      return undefined;
    }
    let whole: Buffer;
    if (this.pending) {
      if (this.pending + buf.indexOf(10) > this.maxLine) throw new LineTooLong(this.line, this.maxLine);
      this.pieces.push(buf.subarray(0, last));
      whole = Buffer.concat(this.pieces, this.pending + last);
      this.pieces = [];
      this.pending = 0;
    } else {
      whole = buf.subarray(0, last);
    }
    if (last + 1 < buf.length) {
      this.pieces.push(Buffer.from(buf.subarray(last + 1)));
      this.pending = buf.length - last - 1;
    }
    return whole;
  }

  /** Whatever is left after the last newline. */
  end(): Buffer | undefined {
    if (!this.pending) return undefined;
    const r = Buffer.concat(this.pieces, this.pending);
    this.pieces = [];
    this.pending = 0;
    return r;
  }
}

/** Longest accepted line: KSTREAM_MAX_LINE (bytes, or with a k/m/g suffix), default 256 MiB. */
export function maxLineFromEnv(): number {
  const v = process.env.KSTREAM_MAX_LINE;
  const m = v ? /^(\d+)([kmg]?)$/i.exec(v.trim()) : null;
  if (!m) return 256 * 1024 * 1024;
  return Number(m[1]) * ({ '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as Record<string, number>)[m[2].toLowerCase()];
}

export const LONG_LINE_HINT = 'is the input NDJSON, one record per line? (KSTREAM_MAX_LINE raises the limit)';

export class LineTooLong extends Error {
  constructor(readonly lineNo: number, readonly limit: number) {
    super(`line ${lineNo} is longer than ${limit} bytes`);
  }
}


const fatalDecoder = new TextDecoder('utf-8', { fatal: true });
const isAscii: ((b: Uint8Array) => boolean) | undefined = (bufferModule as { isAscii?: (b: Uint8Array) => boolean }).isAscii;

/** The bytes of an ASCII chunk, for NdjsonDecoder.spans; undefined for any other chunk or where isAscii is missing. */
export function asciiChunk(b: Buffer): ChunkBytes | undefined {
  return isAscii && isAscii(b) ? chunkBytes(b) : undefined;
}

/**
 * Decodes, refusing invalid UTF-8 (silently replacing bytes would corrupt records).
 * Pure-ASCII chunks, the common case, take the cheaper latin1 path (identical result for ASCII), and come with
 * their bytes for the scanner, which reads them at the text's indices.
 * On invalid UTF-8 it returns the lines before the bad one and names the bad line, so a run can emit every good
 * record before it fails.
 */
export function decodeUtf8(b: Buffer, firstLine: number, onBad?: (line: number, bytes: Buffer) => void): { text: string; badLine?: number; bytes?: ChunkBytes } {
  if (isAscii && isAscii(b)) return { text: b.toString('latin1'), bytes: chunkBytes(b) };
  try {
    const text = fatalDecoder.decode(b);
    // as many characters as bytes: all ASCII (where isAscii is missing)
    return text.length === b.length ? { text, bytes: chunkBytes(b) } : { text };
  } catch {
    let line = firstLine;
    let start = 0;
    // With `onBad` (--on-error skip/dlq) a line that is not UTF-8 is handed over and left empty in the text, so
    // the lines after it keep their numbers; empty lines are no records.
    const parts: string[] = [];
    for (;;) {
      const nl = b.indexOf(10, start);
      const end = nl < 0 ? b.length : nl;
      try {
        const t = fatalDecoder.decode(b.subarray(start, end));
        if (onBad) parts.push(t);
      } catch {
        if (onBad) {
          onBad(line, Buffer.from(b.subarray(start, end)));
          parts.push('');
          if (nl < 0) return { text: parts.join('\n') };
          start = nl + 1;
          line++;
          continue;
        }
        // Everything before this line decodes (it did line by line); drop the newline before it.
        return { text: start > 0 ? fatalDecoder.decode(b.subarray(0, start - 1)) : '', badLine: line };
      }
      if (onBad && nl < 0) return { text: parts.join('\n') };
      if (nl < 0) break;
      start = nl + 1;
      line++;
    }
    return { text: fatalDecoder.decode(b), badLine: undefined };
  }
}

/**
 * Turns NDJSON text into records. What it materialises depends on the plan: `none` and field lists go through the
 * validating FieldScanner (records keep their original text in `raw`, so untouched records are written back byte
 * for byte), `all` uses JSON.parse. Control lines (`{"$kstream":{"watermark":…}}`, see pipeline/record.ts) become
 * control records; every other line is data.
 */
export class NdjsonDecoder {
  private scanner: FieldScanner | undefined;
  private windowTags = false;
  decoded = 0;
  /** Control lines decoded so far (they are not records: --metrics counts records). */
  controls = 0;
  /** Set when a bad line failed the run (--on-error fail): records before it are still returned first. */
  failure: unknown;

  constructor(private readonly plan: FieldNeeds, private readonly errors: RecordErrors, private readonly src: SourceRef) {
    this.scanner = plan === 'all' ? undefined : new FieldScanner(plan === 'none' ? [] : plan);
  }

  /**
   * Decodes the lines of `text` (lines separated by '\n'), numbering them from `firstLine`. Returns lines consumed.
   * `bytes`: the text's bytes, when they sit at the same indices (decodeUtf8 gives them for ASCII chunks).
   */
  decode(text: string, firstLine: number, out: Rec[], bytes?: ChunkBytes): number {
    let scanner = this.scanner;
    const src = this.src;
    const plain = chunkIsPlain(text);
    const n = text.length;
    let lineNo = firstLine;
    let p = 0;
    for (; p <= n; lineNo++) {
      let e = text.indexOf('\n', p);
      if (e < 0) e = n;
      const next = e + 1;
      if (e > p && text.charCodeAt(e - 1) === 13) e--;
      let a = p;
      // Leading/trailing blanks (rare) are trimmed; blank lines are skipped but still counted.
      let c = text.charCodeAt(a);
      if (c === 32 || c === 9 || c === 13 || c === 0xfeff) {
        while (a < e && ((c = text.charCodeAt(a)) === 32 || c === 9 || c === 13 || c === 0xfeff)) a++;
      }
      c = text.charCodeAt(e - 1);
      if (c === 32 || c === 9) {
        while (e > a && ((c = text.charCodeAt(e - 1)) === 32 || c === 9)) e--;
      }
      p = next;
      if (a >= e) continue;
      try {
        // two comparisons turn away every ordinary object line before a prefix comparison
        if (text.charCodeAt(a + 2) === 36 && text.charCodeAt(a) === 123 && text.startsWith(CONTROL_PREFIX, a)) {
          const ctl = asControl(text.slice(a, e));
          if (ctl) {
            if (ctl.ctl === WINDOW_CONTROL && scanner !== undefined) scanner = this.readWindowTags();
            this.controls++;
            out.push(ctl);
            continue;
          }
        }
        let rec: Rec;
        if (scanner === undefined) {
          const s = text.slice(a, e);
          rec = new Rec(parseStrict(s), s, false, lineNo, src, bytes !== undefined);
        } else {
          const v = scanner.scan(text, a, e, plain, bytes);
          rec = Rec.span(v, text, a, e, scanner.lastWasPartial, lineNo, src, bytes !== undefined);
        }
        out.push(rec);
      } catch (err) {
        if (!this.refuse(lineNo, err, text.slice(a, e))) return lineNo - firstLine + 1;
      }
    }
    this.decoded += lineNo - firstLine;
    return lineNo - firstLine;
  }

  /** Hands a bad line to --on-error; false when that fails the run (`failure` is set then). */
  private refuse(lineNo: number, err: unknown, line: string): boolean {
    try {
      this.errors.handle(this.src.where(lineNo), err instanceof Error ? err.message : String(err), line);
      return true;
    } catch (fatal) {
      this.failure = fatal;
      return false;
    }
  }

  /**
   * decode() for a sink that writes lines as they are, with nothing reading values (plan 'none'): the lines of an
   * ASCII chunk `b` are validated and handed over as byte spans instead of records. A line the learned shape
   * matches costs no string at all; any other line is scanned with the chunk's text (made once, when first
   * needed) exactly as decode() scans it, so it is accepted, learned from or refused alike. Control lines are
   * left out, as sinks leave out control records; bad lines go to --on-error with their numbers.
   */
  spans(b: Buffer, bytes: ChunkBytes, firstLine: number, out: LineSpans): number {
    const scanner = this.scanner!;
    out.firstLine = firstLine;
    out.src = this.src;
    let text: string | undefined;
    let plain = false;
    const n = b.length;
    let lineNo = firstLine;
    let p = 0;
    for (; p <= n; lineNo++) {
      let e = b.indexOf(10, p);
      if (e < 0) e = n;
      const next = e + 1;
      if (e > p && b[e - 1] === 13) e--;
      // the trimming of decode(), over bytes (an ASCII chunk has no byte order mark)
      let a = p;
      let c = b[a];
      if (c === 32 || c === 9 || c === 13) {
        while (a < e && ((c = b[a]) === 32 || c === 9 || c === 13)) a++;
      }
      c = b[e - 1];
      if (c === 32 || c === 9) {
        while (e > a && ((c = b[e - 1]) === 32 || c === 9)) e--;
      }
      p = next;
      if (a >= e) continue;
      const maybeControl = b[a] === 123 && b[a + 1] === 34 && b[a + 2] === 36 && startsControl(b, a);
      if (!maybeControl && scanner.matchBytes(bytes, a, e)) {
        out.push(a, e);
        continue;
      }
      if (text === undefined) {
        text = b.toString('latin1');
        plain = chunkIsPlain(text);
      }
      try {
        // a $window line would widen the views of decode() by the window tags: no views are made here
        if (maybeControl && asControl(text.slice(a, e))) continue;
        scanner.scan(text, a, e, plain, bytes);
        out.push(a, e);
      } catch (err) {
        if (!this.refuse(lineNo, err, text.slice(a, e))) return lineNo - firstLine + 1;
      }
    }
    this.decoded += lineNo - firstLine;
    return lineNo - firstLine;
  }

  /**
   * A `window` stage's output starts with a `$window` line, and its records end with the window tags that a
   * reader of the stream (`aggregate`) follows. From that line on the views include them, so `aggregate` need
   * not name them in its reads — which would make every fused run, where the tags travel on the record itself,
   * look for them in input lines that never have them.
   */
  private readWindowTags(): FieldScanner {
    if (!this.windowTags && this.plan !== 'all') {
      this.windowTags = true;
      this.scanner = new FieldScanner([...new Set([...(this.plan === 'none' ? [] : this.plan), ...TAG_MEMBERS])]);
    }
    return this.scanner!;
  }
}

/** JSON.parse, with the scanner's runtime-independent message when it fails. */
function parseStrict(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    validateJson(s);
    throw new JsonSyntaxError('invalid JSON', 1);
  }
}

/** The controls kstream writes; `{"$kstream":{…}}` with any other name is data. */
const CONTROL_NAMES = new Set([WATERMARK, END, WINDOW_CONTROL]);

/** The control record a parsed line stands for, or undefined when the value is data. */
function controlOf(v: unknown): Rec | undefined {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  let n = 0;
  for (const k in o) if (++n > 1 || k !== CONTROL_KEY) return undefined;
  const inner = o[CONTROL_KEY];
  if (n !== 1 || inner === null || typeof inner !== 'object' || Array.isArray(inner)) return undefined;
  const names = Object.keys(inner);
  if (names.length !== 1 || !CONTROL_NAMES.has(`$${names[0]}`)) return undefined;
  return Rec.control(`$${names[0]}`, (inner as Record<string, unknown>)[names[0]]);
}

/**
 * A data record whose NDJSON line would read as a control line (a Kafka value `{"$kstream":{"watermark":5}}`):
 * a pipe cannot carry it, and it is refused with this message rather than silently turned into a control.
 */
export function looksLikeControl(line: string): boolean {
  if (line.charCodeAt(2) !== 36 || !line.startsWith(CONTROL_PREFIX)) return false;
  try {
    return controlOf(JSON.parse(line)) !== undefined;
  } catch {
    return false;
  }
}

function asControl(s: string): Rec | undefined {
  return controlOf(parseStrict(s));
}

const CONTROL_BYTES = Buffer.from(CONTROL_PREFIX, 'latin1');

function startsControl(b: Buffer, a: number): boolean {
  for (let i = 3; i < CONTROL_BYTES.length; i++) if (b[a + i] !== CONTROL_BYTES[i]) return false;
  return true;
}
