/**
 * The two hot Kafka messages, encoded and decoded here instead of by kafkajs: the Fetch response (record batches
 * in) and the Produce request (record batches out).
 *
 * Why: kafkajs builds a BigInt-backed Long and several strings per record on fetch (≈2 s of decode and GC per
 * million records) and regroups messages per partition with an O(n²) spread on produce (≈15 s per million).
 * Here records stay in the response buffer: a decoded record batch is a set of columns (offsets, timestamps, key
 * and value positions), and values become strings only when the consumer turns them into records. kafkajs still
 * does everything else (connections, SASL, TLS, API version negotiation, metadata, groups, admin).
 *
 * Only message format v2 (Kafka ≥ 0.11) is read and written. Offsets and timestamps are JS numbers: exact up to
 * 2^53, far beyond any real offset or millisecond timestamp.
 */
import { Buffer } from 'node:buffer';
import { COMPRESSION_NAMES, CodecUnavailable, codecId, loadCodec, loadedCodec, type CompressionName } from './compression.js';

export { COMPRESSION_NAMES, type CompressionName };

// ---------------------------------------------------------------------------------------------------------------
// CRC32C (Castagnoli), slicing-by-16: record batches carry it over everything after the crc field. Words are read
// through a DataView (one load for four bytes); 16 bytes a step took 0.6x the time of 8 bytes a step, byte loads.

