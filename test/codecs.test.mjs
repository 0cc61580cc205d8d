// The compression codecs of record batches (src/kafka/protocol/compression.ts): round trips, the framings other Kafka clients
// write (xerial and raw snappy, LZ4 frames of every kind, zstd frames without a size), what kstream writes as other
// readers see it, and errors that name the batch. No broker: test/it/codecs.test.mjs runs kcat and the Java client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { Buffer } from 'node:buffer';
import zlib from 'node:zlib';

import { COMPRESSION_NAMES, loadCodec } from '../dist/src/kafka/protocol/compression.js';
import { BatchBuilder, CorruptData, UnsupportedData, crc32c, decodeFetch, decodeRecords } from '../dist/src/kafka/protocol/records.js';
import { kafkaError } from '../dist/src/kafka/errors.js';

const require = createRequire(import.meta.url);
const CODECS = ['gzip', 'snappy', 'lz4', 'zstd'];
const codec = (name) => loadCodec(COMPRESSION_NAMES.indexOf(name));
const has = (cmd) => spawnSync(cmd, ['--version']).status === 0;
const cli = (cmd, args, input) => {
  const r = spawnSync(cmd, args, { input, maxBuffer: 1 << 28 });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};

/** Text that compresses like records do, with some incompressible stretches, `n` bytes long. */
function sample(n, seed = 1) {
  const b = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = (i >> 12) % 3 === 0 ? x >>> 24 : 97 + ((x >>> 28) % 6);
  }
  return b;
}

// ---------------------------------------------------------------------------------------------------------------
// round trips

for (const name of CODECS) {
  test(`${name}: compress → decompress round trip, from empty to several MB`, async () => {
    const c = await codec(name);
    for (const n of [0, 1, 100, 32 * 1024, 32 * 1024 + 1, 64 * 1024, 64 * 1024 + 7, 1_000_000, 3_000_000]) {
      const data = sample(n, n + 1);
      const z = await c.compress(data);
      if (n >= 100_000) assert.ok(z.length < n, `${name} ${n}: compressed to ${z.length}`);
      assert.ok((await c.decompress(z)).equals(data), `${name} ${n}`);
    }
  });
}

// ---------------------------------------------------------------------------------------------------------------
// what other clients write

test('snappy reads the Java client (xerial, several chunks) and librdkafka (one raw block)', async () => {
  const snappy = require('snappy');
  const data = sample(100_000);
  const c = await codec('snappy');
  // xerial snappy-java: magic, version 1, compatible 1, then [int32 BE length][raw block] per 32 KiB
  const parts = [Buffer.from('82534e41505059000000000100000001', 'hex')];
  for (let p = 0; p < data.length; p += 32 * 1024) {
    const block = snappy.compressSync(data.subarray(p, p + 32 * 1024));
    const len = Buffer.alloc(4);
    len.writeUInt32BE(block.length);
    parts.push(len, block);
  }
  const xerial = Buffer.concat(parts);
  assert.ok((await c.decompress(xerial)).equals(data));
  assert.ok((await c.decompress(snappy.compressSync(data))).equals(data));
  // what kstream writes is xerial too, in the Java client's 32 KiB chunks
  const ours = await c.compress(data);
  assert.equal(ours.subarray(0, 16).toString('hex'), '82534e41505059000000000100000001');
  assert.equal(snappy.uncompressSync(ours.subarray(20, 20 + ours.readUInt32BE(16))).length, 32 * 1024);
  // a xerial stream cut in a chunk is an error, not short data
  await assert.rejects(c.decompress(xerial.subarray(0, xerial.length - 10)), /xerial chunk of \d+ bytes cut short/);
});

test('lz4 reads every kind of LZ4 frame the lz4 tool writes (linked blocks, checksums, content size)', { skip: !has('lz4') && 'no lz4 tool' }, async () => {
  const c = await codec('lz4');
  const data = sample(300_000);
  for (const flags of [[], ['-BD'], ['-BX'], ['--content-size'], ['--no-frame-crc'], ['-B4', '-BD', '-BX', '--content-size'], ['-B7'], ['-9']]) {
    const frame = cli('lz4', ['-q', '-c', ...flags], data);
    assert.ok((await c.decompress(frame)).equals(data), `lz4 ${flags.join(' ')}`);
  }
});

