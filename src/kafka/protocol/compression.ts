/**
 * Kafka's record batch compression codecs, both ways, in the framings Kafka clients write:
 *
 * - gzip: a gzip member (node:zlib).
 * - snappy: the Java client writes xerial framing (`\x82SNAPPY\x00`, version and compatible ints, then chunks of
 *   [int32 BE length][raw snappy block]); librdkafka (kcat) writes one raw snappy block. Both are read; kstream
 *   writes xerial with 32 KiB chunks, as the Java client does (its reader and librdkafka's take both).
 * - lz4: an LZ4 frame (KIP-57: with the correct header checksum). Any frame is read (linked or independent blocks,
 *   block and content checksums, a content size); kstream writes what the Java client and librdkafka write:
 *   64 KiB independent blocks, no checksums.
 * - zstd: a zstd frame. Java and librdkafka stream it, so the frame does not say its decompressed size.
 *
 * Each library is loaded on the first batch that needs it, so commands that never meet a compressed batch load
 * nothing extra. Every codec works off the JS thread (node:zlib and napi-rs addons run on the libuv thread pool):
 * decompressing a fetch response's batches there overlaps with the pipeline's work on the previous response, and
 * compressing a batch overlaps with encoding the next.
 *
 * Libraries (measured on 1 MB batches of clicks records; see bench/codecs.mjs for the end-to-end figures): lz4-napi
 * (lz4_flex) and snappy (napi-rs, Google's snappy) decode at 1+ GB/s on the thread pool; the pure-JS lz4js and
 * snappyjs at ~300 MB/s, on the JS thread. For zstd, the WASM builds (@bokuweb/zstd-wasm ~550 MB/s, zstddec,
 * zstd-codec) run on the JS thread and need the decompressed size up front, which streamed frames do not carry;
 * fzstd (pure JS) decodes at ~150 MB/s. @mongodb-js/zstd 1.x is a napi-rs addon with prebuilt binaries as npm
 * optional dependencies (its 2.x and later download them from GitHub at install time instead). Node ≥ 22.15 has
 * zstd in node:zlib, Node 20 does not.
 */
import { Buffer } from 'node:buffer';
import zlib from 'node:zlib';

export const COMPRESSION_NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
export type CompressionName = (typeof COMPRESSION_NAMES)[number];

/** One codec, ready to use. Both ways run off the JS thread (on the thread pool). */
export interface Codec {
  readonly name: CompressionName;
  /** The records section of a batch, decompressed; rejects data it cannot decompress. */
  decompress(data: Buffer): Promise<Buffer>;
  compress(data: Buffer): Promise<Buffer>;
}

/** A codec library that is not installed for this platform, or failed to load. */
export class CodecUnavailable extends Error {
  constructor(readonly codec: CompressionName, readonly pkg: string, cause: unknown) {
    super(`the ${codec} library \`${pkg}\` did not load (${cause instanceof Error ? cause.message.split('\n')[0] : String(cause)})`);
  }
}

const loaded: (Codec | undefined)[] = [];
const loading: (Promise<Codec> | undefined)[] = [];

/** The codec of a batch's compression id (attributes & 7) if it is loaded already; undefined otherwise. */
export function loadedCodec(id: number): Codec | undefined {
  return loaded[id];
}

/** Loads (once) and returns the codec of compression id 1..4. */
export function loadCodec(id: number): Promise<Codec> {
  const name = COMPRESSION_NAMES[id];
  if (!name || name === 'none') return Promise.reject(new Error(`no codec for compression id ${id}`));
  let p = loading[id];
  if (!p) {
    p = LOADERS[name]().then((c) => (loaded[id] = c));
    // a failed load is tried again next time (say, after a package was installed), not cached
    p.catch(() => (loading[id] = undefined));
    loading[id] = p;
  }
  return p;
}

export function codecId(name: CompressionName): number {
  return COMPRESSION_NAMES.indexOf(name);
}

async function importLib<T>(codec: CompressionName, pkg: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (e) {
    throw new CodecUnavailable(codec, pkg, e);
  }
}

