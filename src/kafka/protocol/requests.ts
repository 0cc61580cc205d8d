/**
 * Request and response bodies kstream encodes itself beyond the two that carry records (records.ts): Fetch (versions
 * 4..11, for its own record decoding), OffsetFetch v7 (require_stable, which kafkajs does not reach) and
 * IncrementalAlterConfigs (which kafkajs does not have). Pure: bytes in, bytes out; the transport writes them.
 */
import { Buffer } from 'node:buffer';

/** What a fetch may read: everything, or only committed transactions' records. */
export type Isolation = 'read_uncommitted' | 'read_committed';

export interface FetchPartitionRequest {
  topic: string;
  partition: number;
  offset: number;
  maxBytes: number;
}

/** The Fetch request body for versions 4..11. */
export function encodeFetchRequest(v: number, isolation: Isolation, maxWaitMs: number, minBytes: number, maxBytes: number, parts: FetchPartitionRequest[]): Buffer {
  const byTopic = new Map<string, FetchPartitionRequest[]>();
  for (const p of parts) {
    let l = byTopic.get(p.topic);
    if (!l) byTopic.set(p.topic, (l = []));
    l.push(p);
  }
  let size = 4 + 4 + 4 + 4 + 1 + (v >= 7 ? 8 : 0) + 4 + (v >= 7 ? 4 : 0) + (v >= 11 ? 2 : 0);
  const perPartition = 4 + (v >= 9 ? 4 : 0) + 8 + (v >= 5 ? 8 : 0) + 4;
  for (const [topic, l] of byTopic) size += 2 + Buffer.byteLength(topic) + 4 + l.length * perPartition;
  const b = Buffer.alloc(size);
  let p = 0;
  b.writeInt32BE(-1, p); // replica id
  b.writeInt32BE(maxWaitMs, p + 4);
  b.writeInt32BE(minBytes, p + 8);
  b.writeInt32BE(maxBytes, p + 12);
  b.writeInt8(isolation === 'read_committed' ? 1 : 0, p + 16);
  p += 17;
  if (v >= 7) {
    b.writeInt32BE(0, p); // session id: no fetch session
    b.writeInt32BE(-1, p + 4); // session epoch: full fetch, no session
    p += 8;
  }
  b.writeInt32BE(byTopic.size, p);
  p += 4;
  for (const [topic, l] of byTopic) {
    const tl = Buffer.byteLength(topic);
    b.writeInt16BE(tl, p);
    p += 2;
    p += b.write(topic, p, tl, 'utf8');
    b.writeInt32BE(l.length, p);
    p += 4;
    for (const part of l) {
      b.writeInt32BE(part.partition, p);
      p += 4;
      if (v >= 9) {
        b.writeInt32BE(-1, p); // current leader epoch: unknown
        p += 4;
      }
      const hi = Math.floor(part.offset / 4294967296);
      b.writeInt32BE(hi, p);
      b.writeUInt32BE(part.offset - hi * 4294967296, p + 4);
      p += 8;
      if (v >= 5) {
        b.writeInt32BE(-1, p); // log start offset (followers only)
        b.writeInt32BE(-1, p + 4);
        p += 8;
      }
      b.writeInt32BE(part.maxBytes, p);
      p += 4;
    }
  }
  if (v >= 7) {
    b.writeInt32BE(0, p); // forgotten topics
    p += 4;
  }
  if (v >= 11) b.writeInt16BE(0, p); // rack id ""
  return b;
}

// ---------------------------------------------------------------------------------------------------------------
// OffsetFetch v7 (flexible: compact strings and arrays, tagged fields). kafkajs writes request header v1; the v2
// header of a flexible request only adds empty tagged fields after the client id, so the body starts with them.

function uvarint(out: number[], v: number): void {
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
}

function compactString(out: number[], s: string): void {
  const b = Buffer.from(s, 'utf8');
  uvarint(out, b.length + 1);
  for (const x of b) out.push(x);
}

