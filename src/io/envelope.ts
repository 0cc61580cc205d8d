/**
 * The consume envelope: one Kafka record as one JSON object,
 *   {"topic","partition","offset","timestamp","key","headers":[{"key","value"}],"value"}
 * like kcat -J, and the input format of `produce --envelope`, so consume → edit → produce round-trips losslessly.
 *
 * Bytes map to JSON like this (the same for key, header values and value):
 *  - null stays null (distinct from "", the empty string);
 *  - a value that is exactly one compact JSON value and not a string (an object, array, number, true, false,
 *    written without surrounding whitespace or line breaks) is embedded as that JSON, byte for byte;
 *  - other UTF-8 text (including a JSON string with its quotes, and JSON with line breaks) is a JSON string;
 *  - bytes that are not UTF-8 are base64 with an encoding marker: "encoding":"base64" for the value,
 *    "keyEncoding":"base64" for the key, "encoding":"base64" inside a header.
 * Keys and header values are always text (never embedded JSON), as Kafka tools show them.
 */
import { Buffer } from 'node:buffer';
import bufferModule from 'node:buffer';
import { encodeValue, Rec, type Header, type SourceRef, type Stored, type StoredHeader } from '../pipeline/record.js';
import { chunkIsPlain, FieldScanner } from '../codec/scan.js';

const nodeIsUtf8: ((b: Uint8Array) => boolean) | undefined = (bufferModule as { isUtf8?: (b: Uint8Array) => boolean }).isUtf8;
const fatal = new TextDecoder('utf-8', { fatal: true });

function validUtf8(b: Uint8Array): boolean {
  if (nodeIsUtf8) return nodeIsUtf8(b);
  try {
    fatal.decode(b);
    return true;
  } catch {
    return false;
  }
}

/**
 * The UTF-8 text of `buf[start, end)`, or undefined when the bytes are not valid UTF-8. The common case costs one
 * decode: only text containing U+FFFD (what invalid bytes decode to) is checked byte by byte.
 */
export function utf8Text(buf: Buffer, start: number, end: number): string | undefined {
  const s = buf.toString('utf8', start, end);
  if (s.indexOf('\uFFFD') >= 0 && !validUtf8(buf.subarray(start, end))) return undefined;
  return s;
}

const emptyScanner = new FieldScanner([]);

/**
 * True when `text` is exactly one JSON value that is neither a string nor null, with nothing around it and no line break in
 * it: such values are embedded in envelopes (and forwarded as NDJSON) as they are.
 */
export function isCompactJson(text: string): boolean {
  const n = text.length;
  if (n === 0) return false;
  const c = text.charCodeAt(0);
  // starts like an object, array, number, true or false; never a string or whitespace, and never null: the text
  // `null` embedded would read back as a null value (a tombstone), so it goes as the string "null"
  if (!(c === 123 || c === 91 || c === 45 || (c >= 48 && c <= 57) || c === 116 || c === 102)) return false;
  const last = text.charCodeAt(n - 1);
  if (last === 32 || last === 9 || last === 10 || last === 13) return false;
  if (text.indexOf('\n') >= 0 || text.indexOf('\r') >= 0) return false;
  try {
    emptyScanner.scan(text, 0, n, chunkIsPlain(text));
    return true;
  } catch {
    return false;
  }
}

/** JSON for a key or header value: text as a string, null as null, other bytes as base64 (flagged). */
export function textJson(buf: Buffer, start: number, end: number): { json: string; text: string | null; base64: boolean } {
  if (start < 0) return { json: 'null', text: null, base64: false };
  const t = utf8Text(buf, start, end);
  if (t !== undefined) return { json: JSON.stringify(t), text: t, base64: false };
  const b64 = buf.toString('base64', start, end);
  return { json: JSON.stringify(b64), text: b64, base64: true };
}

const NULL_TEXT = { json: 'null', text: null, base64: false } as const;

export interface EnvelopeHeader {
  key: string;
  value: string | null;
  encoding?: 'base64';
}

/** Headers as the envelope writes them, plus their Rec form (base64 text for binary values). */
export function headersJson(headers: { key: string; value: Buffer | null }[]): { json: string; list: EnvelopeHeader[]; rec: Header[] } {
  const parts: string[] = [];
  const list: EnvelopeHeader[] = [];
  const rec: Header[] = [];
  for (const h of headers) {
    const v = h.value === null ? NULL_TEXT : textJson(h.value, 0, h.value.length);
    parts.push(`{"key":${JSON.stringify(h.key)},"value":${v.json}${v.base64 ? ',"encoding":"base64"' : ''}}`);
    list.push(v.base64 ? { key: h.key, value: v.text, encoding: 'base64' } : { key: h.key, value: v.text });
    rec.push({ key: h.key, value: v.text });
  }
  return { json: `[${parts.join(',')}]`, list, rec };
}