const LOADERS: Record<Exclude<CompressionName, 'none'>, () => Promise<Codec>> = {
  async gzip() {
    // zlib's async calls hand their output back in chunkSize pieces, 16 KiB by default: a callback on the JS thread
    // for each. Decompressing 1 MB batches took 3 ms of the JS thread per MB that way, 0.2 ms in 1 MiB chunks.
    return {
      name: 'gzip',
      decompress: (data) => new Promise((resolve, reject) => zlib.gunzip(data, { chunkSize: 1 << 20 }, (err, out) => (err ? reject(err) : resolve(out)))),
      compress: (data) => new Promise((resolve, reject) => zlib.gzip(data, { chunkSize: 256 << 10 }, (err, out) => (err ? reject(err) : resolve(out)))),
    };
  },

  async snappy() {
    const lib = await importLib('snappy', 'snappy', () => import('snappy'));
    const raw = (b: Buffer): Promise<Buffer> => lib.uncompress(b, { asBuffer: true }) as Promise<Buffer>;
    return {
      name: 'snappy',
      decompress: async (data) => (isXerial(data) ? concat(await Promise.all(xerialChunks(data).map(raw))) : raw(data)),
      async compress(data) {
        const parts: Buffer[] = [XERIAL_MAGIC];
        for (const c of await inChunks(data, SNAPPY_CHUNK, (d) => lib.compress(d))) {
          const len = Buffer.allocUnsafe(4);
          len.writeUInt32BE(c.length, 0);
          parts.push(len, c);
        }
        return Buffer.concat(parts);
      },
    };
  },

  async lz4() {
    const lib = await importLib('lz4', 'lz4-napi', () => import('lz4-napi'));
    return {
      name: 'lz4',
      // lz4_flex's frame decoder: either block mode, checksums checked when present, header checksum required
      decompress: (data) => lib.decompressFrame(data).catch((e) => Promise.reject(lz4Error(e))),
      async compress(data) {
        // The library's own frame encoder picks 4 MiB blocks; readers (the broker among them, which checks every
        // batch) then hold 4 MiB per batch. The frame is built here from its block encoder instead.
        const parts: Buffer[] = [LZ4_HEADER];
        let p = 0;
        for (const c of await inChunks(data, LZ4_BLOCK, (d) => lib.compress(d))) {
          const n = Math.min(LZ4_BLOCK, data.length - p);
          // the block encoder gives [uint32 LE uncompressed size][lz4 block]: the size's place takes the block size
          if (c.length - 4 < n) {
            c.writeUInt32LE(c.length - 4, 0);
            parts.push(c);
          } else {
            const h = Buffer.allocUnsafe(4);
            h.writeUInt32LE((0x80000000 | n) >>> 0, 0); // stored uncompressed
            parts.push(h, data.subarray(p, p + n));
          }
          p += n;
        }
        parts.push(LZ4_END);
        return Buffer.concat(parts);
      },
    };
  },

  async zstd() {
    // A zstd frame as Kafka clients stream it does not say its decompressed size; this library needs none.
    const lib = await importLib('zstd', '@mongodb-js/zstd', () => import('@mongodb-js/zstd'));
    return {
      name: 'zstd',
      decompress: (data) => lib.decompress(data).catch((e) => Promise.reject(zstdError(e))),
      compress: (data) => lib.compress(data, ZSTD_LEVEL),
    };
  },
};

// ---------------------------------------------------------------------------------------------------------------
// Framing constants

/** xerial snappy-java's stream header: magic, then version 1 and minimum compatible version 1 (int32 BE). */
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1]);
const XERIAL_HEADER = 16;
/** snappy-java's SnappyOutputStream default block size, which the Java client uses. */
const SNAPPY_CHUNK = 32 * 1024;

function isXerial(b: Buffer): boolean {
  if (b.length < XERIAL_HEADER) return false;
  for (let i = 0; i < 8; i++) if (b[i] !== XERIAL_MAGIC[i]) return false;
  return true;
}

/** The raw snappy blocks of a xerial stream: after the header, [int32 BE length][block] to the end. */
function xerialChunks(data: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  let p = XERIAL_HEADER;
  while (p < data.length) {
    if (p + 4 > data.length) throw new Error('xerial chunk length cut short');
    const n = data.readUInt32BE(p);
    p += 4;
    if (p + n > data.length) throw new Error(`xerial chunk of ${n} bytes cut short`);
    chunks.push(data.subarray(p, p + n));
    p += n;
  }
  return chunks;
}

function concat(parts: Buffer[]): Buffer {
  return parts.length === 1 ? parts[0] : Buffer.concat(parts);
}

/**
 * LZ4 frame header as Java's KafkaLZ4BlockOutputStream and librdkafka write it: magic, FLG 0x60 (version 1,
 * independent blocks, no checksums, no content size), BD 0x40 (64 KiB blocks), header checksum 0x82
 * (xxh32 of FLG and BD, second byte).
 */
const LZ4_HEADER = Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82]);
const LZ4_BLOCK = 64 * 1024;
const LZ4_END = Buffer.alloc(4);

function lz4Error(e: unknown): Error {
  const m = String((e as Error)?.message ?? e);
  const block = /^DecompressionError\((\w+)\)$/.exec(m);
  return new Error(LZ4_ERRORS[m] ?? (block ? `corrupt LZ4 block (${block[1]})` : `lz4: ${m}`));
}

/** lz4_flex's error names, as sentences. */
const LZ4_ERRORS: Record<string, string> = {
  WrongMagicNumber: 'not an LZ4 frame (wrong magic number)',
  HeaderChecksumError: 'LZ4 frame header checksum mismatch',
  BlockChecksumError: 'LZ4 block checksum mismatch',
  ContentChecksumError: 'LZ4 content checksum mismatch',
  'failed to fill whole buffer': 'LZ4 frame cut short',
};

/** The level librdkafka and the Java client use by default. */
const ZSTD_LEVEL = 3;

function zstdError(e: unknown): Error {
  // the library's messages start "zstd: " already
  return new Error(String((e as Error)?.message ?? e));
}

/** `data` compressed in pieces of `size` bytes, all at once on the thread pool; the results in order. */
function inChunks(data: Buffer, size: number, compress: (piece: Buffer) => Promise<Buffer>): Promise<Buffer[]> {
  const pieces: Promise<Buffer>[] = [];
  for (let p = 0; p < data.length; p += size) pieces.push(compress(data.subarray(p, Math.min(p + size, data.length))));
  return Promise.all(pieces);
}
