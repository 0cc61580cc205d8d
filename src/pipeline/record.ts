import type { Buffer } from 'node:buffer';
import { RuntimeError } from './errors.js';
/**
 * The unit that flows between stages.
 *
 * A record read from NDJSON keeps its original text in `raw` for as long as no stage replaces the value, so a
 * sink can forward it byte for byte without re-serialising. `value` is then either the full parsed value or, when
 * `partial` is set, a view holding only the top-level fields the downstream stages read (see codec/scan.ts);
 * `fullValue()` parses the rest on demand.
 *
 * Control records (watermarks, end markers) travel in-band, in order with the data: `ctl` names the control
 * (for example "$watermark") and `value` carries its payload. Stages pass on controls they do not use.
 * Through a pipe a control is one line under the reserved key `$kstream` (see CONTROL_KEY), so no ordinary
 * record — `{"$set":…}`, `{"$date":…}` — can be taken for one.
 */
export interface Header { key: string; value: string | null }

/** A header as stored: its value's bytes (null for a null value). */
export interface StoredHeader { key: string; value: Buffer | null }

/**
 * The bytes a record had where it was read (a Kafka record batch, an envelope line), for sinks that write it
 * again: a copy job must not turn a tombstone into `null`, text into `"text"` or a binary key into base64. One
 * object serves a whole batch; a record names its row (`Rec.si`), so keeping the bytes costs no allocation per record.
 */
export interface Stored {
  key(i: number): Buffer | null;
  value(i: number): Buffer | null;
  headers(i: number): StoredHeader[] | undefined;
  /** Where the record was read, for envelopes written again. */
  topic(i: number): string | null;
  partition(i: number): number | null;
  offset(i: number): number | null;
  /** The envelope line the record was read from, when it was (a stage in a pipe that leaves it unchanged writes it as it came). */
  line?(i: number): string;
  /** The value's size in bytes, and a copy of them into `to` at `at` (Rec.textStored: a sink writes them as they are). */
  valueSize?(i: number): number;
  copyValue?(i: number, to: Uint8Array, at: number): number;
}

/**
 * What a stage attaches to a record for a later stage in the same process, beside the value (the window tags:
 * time/windowtags.ts). The record's text must show them as a pipe would carry them: `splice` writes them into the
 * text, once, when someone first reads it.
 */
export interface Tags {
  splice(text: string): string;
}

export class Rec {
  value: unknown;
  partial: boolean;
  key: unknown;
  /** Event/record timestamp in ms when the source has one (Kafka record timestamp). */
  ts: number | undefined;
  headers: Header[] | undefined;
  /** Control name ("$watermark", "$end") for control records; undefined for data. */
  ctl: string | undefined;
  /** Where the record came from: a line number for NDJSON, partition/offset for Kafka. */
  pos: number;
  src: SourceRef | undefined;
  /**
   * Tags a stage attached (`tag`) for a later stage in this process, which reads them here instead of from the
   * value; they become part of the text when someone reads `raw`.
   */
  tags: Tags | undefined;
  /** The record's stored bytes and its row there; `valueStored` while the value is still the stored one. */
  stored: Stored | undefined;
  si: number;
  valueStored: boolean;

  // The original text is kept as a span of the decoded chunk and cut only when someone reads it: most records
  // of a selective filter are dropped and never need their own string.
  private text: string | undefined;
  private start: number;
  private end: number;
  /** The text does not show the tags yet: they are spliced in when `raw` is first read. */
  private tagsPending: boolean;
  /**
   * The text is the stored value's bytes, which are ASCII JSON on one line (checked where the record was read):
   * it is decoded only if someone reads `raw`, and a sink that writes lines copies the bytes instead (a plain
   * `consume` decodes no value at all).
   */
  textStored: boolean;
  /**
   * `raw` is known to be ASCII (it is a line of an ASCII chunk): a Kafka sink then copies it into a record batch
   * as Latin-1, half the work of encoding UTF-8.
   */
  ascii: boolean;

  constructor(value: unknown, raw: string | undefined, partial: boolean, pos: number, src?: SourceRef, ascii = false) {
    this.value = value;
    this.text = raw;
    this.start = 0;
    this.end = -1;
    this.partial = partial;
    this.key = undefined;
    this.ts = undefined;
    this.headers = undefined;
    this.ctl = undefined;
    this.pos = pos;
    this.src = src;
    this.tags = undefined;
    this.tagsPending = false;
    this.textStored = false;
    this.ascii = ascii;
    this.stored = undefined;
    this.si = 0;
    this.valueStored = false;
  }

  /** Marks the record as row `i` of `stored`, its value still the stored one. */
  storedAs(stored: Stored, i: number): this {
    this.stored = stored;
    this.si = i;
    this.valueStored = true;
    return this;
  }

  /** Marks the record as row `i` of `stored`, its text the stored value's ASCII bytes (see `textStored`). */
  storedText(stored: Stored, i: number): this {
    this.storedAs(stored, i);
    this.textStored = true;
    this.ascii = true;
    return this;
  }