test('lz4 writes the Java client\'s frame: 64 KiB independent blocks, correct header checksum; lz4 reads it', async () => {
  const c = await codec('lz4');
  const data = sample(200_000);
  const frame = await c.compress(data);
  // magic, FLG 0x60 (v1, independent blocks, no checksums), BD 0x40 (64 KiB), header checksum
  assert.equal(frame.subarray(0, 7).toString('hex'), '04224d18604082');
  // block sizes: three 64 KiB blocks and the rest, then the end mark
  let p = 7;
  let blocks = 0;
  for (;;) {
    const size = frame.readUInt32LE(p) & 0x7fffffff;
    p += 4 + size;
    if (size === 0) break;
    blocks++;
  }
  assert.equal(p, frame.length);
  assert.equal(blocks, 4);
  // incompressible data goes into the frame stored, not grown
  const noise = require('node:crypto').randomBytes(70_000);
  const stored = await c.compress(noise);
  assert.ok(stored.readUInt32LE(7) & 0x80000000);
  assert.ok((await c.decompress(stored)).equals(noise));
  if (has('lz4')) assert.ok(cli('lz4', ['-d', '-c', '-q'], frame).equals(data)); // the reference decoder checks the header checksum
});

test('zstd reads streamed frames that do not say their size (as Java and librdkafka write them), and kstream\'s frames are zstd\'s', { skip: !has('zstd') && 'no zstd tool' }, async () => {
  const c = await codec('zstd');
  const data = sample(2_500_000);
  const streamed = cli('zstd', ['-q', '-c', '-3'], data); // from a pipe: no content size in the frame header
  assert.equal(streamed[4] & 0xc0, 0, 'frame header without content size');
  assert.ok((await c.decompress(streamed)).equals(data));
  assert.ok(cli('zstd', ['-d', '-q', '-c'], await c.compress(data)).equals(data));
});

test('gzip: what kstream writes is a gzip member zlib reads', async () => {
  const data = sample(50_000);
  assert.ok(zlib.gunzipSync(await (await codec('gzip')).compress(data)).equals(data));
});

// ---------------------------------------------------------------------------------------------------------------
// batches and errors

/** A record batch of `n` records whose values are a few KB, so one batch holds several. */
async function batch(compression, n = 20) {
  const b = new BatchBuilder(64);
  for (let i = 0; i < n; i++) b.append(`k${i}`, JSON.stringify({ i, pad: 'p'.repeat(3000 + i) }), 1_700_000_000_000 + i, i % 3 ? undefined : [{ key: 'h', value: `v${i}` }]);
  return b.seal(compression);
}

/** Gives a sealed batch another base offset and attributes, with its CRC redone. */
function rebase(buf, baseOffset, attributes = buf.readInt16BE(21)) {
  const b = Buffer.from(buf);
  b.writeInt32BE(0, 0);
  b.writeInt32BE(baseOffset, 4);
  b.writeInt16BE(attributes, 21);
  b.writeUInt32BE(crc32c(b, 21), 17);
  return b;
}

/** A Fetch response v11 for one topic and partition holding `records`. */
function fetchResponse(topic, partition, records) {
  const i32 = (n) => { const b = Buffer.alloc(4); b.writeInt32BE(n); return b; };
  const i16 = (n) => { const b = Buffer.alloc(2); b.writeInt16BE(n); return b; };
  const i64 = (n) => { const b = Buffer.alloc(8); b.writeBigInt64BE(BigInt(n)); return b; };
  return Buffer.concat([
    i32(0), i16(0), i32(0), // throttle, error, session
    i32(1), i16(topic.length), Buffer.from(topic), i32(1),
    i32(partition), i16(0), i64(1_000_000), i64(1_000_000), i64(0), i32(-1), i32(-1),
    i32(records.length), records,
  ]);
}

const ctx = { fetchOffset: () => 0, readCommitted: false };

test('a fetch of batches in every codec, mixed with uncompressed ones, decodes in order', async () => {
  const parts = [];
  let base = 0;
  for (const z of ['none', ...CODECS, 'none', 'lz4']) {
    parts.push(rebase(await batch(z), base));
    base += 20;
  }
  const res = await decodeFetch(fetchResponse('t', 0, Buffer.concat(parts)), 11, ctx);
  const [p] = res.partitions;
  assert.equal(p.nextOffset, base);
  const offsets = p.batches.flatMap((cols) => Array.from(cols.offsets.subarray(0, cols.count)));
  assert.deepEqual(offsets, Array.from({ length: base }, (_, i) => i));
  for (const cols of p.batches) {
    for (let i = 0; i < cols.count; i++) {
      const v = JSON.parse(cols.buf.toString('utf8', cols.valueStart[i], cols.valueEnd[i]));
      assert.equal(v.pad.length, 3000 + v.i);
    }
  }
  assert.ok(p.expansion > 1.5, `decompressed bytes per fetched byte: ${p.expansion}`);
  // decodeRecords over the bare record set agrees
  const out = [];
  assert.equal(await decodeRecords(Buffer.concat(parts), 0, Buffer.concat(parts).length, 0, undefined, out), base);
  assert.equal(out.reduce((n, c) => n + c.count, 0), base);
});