/** An envelope's `value` for a value's text: embedded when it is compact JSON, else a JSON string. */
interface ValueJson {
  json: string;
  base64: boolean;
  embedded: boolean;
  /** The value as a string, when it is not embedded JSON: its text, or base64 for bytes (null for null). */
  text: string | null;
}

function valueTextJson(text: string): ValueJson {
  return isCompactJson(text) ? { json: text, base64: false, embedded: true, text: null } : { json: JSON.stringify(text), base64: false, embedded: false, text };
}

/** An envelope's `value` for stored bytes (the mapping at the top of this file); start < 0 is a null value. */
export function valueJson(buf: Buffer, start: number, end: number): ValueJson {
  if (start < 0) return { json: 'null', base64: false, embedded: false, text: null };
  const text = utf8Text(buf, start, end);
  if (text === undefined) {
    const b64 = buf.toString('base64', start, end);
    return { json: `"${b64}"`, base64: true, embedded: false, text: b64 };
  }
  return valueTextJson(text);
}

/** The one envelope line: `consume --format envelope` and stages writing `--envelope` both write it. */
export function envelopeLine(
  topicJson: string, partition: number | null, offset: number | null, ts: number | null,
  key: { json: string; base64: boolean }, headers: string, value: { json: string; base64: boolean },
): string {
  return `{"topic":${topicJson},"partition":${partition},"offset":${offset},"timestamp":${ts},"key":${key.json},"headers":${headers},"value":${value.json}${value.base64 ? ',"encoding":"base64"' : ''}${key.base64 ? ',"keyEncoding":"base64"' : ''}}`;
}

/** Whether text starting with this character code may be JSON (else it is a string straight away). */
export function startsJson(c: number): boolean {
  return c === 123 || c === 91 || c === 34 || c === 45 || (c >= 48 && c <= 57) || c === 116 || c === 102 || c === 110 || c === 32 || c === 9 || c === 10 || c === 13;
}

/**
 * A record for a value's text, as `consume` hands values to stages: JSON when the text is JSON (its text kept for
 * byte-for-byte output when it is one line; `scanner` reads only the fields stages need), else the text itself.
 */
export function textRec(text: string, scanner: FieldScanner | undefined, pos: number, src: SourceRef): Rec {
  if (startsJson(text.charCodeAt(0))) {
    const oneLine = text.indexOf('\n') < 0 && text.indexOf('\r') < 0;
    try {
      // JSON over several lines is re-serialised on output: the line breaks cannot go to NDJSON
      if (!oneLine) return new Rec(JSON.parse(text), undefined, false, pos, src);
      if (scanner === undefined) return new Rec(JSON.parse(text), text, false, pos, src);
      const v = scanner.scan(text, 0, text.length, chunkIsPlain(text));
      return new Rec(v, text, scanner.lastWasPartial, pos, src);
    } catch {
      // not JSON: a string
    }
  }
  return new Rec(text, undefined, false, pos, src);
}

// ---------------------------------------------------------------------------------------------------------------
// Reading envelopes back (produce --envelope)

/**
 * The span [start, end) of the text of top-level field `name` in a JSON object line, or undefined. The last
 * occurrence wins, as in JSON.parse. The line must already be valid JSON.
 */
export function fieldSpan(line: string, name: string): [number, number] | undefined {
  const n = line.length;
  let i = 0;
  while (i < n && line.charCodeAt(i) !== 123) i++;
  if (i >= n) return undefined;
  i++;
  let found: [number, number] | undefined;
  for (;;) {
    while (i < n && isWs(line.charCodeAt(i))) i++;
    if (line.charCodeAt(i) !== 34) return found; // '}' or malformed
    const keyStart = i;
    i = skipString(line, i);
    const key = line.slice(keyStart, i);
    while (i < n && line.charCodeAt(i) !== 58) i++;
    i++;
    while (i < n && isWs(line.charCodeAt(i))) i++;
    const vs = i;
    i = skipValue(line, i);
    if (key === `"${name}"` || (key.includes('\\') && JSON.parse(key) === name)) found = [vs, i];
    while (i < n && isWs(line.charCodeAt(i))) i++;
    if (line.charCodeAt(i) === 44) i++;
    else return found;
  }
}