  /** Exact JSON text of the value while no stage has replaced it. */
  get raw(): string | undefined {
    if (this.textStored) {
      this.textStored = false;
      this.text = (this.stored!.value(this.si) as Buffer).toString('latin1');
    }
    if (this.end >= 0) {
      this.text = (this.text as string).slice(this.start, this.end);
      this.end = -1;
    }
    if (this.tagsPending) {
      this.tagsPending = false;
      if (this.text !== undefined) this.text = (this.tags as Tags).splice(this.text);
    }
    return this.text;
  }

  set raw(v: string | undefined) {
    this.text = v;
    this.textStored = false;
    this.end = -1;
    this.tagsPending = false;
    this.ascii = false;
    this.valueStored = false;
  }

  /**
   * Sets the tags. The text gains them when read; the value is the caller's business (a copy with the tags, or a
   * view written in place). Tags the text does not show yet are written into it first, so a record tagged twice
   * reads as it would through a pipe: both sets, the later ones last (JSON takes the last).
   */
  tag(tags: Tags): void {
    if (this.tagsPending || this.textStored) void this.raw;
    this.tags = tags;
    this.tagsPending = this.text !== undefined;
    // the tags (a group key, say) may not be ASCII
    this.ascii = false;
    // the text now differs from the stored value: a sink writes the tagged text, as it would through a pipe
    this.valueStored = false;
  }

  /** A record whose original text is chunk[start, end); `ascii` when the chunk is. */
  static span(value: unknown, chunk: string, start: number, end: number, partial: boolean, pos: number, src: SourceRef, ascii = false): Rec {
    const r = new Rec(value, chunk, partial, pos, src, ascii);
    r.start = start;
    r.end = end;
    return r;
  }

  /** The complete value, parsing the original text when only a view was decoded. */
  fullValue(): unknown {
    if (this.partial) {
      this.value = JSON.parse(this.raw as string);
      this.partial = false;
    }
    return this.value;
  }

  /** Replace the value; the original text no longer describes it. */
  setValue(v: unknown): void {
    this.value = v;
    this.text = undefined;
    this.textStored = false;
    this.end = -1;
    this.partial = false;
    this.ascii = false;
    this.valueStored = false;
    // The tags described the old value; a stage that keeps them in its new value passes them on there.
    if (this.tags !== undefined) {
      this.tags = undefined;
      this.tagsPending = false;
    }
  }

  /**
   * A new record derived from this one (flatmap, aggregates): keeps key, time, headers and position — not the
   * tags, which described this record's value.
   */
  derive(v: unknown): Rec {
    const r = new Rec(v, undefined, false, this.pos, this.src);
    r.key = this.key;
    r.ts = this.ts;
    r.headers = this.headers;
    // the stored key and headers still describe it; the value is new
    r.stored = this.stored;
    r.si = this.si;
    return r;
  }

  where(): string {
    return this.src ? this.src.where(this.pos) : `record ${this.pos}`;
  }

  static control(name: string, payload: unknown): Rec {
    const r = new Rec(payload, undefined, false, -1);
    r.ctl = name;
    return r;
  }
}

/** Shared per source: names positions for errors without a closure per record. */
export interface SourceRef {
  where(pos: number): string;
  /** Kafka sources: topic/partition of the batch, for offset commits. */
  readonly name: string;
  /**
   * The input partitions read together with this one (a Kafka source's assignment), when there are several:
   * each keeps its own stream time, and a stage's is the least of them (time/watermark.ts).
   */
  readonly group?: InputGroup;
}

/** The partitions a source currently reads. */
export interface InputGroup {
  readonly members: readonly SourceRef[];
  /** Whether the partition has records the pipeline has not taken yet (it is not idle while it has). */
  waiting(ref: SourceRef): boolean;
}

export const WATERMARK = '$watermark';
export const END = '$end';

/**
 * The one reserved top-level key of the NDJSON between kstream stages: a control line is exactly
 * `{"$kstream":{"<name>":<payload>}}` (`{"$kstream":{"watermark":1767225660000}}`). Anything else is data, however
 * many `$` it has. Internally controls are named with a `$` ("$watermark"); on the wire the `$` is dropped.
 */
export const CONTROL_KEY = '$kstream';
/** What every control line starts with, byte for byte (the encoder writes no spaces). */
export const CONTROL_PREFIX = '{"$kstream":{"';

/** Encode a record's value as one NDJSON line (without newline). */
export function encodeValue(r: Rec): string {
  if (r.ctl !== undefined) return `{"${CONTROL_KEY}":{${JSON.stringify(r.ctl.slice(1))}:${JSON.stringify(r.value)}}}`;
  if (r.raw !== undefined) return r.raw;
  let s: string | undefined;
  try {
    s = JSON.stringify(r.value);
  } catch (e) {
    // a BigInt inside the value (one at the top is a record error of the stage that made it)
    throw new RuntimeError(`${r.where()}: its value cannot be written as JSON (${(e as Error).message})`, 'convert BigInt fields with Number(…) or String(…) in the expression that makes them');
  }
  // JSON.stringify(undefined) is undefined: a map that returns nothing yields null, as jq does for missing values.
  return s === undefined ? 'null' : s;
}