test('expansion: decompressed bytes per fetched byte, over the complete batches (not the one the broker cut)', async () => {
  const plain = await batch('none');
  const lz4 = rebase(await batch('lz4'), 0);
  const cut = rebase(await batch('lz4'), 20).subarray(0, lz4.length >> 1);
  const [p] = (await decodeFetch(fetchResponse('t', 0, Buffer.concat([lz4, cut])), 11, ctx)).partitions;
  assert.equal(p.nextOffset, 20);
  // the same records uncompressed make the batch `plain`: it grew from lz4.length to plain.length
  assert.ok(Math.abs(p.expansion - plain.length / lz4.length) < 1e-9, `${p.expansion} vs ${plain.length / lz4.length}`);
  const [u] = (await decodeFetch(fetchResponse('t', 0, Buffer.concat([plain, plain.subarray(0, 100)])), 11, ctx)).partitions;
  assert.equal(u.expansion, 1);
});

for (const name of CODECS) {
  test(`a corrupt ${name} batch is an error naming topic/partition@offset, with a hint to read past it`, async () => {
    const good = await batch(name);
    const bad = Buffer.from(good);
    // damage the compressed records past the codec's header: the frame no longer decodes (or decodes to garbage)
    bad.fill(0x5a, 61 + 16, bad.length - 8);
    const first = rebase(await batch('none', 3), 1039);
    const records = Buffer.concat([first, rebase(bad, 1042)]);
    const err = await decodeFetch(fetchResponse('clicks', 2, records), 11, ctx).then(() => assert.fail('decoded'), (e) => e);
    assert.ok(err instanceof CorruptData, String(err));
    assert.match(err.message, new RegExp(`^(cannot decompress ${name} record batch|record batch) at \`clicks/2@1042\`: |^record batch at \`clicks/2@1042\` is cut short$`));
    const line = kafkaError(err);
    assert.equal(line.exitCode, 1);
    assert.match(line.hint, /; to read on after it: `--offset 2=1062`$/);
  });
}

test('the errors of a batch cut in the middle of its compressed records, and of an unknown codec id, name the batch', async () => {
  const lz4 = await batch('lz4');
  // the batch ends 500 bytes early (its length and CRC say so): the LZ4 frame in it is cut short
  const short = Buffer.from(lz4.subarray(0, lz4.length - 500));
  short.writeInt32BE(short.length - 12, 8);
  const cut = rebase(short, 7);
  await assert.rejects(decodeFetch(fetchResponse('t', 0, cut), 11, ctx), (e) => {
    assert.match(e.message, /^cannot decompress lz4 record batch at `t\/0@7`: LZ4 frame cut short$/);
    return true;
  });
  const six = rebase(await batch('none'), 100, 6);
  await assert.rejects(decodeFetch(fetchResponse('t', 5, six), 11, ctx), (e) => {
    assert.ok(e instanceof UnsupportedData);
    assert.equal(e.message, 'cannot decompress record batch at `t/5@100`: unknown compression codec 6 (Kafka defines 0 to 4)');
    assert.equal(kafkaError(e).hint, 'read it with the client that wrote it; to read on after it: `--offset 5=120`');
    return true;
  });
});

test('libraries load only when a batch needs them', () => {
  // a fresh process: decoding and encoding uncompressed batches loads no codec library
  const code = `
    const { BatchBuilder, decodeFetch } = await import(${JSON.stringify(new URL('../dist/src/kafka/protocol/records.js', import.meta.url).href)});
    const b = new BatchBuilder(64); b.append('k', 'v', 1, undefined); await b.seal('none');
    const { createRequire } = await import('node:module');
    const req = createRequire(import.meta.url);
    const loaded = Object.keys(req.cache).filter((f) => /lz4-napi|snappy|zstd/.test(f));
    await (await import(${JSON.stringify(new URL('../dist/src/kafka/protocol/compression.js', import.meta.url).href)})).loadCodec(3);
    const after = Object.keys(req.cache).filter((f) => /lz4-napi/.test(f));
    console.log(JSON.stringify({ loaded, after: after.length }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const { loaded, after } = JSON.parse(r.stdout);
  assert.deepEqual(loaded, []);
  assert.ok(after > 0, 'loading lz4 shows in the module cache');
});