const CRC_TABLE = (() => {
  const t = new Int32Array(16 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n];
    for (let k = 1; k < 16; k++) {
      c = t[c & 0xff] ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  return t;
})();

export function crc32c(buf: Uint8Array, start = 0, end = buf.length): number {
  const t = CRC_TABLE;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let crc = ~0;
  let i = start;
  for (; i + 16 <= end; i += 16) {
    const a = crc ^ dv.getInt32(i, true);
    const b = dv.getInt32(i + 4, true);
    const c = dv.getInt32(i + 8, true);
    const d = dv.getInt32(i + 12, true);
    crc =
      t[3840 + (a & 0xff)] ^ t[3584 + ((a >>> 8) & 0xff)] ^ t[3328 + ((a >>> 16) & 0xff)] ^ t[3072 + (a >>> 24)] ^
      t[2816 + (b & 0xff)] ^ t[2560 + ((b >>> 8) & 0xff)] ^ t[2304 + ((b >>> 16) & 0xff)] ^ t[2048 + (b >>> 24)] ^
      t[1792 + (c & 0xff)] ^ t[1536 + ((c >>> 8) & 0xff)] ^ t[1280 + ((c >>> 16) & 0xff)] ^ t[1024 + (c >>> 24)] ^
      t[768 + (d & 0xff)] ^ t[512 + ((d >>> 8) & 0xff)] ^ t[256 + ((d >>> 16) & 0xff)] ^ t[d >>> 24];
  }
  for (; i < end; i++) crc = t[(crc ^ buf[i]) & 0xff] ^ (crc >>> 8);
  return ~crc >>> 0;
}

// ---------------------------------------------------------------------------------------------------------------
// Record batches

/**
 * A record batch kstream cannot read. The record set decoder knows the batch's offset; the fetch decoder, which
 * knows the topic and partition, then names the batch as `topic/partition@offset` (`place`).
 */
export class BatchError extends Error {
  topic: string | undefined;
  partition = -1;
  /** What to do about it, when the kind of error does not say. */
  hint: string | undefined;

  /** `text` makes the message from the batch's name; `next` is the offset after the batch (-1: unknown). */
  constructor(private readonly text: (batch: string) => string, public offset = -1, public next = -1) {
    super(text(offset >= 0 ? `offset ${offset}` : 'an unknown offset'));
  }

  /** Names the batch's topic and partition in the message (and its offset, when known). */
  place(topic: string, partition: number): this {
    this.topic = topic;
    this.partition = partition;
    this.message = this.text(`\`${topic}/${partition}${this.offset >= 0 ? `@${this.offset}` : ''}\``);
    return this;
  }

  /** Where to consume from to read past the batch, as a --offset value. */
  get skipOffset(): string | undefined {
    return this.partition >= 0 && this.next >= 0 ? `${this.partition}=${this.next}` : undefined;
  }
}

/** Thrown for data kstream cannot read (a codec it does not have, an old message format). */
export class UnsupportedData extends BatchError {}

/** Thrown when a batch fails its checksum, is cut short in the middle, or does not decompress. */
export class CorruptData extends BatchError {}


export interface RawHeader {
  key: string;
  /** null for a null header value. */
  value: Buffer | null;
}

/**
 * The records of one record batch, as columns over `buf`. A start of -1 means a null key or value.
 * Only records at or after the fetch offset and outside aborted transactions are present.
 */
export interface RecordColumns {
  buf: Buffer;
  count: number;
  offsets: Float64Array;
  timestamps: Float64Array;
  keyStart: Int32Array;
  keyEnd: Int32Array;
  valueStart: Int32Array;
  valueEnd: Int32Array;
  /** Per record, only when some record of the batch has headers. */
  headers: (RawHeader[] | undefined)[] | undefined;
}

export interface FetchedPartition {
  topic: string;
  partition: number;
  errorCode: number;
  highWatermark: number;
  lastStableOffset: number;
  logStartOffset: number;
  batches: RecordColumns[];
  /** Offset after the last complete batch in the response (data, control or aborted); -1 when none was complete. */
  nextOffset: number;
  /** Bytes of the record set once its compressed batches were decompressed, per byte fetched (1: uncompressed). */
  expansion: number;
}

/** What the decoder needs to know about the request: where each partition's fetch started, and the isolation. */
export interface FetchContext {
  fetchOffset(topic: string, partition: number): number;
  readCommitted: boolean;
  /** Check each batch's CRC32C (off by default, as in librdkafka: TCP and the broker already checked it). */
  verifyCrc?: boolean;
  /** The compressed batches of the response (see Inflation); decodeFetch sets it. */
  inflation?: Inflation;
}

/**
 * Compressed batches are decompressed off the JS thread, between two passes of the synchronous decoder: the first
 * lists them (`todo`) and skips them, `inflate` decompresses them all at once, the second decodes them from `done`
 * (by their position in the buffer: a decompressed records section, or why it would not decompress).
 */
export interface Inflation {
  todo: { at: number; codec: number; data: Buffer }[];
  done: Map<number, Buffer | InflateFailure>;
  /** Bytes the decoded batches grew by in decompressing, so far. */
  grown: number;
  /** Where the last complete batch of the record set decoded last ends (a fetch ends in a cut batch, mostly). */
  end: number;
}

/** Why a batch would not decompress; `unavailable`: the codec library did not load (rather than the data being bad). */
class InflateFailure {
  constructor(readonly reason: string, readonly unavailable: boolean) {}
}

/** Decompresses the batches of `inflation.todo` into `inflation.done`; never rejects. */
async function inflate(inflation: Inflation): Promise<void> {
  const { todo, done } = inflation;
  await Promise.all(todo.map(async ({ at, codec, data }) => {
    try {
      const c = loadedCodec(codec) ?? (await loadCodec(codec));
      done.set(at, await c.decompress(data));
    } catch (e) {
      done.set(at, new InflateFailure(e instanceof Error ? e.message.split('\n')[0] : String(e), e instanceof CodecUnavailable));
    }
  }));
  inflation.todo = [];
}

const BATCH_HEADER = 61; // baseOffset .. record count
const ATTR_COMPRESSION = 0x07;
const ATTR_LOG_APPEND_TIME = 0x08;
const ATTR_TRANSACTIONAL = 0x10;
const ATTR_CONTROL = 0x20;

function readInt64(b: Buffer, p: number): number {
  return b.readInt32BE(p) * 4294967296 + b.readUInt32BE(p + 4);
}

function writeInt64(b: Buffer, v: number, p: number): void {
  const hi = Math.floor(v / 4294967296);
  b.writeInt32BE(hi, p);
  b.writeUInt32BE(v - hi * 4294967296, p + 4);
}

// Decoder position, module-level so the varint reader (hot: several calls per record) takes no object; with the
// batch being read (its offset, and the offset after it) for the error of a varint that runs off the end.
let at = 0;
let atBatch = -1;
let atNext = -1;

/** A zigzag varint/varlong at `at` in `b`; advances `at`. One- and two-byte values (the common case) stay in int math. */
function varint(b: Buffer): number {
  const b0 = b[at];
  if (b0 < 0x80) {
    at++;
    return (b0 >>> 1) ^ -(b0 & 1);
  }
  const b1 = b[at + 1];
  if (b1 < 0x80) {
    at += 2;
    const v = (b0 & 0x7f) | (b1 << 7);
    return (v >>> 1) ^ -(v & 1);
  }
  // longer values (up to 10 bytes for a varlong): float math, exact to 2^53
  let v = 0;
  let mul = 1;
  let byte: number;
  let p = at;
  do {
    if (p >= b.length) throw new CorruptData((batch) => `record batch at ${batch} is cut short`, atBatch, atNext);
    byte = b[p++];
    v += (byte & 0x7f) * mul;
    mul *= 128;
  } while (byte & 0x80 && mul < 2 ** 70);
  at = p;
  return v % 2 === 0 ? v / 2 : -(v + 1) / 2;
}

/**
 * The decompressed records section of the compressed batch at `at` from `inflation`, or undefined after listing it
 * there to be decompressed. Failures name the batch's offset.
 */
function inflated(inflation: Inflation | undefined, at: number, id: number, data: Buffer, offset: number, next: number): Buffer | undefined {
  if (id >= COMPRESSION_NAMES.length) {
    throw new UnsupportedData((batch) => `cannot decompress record batch at ${batch}: unknown compression codec ${id} (Kafka defines 0 to 4)`, offset, next);
  }
  // a caller's mistake, not the data's
  if (!inflation) throw new Error(`record batch at offset ${offset} is compressed: decode it with decodeFetch or decodeRecords`);
  const out = inflation.done.get(at);
  if (out === undefined) {
    inflation.todo.push({ at, codec: id, data });
    return undefined;
  }
  if (!(out instanceof InflateFailure)) {
    inflation.grown += out.length - data.length;
    return out;
  }
  const text = (batch: string) => `cannot decompress ${COMPRESSION_NAMES[id]} record batch at ${batch}: ${out.reason}`;
  if (!out.unavailable) throw new CorruptData(text, offset, next);
  const err = new UnsupportedData(text, offset, next);
  err.hint = 'reinstall kstream with npm, which installs the codec library for this platform';
  throw err;
}

export interface AbortTracker {
  /** Aborted transactions not yet started, sorted by first offset. */
  pending: { producerId: number; firstOffset: number }[];
  aborted: Set<number>;
}

/**
 * Decodes the record batches of one partition's record set (`b[start, end)`), appending to `out`.
 * Returns the offset after the last complete batch, or -1. A trailing partial batch (the broker cuts responses
 * at the byte limit) is ignored.
 */
export function decodeRecordSet(
  b: Buffer, start: number, end: number, fetchOffset: number, aborts: AbortTracker | undefined, out: RecordColumns[], verifyCrc = false,
  inflation?: Inflation,
): number {
  let p = start;
  let next = -1;
  if (inflation) inflation.end = start;
  while (p + BATCH_HEADER <= end) {
    const baseOffset = readInt64(b, p);
    const batchLength = b.readInt32BE(p + 8);
    const batchEnd = p + 12 + batchLength;
    if (batchEnd > end) break;
    if (inflation) inflation.end = batchEnd;
    const magic = b[p + 16];
    if (magic !== 2) throw new UnsupportedData((batch) => `record batch at ${batch} is in message format v${magic}; kstream reads format v2 (Kafka 0.11 and later)`, baseOffset);
    if (verifyCrc && crc32c(b, p + 21, batchEnd) !== b.readUInt32BE(p + 17)) {
      throw new CorruptData((batch) => `record batch at ${batch} fails its CRC check`, baseOffset, baseOffset + b.readInt32BE(p + 23) + 1);
    }
    const attributes = b.readInt16BE(p + 21);
    const lastOffsetDelta = b.readInt32BE(p + 23);
    const baseTimestamp = readInt64(b, p + 27);
    const maxTimestamp = readInt64(b, p + 35);
    const producerId = readInt64(b, p + 43);
    const count = b.readInt32BE(p + 57);
    const batchStart = p;
    p = batchEnd;
    next = baseOffset + lastOffsetDelta + 1;

    if (aborts) {
      while (aborts.pending.length && aborts.pending[0].firstOffset <= baseOffset + lastOffsetDelta) {
        aborts.aborted.add(aborts.pending.shift()!.producerId);
      }
      if (attributes & ATTR_CONTROL) {
        // A control batch holds one marker record; key = version int16, type int16 (0 abort, 1 commit).
        if (attributes & ATTR_TRANSACTIONAL) aborts.aborted.delete(producerId);
        continue;
      }
      if (attributes & ATTR_TRANSACTIONAL && aborts.aborted.has(producerId)) continue;
    }
    if (attributes & ATTR_CONTROL) continue;
    if (next <= fetchOffset || count <= 0) continue;

    let rb = b;
    let rp = batchStart + BATCH_HEADER;
    const codec = attributes & ATTR_COMPRESSION;
    if (codec !== 0) {
      const out = inflated(inflation, batchStart, codec, b.subarray(rp, batchEnd), baseOffset, next);
      if (out === undefined) continue; // listed: decoded in the second pass
      rb = out;
      rp = 0;
    }
    const logAppend = (attributes & ATTR_LOG_APPEND_TIME) !== 0;
    const cols: RecordColumns = {
      buf: rb,
      count: 0,
      offsets: new Float64Array(count),
      timestamps: new Float64Array(count),
      keyStart: new Int32Array(count),
      keyEnd: new Int32Array(count),
      valueStart: new Int32Array(count),
      valueEnd: new Int32Array(count),
      headers: undefined,
    };
    at = rp;
    atBatch = baseOffset;
    atNext = next;
    let n = 0;
    for (let i = 0; i < count; i++) {
      const len = varint(rb);
      const recEnd = at + len;
      if (recEnd > rb.length) throw new CorruptData((batch) => `record batch at ${batch} is cut short`, baseOffset, next);
      at++; // attributes (unused)
      const tsDelta = varint(rb);
      const offset = baseOffset + varint(rb);
      const klen = varint(rb);
      const ks = klen < 0 ? -1 : at;
      if (klen > 0) at += klen;
      const vlen = varint(rb);
      const vs = vlen < 0 ? -1 : at;
      if (vlen > 0) at += vlen;
      const hcount = varint(rb);
      let headers: RawHeader[] | undefined;
      if (hcount > 0) {
        headers = new Array(hcount);
        for (let h = 0; h < hcount; h++) {
          const hk = varint(rb);
          const key = rb.toString('utf8', at, at + hk);
          at += hk;
          const hv = varint(rb);
          let value: Buffer | null = null;
          if (hv >= 0) {
            value = rb.subarray(at, at + hv);
            at += hv;
          }
          headers[h] = { key, value };
        }
      }
      at = recEnd;
      if (offset < fetchOffset) continue;
      cols.offsets[n] = offset;
      cols.timestamps[n] = logAppend ? maxTimestamp : baseTimestamp + tsDelta;
      cols.keyStart[n] = ks;
      cols.keyEnd[n] = ks < 0 ? -1 : ks + klen;
      cols.valueStart[n] = vs;
      cols.valueEnd[n] = vs < 0 ? -1 : vs + vlen;
      if (headers) {
        if (!cols.headers) cols.headers = new Array(count);
        cols.headers[n] = headers;
      }
      n++;
    }
    cols.count = n;
    if (n > 0) out.push(cols);
  }
  return next;
}

/**
 * Decodes a Fetch response body (after the correlation id) of API version 4..11.
 * Top-level errors (v7+) are returned as `errorCode` for the caller to raise.
 */
export function decodeFetchResponse(b: Buffer, version: number, ctx: FetchContext): { errorCode: number; partitions: FetchedPartition[] } {
  let p = 0;
  p += 4; // throttle_time_ms
  let errorCode = 0;
  if (version >= 7) {
    errorCode = b.readInt16BE(p);
    p += 6; // error_code, session_id
  }
  const partitions: FetchedPartition[] = [];
  const ntopics = b.readInt32BE(p);
  p += 4;
  for (let t = 0; t < ntopics; t++) {
    const tlen = b.readInt16BE(p);
    const topic = b.toString('utf8', p + 2, p + 2 + tlen);
    p += 2 + tlen;
    const nparts = b.readInt32BE(p);
    p += 4;
    for (let i = 0; i < nparts; i++) {
      const partition = b.readInt32BE(p);
      const perr = b.readInt16BE(p + 4);
      const highWatermark = readInt64(b, p + 6);
      const lastStableOffset = readInt64(b, p + 14);
      p += 22;
      let logStartOffset = -1;
      if (version >= 5) {
        logStartOffset = readInt64(b, p);
        p += 8;
      }
      const naborted = b.readInt32BE(p);
      p += 4;
      let pending: { producerId: number; firstOffset: number }[] | undefined;
      if (naborted > 0) {
        pending = [];
        for (let a = 0; a < naborted; a++) {
          pending.push({ producerId: readInt64(b, p), firstOffset: readInt64(b, p + 8) });
          p += 16;
        }
        pending.sort((x, y) => x.firstOffset - y.firstOffset);
      }
      if (version >= 11) p += 4; // preferred_read_replica
      const size = b.readInt32BE(p);
      p += 4;
      const batches: RecordColumns[] = [];
      let nextOffset = -1;
      const grown = ctx.inflation ? ctx.inflation.grown : 0;
      if (size > 0 && perr === 0) {
        const aborts = ctx.readCommitted ? { pending: pending ?? [], aborted: new Set<number>() } : undefined;
        try {
          nextOffset = decodeRecordSet(b, p, p + size, ctx.fetchOffset(topic, partition), aborts, batches, ctx.verifyCrc, ctx.inflation);
        } catch (e) {
          if (e instanceof BatchError) e.place(topic, partition);
          throw e;
        }
      }
      if (size > 0) p += size;
      // over the complete batches: the cut one at the end was not decompressed
      const whole = ctx.inflation && size > 0 && perr === 0 ? ctx.inflation.end - (p - size) : 0;
      const expansion = whole > 0 ? (whole + ctx.inflation!.grown - grown) / whole : 1;
      partitions.push({ topic, partition, errorCode: perr, highWatermark, lastStableOffset, logStartOffset, batches, nextOffset, expansion });
    }
  }
  return { errorCode, partitions };
}

/**
 * decodeFetchResponse with compressed batches: when the response has some, they are decompressed on the thread
 * pool, all at once, and the response is decoded again with them (see Inflation). Why: on the JS thread,
 * decompressing a million lz4 records took 0.5 s of its time (profiled; the consumer's whole run is ~2 s); on the
 * pool it overlaps with the pipeline's work on the previous response. A codec library is loaded on the first batch
 * that needs it, so a command that never meets a compressed batch loads none.
 */
export async function decodeFetch(b: Buffer, version: number, ctx: FetchContext): Promise<{ errorCode: number; partitions: FetchedPartition[] }> {
  const inflation: Inflation = { todo: [], done: new Map(), grown: 0, end: 0 };
  const first = decodeFetchResponse(b, version, { ...ctx, inflation });
  if (inflation.todo.length === 0) return first;
  await inflate(inflation);
  return decodeFetchResponse(b, version, { ...ctx, inflation });
}

/** decodeRecordSet with compressed batches (as decodeFetch does it): for tests and tools over a bare record set. */
export async function decodeRecords(
  b: Buffer, start: number, end: number, fetchOffset: number, aborts: (() => AbortTracker) | undefined, out: RecordColumns[], verifyCrc = false,
): Promise<number> {
  const inflation: Inflation = { todo: [], done: new Map(), grown: 0, end: 0 };
  const first: RecordColumns[] = [];
  const next = decodeRecordSet(b, start, end, fetchOffset, aborts?.(), first, verifyCrc, inflation);
  if (inflation.todo.length === 0) {
    out.push(...first);
    return next;
  }
  await inflate(inflation);
  return decodeRecordSet(b, start, end, fetchOffset, aborts?.(), out, verifyCrc, inflation);
}

// ---------------------------------------------------------------------------------------------------------------
// Encoding: records are appended straight into a growing buffer, one open batch per partition.

function varintSize(v: number): number {
  let z = v >= 0 ? v * 2 : -v * 2 - 1;
  let n = 1;
  while (z >= 128) {
    z = Math.floor(z / 128);
    n++;
  }
  return n;
}

/**
 * Bytes of an uncompressed record batch holding this record alone, as BatchBuilder lays it out: what the broker
 * compares with a topic's max.message.bytes (the batch header includes the 12 bytes of log overhead it counts).
 */
export function loneRecordBatchBytes(key: Bytes, value: Bytes, headers: readonly OutHeader[] | undefined): number {
  const k = bytesLength(key);
  const v = bytesLength(value);
  // attributes, timestamp delta 0 and offset delta 0 take a byte each
  let body = 3 + varintSize(k) + Math.max(k, 0) + varintSize(v) + Math.max(v, 0) + varintSize(headers ? headers.length : 0);
  if (headers) {
    for (const h of headers) {
      const hk = Buffer.byteLength(h.key);
      const hv = bytesLength(h.value);
      body += varintSize(hk) + hk + varintSize(hv) + Math.max(hv, 0);
    }
  }
  return BATCH_HEADER + varintSize(body) + body;
}

function writeVarint(b: Buffer, v: number, p: number): number {
  let z = v >= 0 ? v * 2 : -v * 2 - 1;
  while (z >= 128) {
    b[p++] = (z % 128) | 0x80;
    z = Math.floor(z / 128);
  }
  b[p++] = z;
  return p;
}

export type Bytes = string | Buffer | null;

const NOT_ASCII = -2;

export interface OutHeader {
  key: string;
  value: Bytes;
}

/** Writes a length-prefixed (varint) key or value at p, `guess` being its expected byte length; returns the end. */
function putBytes(b: Buffer, v: Bytes, guess: number, p: number): number {
  if (v === null) return writeVarint(b, -1, p);
  const ls = varintSize(guess);
  let n: number;
  if (typeof v === 'string') n = guess === 0 ? 0 : b.write(v, p + ls);
  else n = v.copy(b, p + ls);
  const real = varintSize(n);
  if (real !== ls) b.copyWithin(p + real, p + ls, p + ls + n);
  writeVarint(b, n, p);
  return p + real + n;
}

/** Buffer's own Latin-1 writer (Node, Bun and Deno have it; the typings do not): no encoding-name lookup per call. */
type Latin1Writable = Buffer & { latin1Write(s: string, offset: number, length: number): number };

/** A string known to be ASCII: its Latin-1 bytes are its UTF-8 bytes, written without encoding work. */
function putLatin1(b: Buffer, v: string, p: number): number {
  p = writeVarint(b, v.length, p);
  return p + (v.length === 0 ? 0 : (b as Latin1Writable).latin1Write(v, p, v.length));
}

function bytesLength(v: Bytes): number {
  if (v === null) return -1;
  return typeof v === 'string' ? Buffer.byteLength(v, 'utf8') : v.length;
}

/**
 * An open record batch for one partition. Records are written as they come; `seal` adds the header and checksum
 * (compressing the records first when asked).
 */
export class BatchBuilder {
  private buf: Buffer;
  private pos = BATCH_HEADER;
  count = 0;
  private baseTimestamp = 0;
  private maxTimestamp = 0;

  constructor(initial = 64 * 1024, private readonly buffers?: BatchBuffers) {
    this.buf = buffers ? buffers.take(Math.max(initial, 256)) : Buffer.allocUnsafe(Math.max(initial, 256));
  }

  /** After an uncompressed seal: the whole buffer the sealed batch is a view of, to give back once it was sent. */
  reusable: Buffer | undefined;

  /** Bytes the batch takes so far (uncompressed), header included. */
  get size(): number {
    return this.pos;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let len = this.buf.length * 2;
    while (len < this.pos + n) len *= 2;
    const nb = this.buffers ? this.buffers.take(len) : Buffer.allocUnsafe(len);
    this.buf.copy(nb, 0, 0, this.pos);
    this.buffers?.give(this.buf);
    this.buf = nb;
  }

  /**
   * Appends one record and returns the bytes it added; returns -1 without adding it when the batch already holds
   * records and would grow beyond `limit` bytes.
   */
  append(key: Bytes, value: Bytes, timestamp: number, headers: OutHeader[] | undefined, limit = Infinity, asciiValue = false): number {
    if (headers === undefined || headers.length === 0) {
      const n = this.appendAscii(key, value, timestamp, limit, asciiValue);
      if (n !== NOT_ASCII) return n;
    }
    return this.appendAny(key, value, timestamp, headers, limit);
  }

  /**
   * The common case (no headers) with one native call per string: strings are written first and measured after.
   * Their length varints are sized for the ASCII guess (byte length = string length); when the UTF-8 length
   * needs a different varint size the bytes are shifted into place (rare: only non-ASCII text near a size step).
   */
  private appendAscii(key: Bytes, value: Bytes, timestamp: number, limit: number, asciiValue: boolean): number {
    const vguess = value === null ? -1 : value.length;
    // worst case: 3 bytes per UTF-16 unit
    const p = this.head(key, vguess, 3 * Math.max(vguess, 0), timestamp);
    const b = this.buf;
    return this.tail(asciiValue && typeof value === 'string' ? putLatin1(b, value, p) : putBytes(b, value, vguess, p), timestamp, limit);
  }

  /** append() of a record without headers whose value is src[start, end): the bytes are copied as they are. */
  appendBytes(key: Bytes, src: Buffer, start: number, end: number, timestamp: number, limit = Infinity): number {
    const n = end - start;
    // head() may move the batch to a bigger buffer: this.buf is read after it
    const h = this.head(key, n, n, timestamp);
    const p = writeVarint(this.buf, n, h);
    src.copy(this.buf, p, start, end);
    return this.tail(p + n, timestamp, limit);
  }

  // A record without headers is written in two halves around its value: head() up to the value's length, tail()
  // from after the value. The record's length varint is sized for the guessed lengths; when the real length needs
  // another size, tail() shifts the record into place.
  private recStart = 0;
  private recLenSize = 0;

  /** `vroom`: the most bytes the value can take. */
  private head(key: Bytes, vguess: number, vroom: number, timestamp: number): number {
    const tsDelta = this.count === 0 ? 0 : timestamp - this.baseTimestamp;
    const offsetDelta = this.count;
    const kguess = key === null ? -1 : key.length;
    // worst case: 3 bytes per UTF-16 unit of the key, plus varints
    this.ensure(3 * Math.max(kguess, 0) + vroom + 48);
    const b = this.buf;
    const p0 = this.pos;
    const bodyGuess = 1 + varintSize(tsDelta) + varintSize(offsetDelta) + varintSize(kguess) + Math.max(kguess, 0) + varintSize(vguess) + Math.max(vguess, 0) + 1;
    const rs = varintSize(bodyGuess);
    this.recStart = p0;
    this.recLenSize = rs;
    let p = p0 + rs;
    b[p++] = 0;
    p = writeVarint(b, tsDelta, p);
    p = writeVarint(b, offsetDelta, p);
    return putBytes(b, key, kguess, p);
  }

  private tail(p: number, timestamp: number, limit: number): number {
    const b = this.buf;
    const p0 = this.recStart;
    const rs = this.recLenSize;
    b[p++] = 0; // no headers
    const bodyLen = p - p0 - rs;
    if (varintSize(bodyLen) !== rs) {
      b.copyWithin(p0 + varintSize(bodyLen), p0 + rs, p);
      p += varintSize(bodyLen) - rs;
    }
    writeVarint(b, bodyLen, p0);
    const total = p - p0;
    if (this.count > 0 && this.pos + total > limit) return -1;
    this.commit(p, timestamp);
    return total;
  }

  private commit(p: number, timestamp: number): void {
    if (this.count === 0) {
      this.baseTimestamp = timestamp;
      this.maxTimestamp = timestamp;
    } else if (timestamp > this.maxTimestamp) this.maxTimestamp = timestamp;
    this.pos = p;
    this.count++;
  }

  private appendAny(key: Bytes, value: Bytes, timestamp: number, headers: OutHeader[] | undefined, limit: number): number {
    const klen = bytesLength(key);
    const vlen = bytesLength(value);
    const tsDelta = this.count === 0 ? 0 : timestamp - this.baseTimestamp;
    const offsetDelta = this.count;
    let bodyLen = 1 + varintSize(tsDelta) + varintSize(offsetDelta) + varintSize(klen) + Math.max(klen, 0) + varintSize(vlen) + Math.max(vlen, 0);
    let hlens: number[] | undefined;
    const hcount = headers ? headers.length : 0;
    bodyLen += varintSize(hcount);
    if (hcount) {
      hlens = new Array(hcount * 2);
      for (let h = 0; h < hcount; h++) {
        const kl = Buffer.byteLength(headers![h].key, 'utf8');
        const vl = bytesLength(headers![h].value);
        hlens[2 * h] = kl;
        hlens[2 * h + 1] = vl;
        bodyLen += varintSize(kl) + kl + varintSize(vl) + Math.max(vl, 0);
      }
    }
    const total = varintSize(bodyLen) + bodyLen;
    if (this.count > 0 && this.pos + total > limit) return -1;
    this.ensure(total);
    const b = this.buf;
    let p = writeVarint(b, bodyLen, this.pos);
    b[p++] = 0;
    p = writeVarint(b, tsDelta, p);
    p = writeVarint(b, offsetDelta, p);
    p = writeVarint(b, klen, p);
    if (klen > 0) p += typeof key === 'string' ? b.write(key, p, klen, 'utf8') : (key as Buffer).copy(b, p);
    p = writeVarint(b, vlen, p);
    if (vlen > 0) p += typeof value === 'string' ? b.write(value, p, vlen, 'utf8') : (value as Buffer).copy(b, p);
    p = writeVarint(b, hcount, p);
    for (let h = 0; h < hcount; h++) {
      const hd = headers![h];
      p = writeVarint(b, hlens![2 * h], p);
      p += b.write(hd.key, p, hlens![2 * h], 'utf8');
      const vl = hlens![2 * h + 1];
      p = writeVarint(b, vl, p);
      if (vl > 0) p += typeof hd.value === 'string' ? b.write(hd.value, p, vl, 'utf8') : (hd.value as Buffer).copy(b, p);
    }
    this.commit(p, timestamp);
    return total;
  }

  /**
   * The finished record batch (v2), compressed when asked. Without `producer` it carries no producer id
   * (a plain producer); with it, the idempotent fields (producer id, epoch, base sequence) and, for a transaction,
   * the transactional attribute.
   */
  async seal(compression: CompressionName, producer?: BatchProducer): Promise<Buffer> {
    let b = this.buf;
    let end = this.pos;
    let attributes = 0;
    if (compression !== 'none' && this.count > 0) {
      const id = codecId(compression);
      const codec = loadedCodec(id) ?? (await loadCodec(id));
      const z = await codec.compress(b.subarray(BATCH_HEADER, end));
      const nb = Buffer.allocUnsafe(BATCH_HEADER + z.length);
      z.copy(nb, BATCH_HEADER);
      b = nb;
      end = nb.length;
      attributes = id;
    }
    writeInt64(b, 0, 0); // base offset: the broker assigns offsets
    b.writeInt32BE(end - 12, 8);
    b.writeInt32BE(-1, 12); // partition leader epoch
    b[16] = 2; // magic
    b.writeInt16BE(attributes, 21);
    b.writeInt32BE(this.count - 1, 23); // last offset delta
    writeInt64(b, this.baseTimestamp, 27);
    writeInt64(b, this.maxTimestamp, 35);
    if (producer) {
      if (producer.transactional) b.writeInt16BE(attributes | ATTR_TRANSACTIONAL, 21);
      writeInt64(b, producer.producerId, 43);
      b.writeInt16BE(producer.epoch, 51);
      b.writeInt32BE(producer.sequence, 53);
    } else {
      writeInt64(b, -1, 43); // producer id
      b.writeInt16BE(-1, 51); // producer epoch
      b.writeInt32BE(-1, 53); // base sequence
    }
    b.writeInt32BE(this.count, 57);
    b.writeUInt32BE(crc32c(b, 21, end), 17);
    if (b === this.buf) this.reusable = b;
    return b.subarray(0, end);
  }
}

/**
 * Record batch buffers, used again once the broker acknowledged the batch they held: a send of a megabyte chunk
 * otherwise allocated a megabyte or more per partition, and that garbage outside the JS heap drove most of the
 * producer's collections. One pool per process, whatever the number of producers (a transactional producer per
 * input partition under --exactly-once), holding a few buffers of ordinary size.
 */
export class BatchBuffers {
  static readonly shared = new BatchBuffers();
  private readonly free: Buffer[] = [];

  /** A buffer of at least `min` bytes. */
  take(min: number): Buffer {
    for (let i = this.free.length - 1; i >= 0; i--) {
      if (this.free[i].length >= min) return this.free.splice(i, 1)[0];
    }
    return Buffer.allocUnsafeSlow(min);
  }

  give(b: Buffer): void {
    if (this.free.length < MAX_FREE_BUFFERS && b.length <= MAX_POOLED_BYTES) this.free.push(b);
  }
}

const MAX_FREE_BUFFERS = 8;
/** A buffer grown for one huge record is left to the collector. */
const MAX_POOLED_BYTES = 4 * 1024 * 1024;

/** The producer fields of an idempotent or transactional record batch. */
export interface BatchProducer {
  producerId: number;
  epoch: number;
  /** Sequence number of the batch's first record in its partition (per producer id and epoch). */
  sequence: number;
  transactional: boolean;
}

export interface ProduceTopicData {
  topic: string;
  partitions: { partition: number; records: Buffer }[];
}

/**
 * A Produce request v3..v7 body as parts to write one after another: the record batches as they are (never
 * copied), and the small fields around them as views of one small buffer.
 */
export function produceRequestParts(acks: number, timeoutMs: number, topics: ProduceTopicData[], transactionalId: string | null = null): Uint8Array[] {
  const tid = transactionalId === null ? -1 : Buffer.byteLength(transactionalId, 'utf8');
  let size = 2 + Math.max(tid, 0) + 2 + 4 + 4;
  for (const t of topics) size += 2 + Buffer.byteLength(t.topic, 'utf8') + 4 + 8 * t.partitions.length;
  const b = Buffer.allocUnsafe(size);
  const parts: Uint8Array[] = [];
  let p = 0;
  let from = 0;
  b.writeInt16BE(tid, p); // transactional id (-1: null)
  p += 2;
  if (tid > 0) p += b.write(transactionalId!, p, tid, 'utf8');
  b.writeInt16BE(acks, p);
  b.writeInt32BE(timeoutMs, p + 2);
  b.writeInt32BE(topics.length, p + 6);
  p += 10;
  for (const t of topics) {
    const tl = Buffer.byteLength(t.topic, 'utf8');
    b.writeInt16BE(tl, p);
    p += 2;
    p += b.write(t.topic, p, tl, 'utf8');
    b.writeInt32BE(t.partitions.length, p);
    p += 4;
    for (const part of t.partitions) {
      b.writeInt32BE(part.partition, p);
      b.writeInt32BE(part.records.length, p + 4);
      p += 8;
      parts.push(b.subarray(from, p), part.records);
      from = p;
    }
  }
  if (p > from) parts.push(b.subarray(from, p));
  return parts;
}

export interface ProducePartitionResult {
  topic: string;
  partition: number;
  errorCode: number;
  baseOffset: number;
}

/** A Produce response v3..v7 body. */
export function decodeProduceResponse(b: Buffer, version: number): ProducePartitionResult[] {
  const out: ProducePartitionResult[] = [];
  let p = 0;
  const ntopics = b.readInt32BE(p);
  p += 4;
  for (let t = 0; t < ntopics; t++) {
    const tl = b.readInt16BE(p);
    const topic = b.toString('utf8', p + 2, p + 2 + tl);
    p += 2 + tl;
    const n = b.readInt32BE(p);
    p += 4;
    for (let i = 0; i < n; i++) {
      const partition = b.readInt32BE(p);
      const errorCode = b.readInt16BE(p + 4);
      const baseOffset = readInt64(b, p + 6);
      p += 14 + 8; // + log_append_time
      if (version >= 5) p += 8; // log_start_offset
      out.push({ topic, partition, errorCode, baseOffset });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Partitioning: Java's default partitioner (murmur2 of the key bytes), so keys land where Java clients put them.

export function murmur2(key: string | Buffer): number {
  let data: Uint8Array;
  if (typeof key === 'string') {
    let ascii = true;
    for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) > 127) { ascii = false; break; }
    if (ascii) return murmur2Ascii(key);
    data = Buffer.from(key, 'utf8');
  } else data = key;
  const len = data.length;
  const m = 0x5bd1e995;
  let h = (0x9747b28c ^ len) | 0;
  const len4 = len & ~3;
  for (let i = 0; i < len4; i += 4) {
    let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  return murmurTail(h, len, (i) => data[i], len4);
}

function murmur2Ascii(s: string): number {
  const len = s.length;
  const m = 0x5bd1e995;
  let h = (0x9747b28c ^ len) | 0;
  const len4 = len & ~3;
  for (let i = 0; i < len4; i += 4) {
    let k = s.charCodeAt(i) | (s.charCodeAt(i + 1) << 8) | (s.charCodeAt(i + 2) << 16) | (s.charCodeAt(i + 3) << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  return murmurTail(h, len, (i) => s.charCodeAt(i), len4);
}

function murmurTail(h: number, len: number, at: (i: number) => number, i: number): number {
  const m = 0x5bd1e995;
  const rest = len & 3;
  if (rest === 3) h ^= at(i + 2) << 16;
  if (rest >= 2) h ^= at(i + 1) << 8;
  if (rest >= 1) {
    h ^= at(i);
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h;
}

/** Java's `Utils.toPositive(murmur2(key)) % partitions`. */
export function partitionForKey(key: string | Buffer, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions;
}