function isWs(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

function skipString(s: string, i: number): number {
  i++;
  for (;;) {
    const c = s.charCodeAt(i);
    if (c === 92) i += 2;
    else if (c === 34) return i + 1;
    else if (Number.isNaN(c)) return i;
    else i++;
  }
}

function skipValue(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c === 34) return skipString(s, i);
  if (c === 123 || c === 91) {
    let depth = 0;
    for (;;) {
      const d = s.charCodeAt(i);
      if (Number.isNaN(d)) return i;
      if (d === 34) { i = skipString(s, i); continue; }
      if (d === 123 || d === 91) depth++;
      else if (d === 125 || d === 93) {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
  }
  // number, true, false, null
  while (i < s.length) {
    const d = s.charCodeAt(i);
    if (d === 44 || d === 125 || d === 93 || isWs(d)) break;
    i++;
  }
  return i;
}

export interface EnvelopeRecord {
  key: string | Buffer | null;
  value: string | Buffer | null;
  headers: { key: string; value: string | Buffer | null }[] | undefined;
  partition: number | undefined;
  timestamp: number | undefined;
  topic: string | undefined;
  offset: number | undefined;
  /** The value already parsed, when the envelope embedded it as JSON (`value` is then its text). */
  parsed?: unknown;
}

export class NotAnEnvelope extends Error {}

function bytesOf(v: unknown, base64: boolean, what: string): string | Buffer | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return base64 ? Buffer.from(v, 'base64') : v;
  if (base64) throw new NotAnEnvelope(`${what} marked base64 is not a string`);
  return JSON.stringify(v);
}

/**
 * The Kafka record an envelope describes. `raw` is the envelope's JSON text when available: an embedded JSON
 * value is then sent byte for byte as it appears there. Also reads kcat -J output (`payload`, `ts`, headers as a
 * flat [k, v, ...] list).
 */
export function fromEnvelope(env: unknown, raw: string | undefined): EnvelopeRecord {
  if (env === null || typeof env !== 'object' || Array.isArray(env)) throw new NotAnEnvelope('not an envelope object');
  const e = env as Record<string, unknown>;
  const valueField = 'value' in e ? 'value' : 'payload' in e ? 'payload' : undefined;
  if (valueField === undefined) throw new NotAnEnvelope('envelope has no `value` field');
  const v = e[valueField];
  let value: string | Buffer | null;
  let parsed: unknown;
  if (e.encoding === 'base64') value = bytesOf(v, true, 'value');
  else if (v === null || v === undefined) value = null;
  else if (typeof v === 'string') value = v;
  else {
    const span = raw !== undefined ? fieldSpan(raw, valueField) : undefined;
    value = span ? raw!.slice(span[0], span[1]) : JSON.stringify(v);
    parsed = v;
  }
  const key = bytesOf(e.key, e.keyEncoding === 'base64', 'key');
  let headers: EnvelopeRecord['headers'];
  const h = e.headers;
  if (Array.isArray(h) && h.length) {
    if (typeof h[0] === 'string' || h[0] === null) {
      headers = [];
      for (let i = 0; i + 1 < h.length; i += 2) headers.push({ key: String(h[i]), value: bytesOf(h[i + 1], false, 'header value') });
    } else {
      headers = h.map((x) => {
        const hx = x as { key?: unknown; value?: unknown; encoding?: unknown };
        if (hx === null || typeof hx !== 'object' || typeof hx.key !== 'string') throw new NotAnEnvelope('headers must be [{"key": …, "value": …}]');
        return { key: hx.key, value: bytesOf(hx.value, hx.encoding === 'base64', 'header value') };
      });
    }
  } else if (h && typeof h === 'object' && !Array.isArray(h)) {
    headers = Object.entries(h as Record<string, unknown>).map(([k, hv]) => ({ key: k, value: bytesOf(hv, false, 'header value') }));
  }
  const partition = typeof e.partition === 'number' && Number.isInteger(e.partition) && e.partition >= 0 ? e.partition : undefined;
  const timestamp = envelopeTime(e.timestamp ?? e.ts);
  const topic = typeof e.topic === 'string' ? e.topic : undefined;
  const offset = typeof e.offset === 'number' && Number.isInteger(e.offset) && e.offset >= 0 ? e.offset : undefined;
  const out: EnvelopeRecord = { key, value, headers, partition, timestamp, topic, offset };
  if (parsed !== undefined) out.parsed = parsed;
  return out;
}

/**
 * An envelope's timestamp: epoch ms (a number or its digits) or an RFC 3339 time; absent, null or -1 (Kafka's "no
 * timestamp") leave it to the producer. Anything else is refused rather than replaced by the time of sending.
 */
function envelopeTime(t: unknown): number | undefined {
  if (t === undefined || t === null || t === -1) return undefined;
  let ms = NaN;
  if (typeof t === 'number') ms = t;
  // RFC 3339 needs an offset (Z or ±hh:mm): without one Date.parse would read the time in this machine's zone
  else if (typeof t === 'string') ms = /^\d+$/.test(t) ? Number(t) : /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.test(t) ? Date.parse(t.replace(' ', 'T')) : NaN;
  if (Number.isInteger(ms) && ms >= 0) return ms;
  throw new NotAnEnvelope(`timestamp ${JSON.stringify(t)} is neither epoch milliseconds nor an RFC 3339 time (2026-01-01T00:00:00Z)`);
}

// ---------------------------------------------------------------------------------------------------------------
// Envelopes through a pipe: `consume --format envelope | kstream filter --envelope … | produce --envelope`

const asBuffer = (v: string | Buffer | null): Buffer | null => (v === null ? null : typeof v === 'string' ? Buffer.from(v, 'utf8') : v);

/** Text of a key or header value as stages see it: the text, or base64 for bytes that are not UTF-8. */
const textOf = (v: string | Buffer | null): string | null => (v === null || typeof v === 'string' ? v : textJson(v, 0, v.length).text);

/** The stored bytes of the envelopes of one input chunk (Rec.stored), and their lines. */
export class EnvelopeStored implements Stored {
  private readonly rows: EnvelopeRecord[] = [];
  private readonly lines: string[] = [];

  add(env: EnvelopeRecord, line: string): number {
    this.rows.push(env);
    this.lines.push(line);
    return this.rows.length - 1;
  }
  key(i: number): Buffer | null {
    return asBuffer(this.rows[i].key);
  }
  value(i: number): Buffer | null {
    return asBuffer(this.rows[i].value);
  }
  headers(i: number): StoredHeader[] | undefined {
    return this.rows[i].headers?.map((h) => ({ key: h.key, value: asBuffer(h.value) }));
  }
  topic(i: number): string | null {
    return this.rows[i].topic ?? null;
  }
  partition(i: number): number | null {
    return this.rows[i].partition ?? null;
  }
  offset(i: number): number | null {
    return this.rows[i].offset ?? null;
  }
  line(i: number): string {
    return this.lines[i];
  }
}

/**
 * A record for an envelope read from a pipe: `r` is its value (as `consume` gives it), `key`, `ts` and `headers`
 * are the envelope's, and the stored bytes are kept so that what no stage changes goes out exactly as it came.
 */
export function envelopeRec(env: EnvelopeRecord, line: string, stored: EnvelopeStored, pos: number, src: SourceRef): Rec {
  const v = env.value;
  let rec: Rec;
  if (v === null) rec = new Rec(null, undefined, false, pos, src);
  // embedded JSON was parsed with the envelope: not again
  else if (env.parsed !== undefined) rec = new Rec(env.parsed, v as string, false, pos, src);
  else if (typeof v === 'string') rec = textRec(v, undefined, pos, src);
  else {
    // bytes from base64: a value that is not UTF-8 is its base64 text, as consume gives it
    const text = utf8Text(v, 0, v.length);
    rec = text === undefined ? new Rec(v.toString('base64'), undefined, false, pos, src) : textRec(text, undefined, pos, src);
  }
  rec.storedAs(stored, stored.add(env, line));
  rec.key = textOf(env.key);
  rec.ts = env.timestamp;
  if (env.headers) rec.headers = env.headers.map((h) => ({ key: h.key, value: textOf(h.value) }));
  return rec;
}

/**
 * The envelope line of a record written by a stage in a pipe: its stored line when no stage replaced the value
 * (byte for byte), else an envelope with the record's key, time, headers and origin around its value (the value's
 * JSON text, as `produce` would write it).
 */
export function envelopeOf(rec: Rec): string {
  const st = rec.stored;
  const i = rec.si;
  if (st !== undefined && rec.valueStored && st.line) return st.line(i);
  let key: Buffer | null;
  let headers: { key: string; value: Buffer | null }[] | undefined;
  if (st !== undefined) {
    key = st.key(i);
    headers = st.headers(i);
  } else {
    const k = rec.key;
    key = k === undefined || k === null ? null : Buffer.from(typeof k === 'string' ? k : JSON.stringify(k), 'utf8');
    headers = rec.headers?.map((h) => ({ key: h.key, value: asBuffer(h.value) }));
  }
  const stored = st !== undefined && rec.valueStored ? st.value(i) : undefined;
  const value = stored === undefined ? valueTextJson(encodeValue(rec)) : stored === null ? valueJson(EMPTY, -1, -1) : valueJson(stored, 0, stored.length);
  const keyJson = key === null ? NULL_TEXT : textJson(key, 0, key.length);
  return envelopeLine(JSON.stringify(st?.topic(i) ?? null), st?.partition(i) ?? null, st?.offset(i) ?? null, rec.ts ?? null, keyJson, headers?.length ? headersJson(headers).json : '[]', value);
}

const EMPTY = Buffer.alloc(0);