function int32(out: number[], v: number): void {
  out.push((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
}

export function encodeOffsetFetchV7(groupId: string, tps: { topic: string; partition: number }[]): Buffer {
  const byTopic = new Map<string, number[]>();
  for (const tp of tps) {
    let l = byTopic.get(tp.topic);
    if (!l) byTopic.set(tp.topic, (l = []));
    l.push(tp.partition);
  }
  const out: number[] = [0]; // request header tagged fields
  compactString(out, groupId);
  uvarint(out, byTopic.size + 1);
  for (const [topic, parts] of byTopic) {
    compactString(out, topic);
    uvarint(out, parts.length + 1);
    for (const p of parts) int32(out, p);
    out.push(0); // tagged fields
  }
  out.push(1); // require_stable
  out.push(0); // tagged fields
  return Buffer.from(out);
}

export interface OffsetFetchResult {
  errorCode: number;
  partitions: { topic: string; partition: number; offset: number; errorCode: number }[];
}

/**
 * Reads a response body: fixed-width integers, unsigned varints, strings in their classic (INT16 length) and compact
 * (varint length + 1) forms, and the tagged-field sections of flexible versions.
 */
class Reader {
  p = 0;
  constructor(private readonly b: Buffer, private readonly flexible: boolean) {}
  int8(): number {
    return this.b.readInt8(this.p++);
  }
  int16(): number {
    const v = this.b.readInt16BE(this.p);
    this.p += 2;
    return v;
  }
  int32(): number {
    const v = this.b.readInt32BE(this.p);
    this.p += 4;
    return v;
  }
  int64(): number {
    const v = this.b.readInt32BE(this.p) * 4294967296 + this.b.readUInt32BE(this.p + 4);
    this.p += 8;
    return v;
  }
  uvarint(): number {
    let v = 0;
    let shift = 0;
    for (;;) {
      const x = this.b[this.p++];
      v += (x & 0x7f) * 2 ** shift;
      if (x < 0x80) return v;
      shift += 7;
    }
  }
  /** An array's length: INT32, or a compact length (N + 1) in flexible versions. */
  arrayLength(): number {
    return this.flexible ? this.uvarint() - 1 : this.int32();
  }
  /** A (nullable) string in this version's form. */
  string(): string | null {
    const n = this.flexible ? this.uvarint() - 1 : this.int16();
    if (n < 0) return null;
    const s = this.b.toString('utf8', this.p, this.p + n);
    this.p += n;
    return s;
  }
  skip(n: number): void {
    this.p += n;
  }
  /** A flexible version's tagged fields, none of which kstream reads. */
  skipTags(): void {
    if (!this.flexible) return;
    const n = this.uvarint();
    for (let i = 0; i < n; i++) {
      this.uvarint();
      this.p += this.uvarint();
    }
  }
}

export function decodeOffsetFetchV7(b: Buffer): OffsetFetchResult {
  const r = new Reader(b, true);
  r.skipTags(); // response header
  r.skip(4); // throttle time
  const partitions: OffsetFetchResult['partitions'] = [];
  const ntopics = r.arrayLength();
  for (let t = 0; t < ntopics; t++) {
    const topic = r.string() ?? '';
    const nparts = r.arrayLength();
    for (let i = 0; i < nparts; i++) {
      const partition = r.int32();
      const offset = r.int64();
      r.skip(4); // leader epoch
      r.string(); // metadata
      const errorCode = r.int16();
      r.skipTags();
      partitions.push({ topic, partition, offset, errorCode });
    }
    r.skipTags();
  }
  return { errorCode: r.int16(), partitions };
}


// ---------------------------------------------------------------------------------------------------------------
// IncrementalAlterConfigs (API 44; v0, and v1 flexible): sets or removes single configs of a resource, the others
// untouched. kafkajs has only the legacy AlterConfigs, which replaces the resource's whole config with the one sent.

/** The operations kstream sends (the protocol also has APPEND = 2 and SUBTRACT = 3, for list-valued configs). */
export const CONFIG_OP = { set: 0, delete: 1 } as const;

export interface ConfigAlteration {
  name: string;
  op: keyof typeof CONFIG_OP;
  /** The new value for `set`; absent (null on the wire) for `delete`. */
  value?: string;
}

export interface AlterConfigsResource {
  /** 2 = topic, 4 = broker. */
  type: number;
  name: string;
  configs: ConfigAlteration[];
}

export interface AlterConfigsResult {
  errorCode: number;
  errorMessage: string | null;
  resourceType: number;
  resourceName: string;
}

function int16(out: number[], v: number): void {
  out.push((v >>> 8) & 0xff, v & 0xff);
}

/** A STRING (v0) or COMPACT_STRING (v1); null writes the NULLABLE form. */
function str(out: number[], s: string | null, flexible: boolean): void {
  if (s === null) {
    if (flexible) out.push(0);
    else int16(out, -1);
    return;
  }
  if (flexible) return compactString(out, s);
  const b = Buffer.from(s, 'utf8');
  int16(out, b.length);
  for (const x of b) out.push(x);
}

function arrayLength(out: number[], n: number, flexible: boolean): void {
  if (flexible) uvarint(out, n + 1);
  else int32(out, n);
}

export function encodeIncrementalAlterConfigs(v: 0 | 1, resources: AlterConfigsResource[], validateOnly: boolean): Buffer {
  const flexible = v >= 1;
  const out: number[] = flexible ? [0] : []; // a flexible request's header ends with its tagged fields
  arrayLength(out, resources.length, flexible);
  for (const r of resources) {
    out.push(r.type & 0xff);
    str(out, r.name, flexible);
    arrayLength(out, r.configs.length, flexible);
    for (const c of r.configs) {
      str(out, c.name, flexible);
      out.push(CONFIG_OP[c.op]);
      str(out, c.op === 'delete' ? null : c.value ?? '', flexible);
      if (flexible) out.push(0); // tagged fields
    }
    if (flexible) out.push(0);
  }
  out.push(validateOnly ? 1 : 0);
  if (flexible) out.push(0);
  return Buffer.from(out);
}

export function decodeIncrementalAlterConfigs(v: 0 | 1, b: Buffer): AlterConfigsResult[] {
  const r = new Reader(b, v >= 1);
  r.skipTags(); // response header
  r.skip(4); // throttle time
  const out: AlterConfigsResult[] = [];
  for (let i = r.arrayLength(); i > 0; i--) {
    const errorCode = r.int16();
    const errorMessage = r.string();
    const resourceType = r.int8();
    const resourceName = r.string() ?? '';
    r.skipTags();
    out.push({ errorCode, errorMessage, resourceType, resourceName });
  }
  return out;
}
