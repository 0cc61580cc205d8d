// Pure parts of the Kafka support: offset grammar, envelope encoding, the record-batch codec, partitioning,
// connection options, error lines and option text. No broker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { Buffer } from 'node:buffer';

import { parseOffsets, parseOne, parseTime, resolveOffset, specFor, planUsesStored } from '../dist/src/kafka/offsets.js';
import { isCompactJson, fieldSpan, fromEnvelope, headersJson, utf8Text, NotAnEnvelope } from '../dist/src/io/envelope.js';
import {
  BatchBuilder, BatchBuffers, crc32c, decodeRecordSet, decodeRecords, decodeFetchResponse, produceRequestParts, decodeProduceResponse, murmur2, partitionForKey,
} from '../dist/src/kafka/protocol/records.js';
import { connectionConfig, parseBrokers, scrubSecrets } from '../dist/src/kafka/config.js';
import { kafkaError, MissingTopic } from '../dist/src/kafka/errors.js';
import { protectOptionValues, restoreOptionValues } from '../dist/src/pipeline/option-text.js';
import { RecordMaker, takeUpstreams } from '../dist/src/kafka/connect/source.js';
import { UsageError, RuntimeError } from '../dist/src/pipeline/errors.js';

const require = createRequire(import.meta.url);

// ---------------------------------------------------------------------------------------------------------------
// offsets

test('offset grammar: every single form', () => {
  const now = Date.UTC(2024, 4, 1, 12, 0, 0);
  assert.deepEqual(parseOne('start', now), { kind: 'start' });
  assert.deepEqual(parseOne('beginning', now), { kind: 'start' });
  assert.deepEqual(parseOne('earliest', now), { kind: 'start' });
  assert.deepEqual(parseOne('END', now), { kind: 'end' });
  assert.deepEqual(parseOne('latest', now), { kind: 'end' });
  assert.deepEqual(parseOne('stored', now), { kind: 'stored' });
  assert.deepEqual(parseOne('42', now), { kind: 'at', offset: 42 });
  assert.deepEqual(parseOne('+5', now), { kind: 'afterStart', n: 5 });
  assert.deepEqual(parseOne('-5', now), { kind: 'beforeEnd', n: 5 });
  assert.deepEqual(parseOne('@1714564800000', now), { kind: 'time', ts: 1714564800000 });
  assert.deepEqual(parseOne('@2024-05-01T12:00:00Z', now), { kind: 'time', ts: now });
  assert.deepEqual(parseOne('@2024-05-01T14:00:00+02:00', now), { kind: 'time', ts: now });
  assert.deepEqual(parseOne('@2024-05-01T12:00:00.250Z', now), { kind: 'time', ts: now + 250 });
  assert.deepEqual(parseOne('@2024-05-01', now), { kind: 'time', ts: Date.UTC(2024, 4, 1) });
  assert.deepEqual(parseOne('@-1h', now), { kind: 'time', ts: now - 3_600_000 });
  assert.deepEqual(parseOne('@-90s', now), { kind: 'time', ts: now - 90_000 });
});

test('offset grammar: per-partition lists and a default', () => {
  const plan = parseOffsets('end,0=100,2=-3', 0);
  assert.deepEqual(plan.all, { kind: 'end' });
  assert.deepEqual(specFor(plan, 0), { kind: 'at', offset: 100 });
  assert.deepEqual(specFor(plan, 1), { kind: 'end' });
  assert.deepEqual(specFor(plan, 2), { kind: 'beforeEnd', n: 3 });
  const only = parseOffsets('1=start', 0);
  assert.equal(only.all, undefined);
  assert.deepEqual([...only.perPartition.keys()], [1]);
  assert.deepEqual(specFor(only, 5), { kind: 'start' });
  assert.equal(planUsesStored(parseOffsets('0=stored')), true);
  assert.equal(planUsesStored(parseOffsets('start')), false);
  assert.deepEqual(parseOffsets(-3).all, { kind: 'beforeEnd', n: 3 }); // cac may hand over a number
});

test('offset grammar: mistakes are usage errors naming the text', () => {
  for (const bad of ['soon', '1.5', '@yesterday', '@-1y', '0=nope', '', 'start,end', '0=1,0=2', '@2024-13-45T99:00:00Z']) {
    assert.throws(() => parseOffsets(bad, 0), (e) => e instanceof UsageError && e.exitCode === 2, bad);
  }
  assert.throws(() => parseOffsets('soon'), /invalid offset `soon`/);
  assert.throws(() => parseTime('tomorrow', 0), /invalid time `@tomorrow`/);
});

test('offset resolution clamps to the log; a committed offset wins', () => {
  const b = { start: 10, end: 50 };
  assert.equal(resolveOffset({ kind: 'start' }, b), 10);
  assert.equal(resolveOffset({ kind: 'end' }, b), 50);
  assert.equal(resolveOffset({ kind: 'at', offset: 20 }, b), 20);
  assert.equal(resolveOffset({ kind: 'at', offset: 5 }, b), 10);
  assert.equal(resolveOffset({ kind: 'at', offset: 99 }, b), 50);
  assert.equal(resolveOffset({ kind: 'afterStart', n: 3 }, b), 13);
  assert.equal(resolveOffset({ kind: 'afterStart', n: 300 }, b), 50);
  assert.equal(resolveOffset({ kind: 'beforeEnd', n: 3 }, b), 47);
  assert.equal(resolveOffset({ kind: 'beforeEnd', n: 300 }, b), 10);
  assert.equal(resolveOffset({ kind: 'time', ts: 1 }, { ...b, atTime: 33 }), 33);
  assert.equal(resolveOffset({ kind: 'time', ts: 1 }, b), 50);
  assert.equal(resolveOffset({ kind: 'stored' }, b), 10);
  assert.equal(resolveOffset({ kind: 'end' }, b, 25), 25);
  assert.equal(resolveOffset({ kind: 'start' }, b, 3), 10); // committed below the log start (retention)
  assert.equal(resolveOffset({ kind: 'start' }, b, 70), 50);
});

// ---------------------------------------------------------------------------------------------------------------
// envelope

test('compact JSON is embedded; strings, padded or multi-line JSON are not', () => {
  for (const yes of ['{"a":1}', '[1,2]', '42', '-1.5e3', 'true', 'false', '{"a": 1.0, "b" : [ ]}']) assert.equal(isCompactJson(yes), true, yes);
  // the text null is not embedded: it would read back as a null value (a tombstone)
  for (const no of ['"str"', ' {"a":1}', '{"a":1} ', '{"a":\n1}', '{"a":1}\r', 'hello', '', '{a:1}', '01', 'nul', 'null']) assert.equal(isCompactJson(no), false, no);
});

test('fieldSpan finds the text of a top-level field, last one winning', () => {
  const line = '{"value":1,"headers":[{"key":"value","value":"x"}],"nested":{"value":2},"value" : {"a": 1.0}}';
  const [a, b] = fieldSpan(line, 'value');
  assert.equal(line.slice(a, b), '{"a": 1.0}');
  const s = '{"k":"a\\"b","value":[1, "]", {"x":"}"}]}';
  const [c, d] = fieldSpan(s, 'value');
  assert.equal(s.slice(c, d), '[1, "]", {"x":"}"}]');
  assert.equal(fieldSpan('{"a":1}', 'value'), undefined);
  const esc = '{"val\\u0075e":7}';
  const [e, f] = fieldSpan(esc, 'value');
  assert.equal(esc.slice(e, f), '7');
});

test('fromEnvelope: a timestamp is epoch ms or an RFC 3339 time; any other is refused, not replaced by the time of sending', () => {
  const ts = (t) => fromEnvelope({ value: 1, timestamp: t }, undefined).timestamp;
  assert.equal(ts(1700000000000), 1700000000000);
  assert.equal(ts('1700000000000'), 1700000000000);
  assert.equal(ts('2026-01-01T00:00:00Z'), 1767225600000);
  assert.equal(ts('2026-01-01T01:00:00.250+01:00'), 1767225600250);
  assert.equal(fromEnvelope({ value: 1, ts: '2026-01-01T00:00:00Z' }, undefined).timestamp, 1767225600000, 'kcat -J names it ts');
  for (const none of [undefined, null, -1]) assert.equal(ts(none), undefined);
  // an ISO time was silently dropped: the record went out stamped with the time of sending
  assert.equal(ts('2026-01-01 00:00:00z'), 1767225600000, 'RFC 3339 allows a space and a lower-case z');
  for (const bad of ['yesterday', '2026-13-45T00:00:00Z', '2026-01-01T00:00:00', -5, 1.5, true, {}]) assert.throws(() => ts(bad), NotAnEnvelope, JSON.stringify(bad));
});

test('fromEnvelope: values, keys, headers, markers and kcat -J input', () => {
  const raw = '{"topic":"t","partition":2,"offset":9,"timestamp":1700000000000,"key":"k","headers":[{"key":"h","value":"v"},{"key":"n","value":null},{"key":"b","value":"AAE=","encoding":"base64"}],"value":{"a": 1.0}}';
  const r = fromEnvelope(JSON.parse(raw), raw);
  assert.equal(r.value, '{"a": 1.0}'); // byte for byte, not re-serialised
  assert.equal(r.key, 'k');
  assert.equal(r.partition, 2);
  assert.equal(r.timestamp, 1700000000000);
  assert.deepEqual(r.headers, [{ key: 'h', value: 'v' }, { key: 'n', value: null }, { key: 'b', value: Buffer.from([0, 1]) }]);
  assert.equal(fromEnvelope({ value: { a: 1 } }, undefined).value, '{"a":1}');
  assert.equal(fromEnvelope({ value: null, key: null }, undefined).value, null);
  assert.equal(fromEnvelope({ value: '' }, undefined).value, '');
  assert.equal(fromEnvelope({ value: '"q"' }, undefined).value, '"q"');
  assert.deepEqual(fromEnvelope({ value: '/w==', encoding: 'base64', key: 'AA==', keyEncoding: 'base64' }, undefined), {
    key: Buffer.from([0]), value: Buffer.from([0xff]), headers: undefined, partition: undefined, timestamp: undefined, topic: undefined, offset: undefined,
  });
  const kcat = { topic: 't', partition: 0, offset: 1, tstype: 'create', ts: 5, broker: 1, headers: ['a', '1', 'b', '2'], key: 'k', payload: '{"x":1}' };
  assert.deepEqual(fromEnvelope(kcat, JSON.stringify(kcat)), { key: 'k', value: '{"x":1}', headers: [{ key: 'a', value: '1' }, { key: 'b', value: '2' }], partition: 0, timestamp: 5, topic: 't', offset: 1 });
  assert.throws(() => fromEnvelope([1], undefined), NotAnEnvelope);
  assert.throws(() => fromEnvelope({ key: 'x' }, undefined), /no `value` field/);
  assert.throws(() => fromEnvelope({ value: 1, headers: [{ k: 1 }] }, undefined), NotAnEnvelope);
});

test('headersJson and utf8Text: text, null and binary', () => {
  const h = headersJson([{ key: 'a', value: Buffer.from('x') }, { key: 'n', value: null }, { key: 'b', value: Buffer.from([0xc3, 0x28]) }]);
  assert.equal(h.json, '[{"key":"a","value":"x"},{"key":"n","value":null},{"key":"b","value":"wyg=","encoding":"base64"}]');
  assert.deepEqual(h.rec, [{ key: 'a', value: 'x' }, { key: 'n', value: null }, { key: 'b', value: 'wyg=' }]);
  const text = Buffer.from('héllo €');
  assert.equal(utf8Text(text, 0, text.length), 'héllo €');
  assert.equal(utf8Text(text, 0, text.length - 1), undefined); // a character cut in half
  assert.equal(utf8Text(Buffer.from([0x61, 0xff, 0x62]), 0, 3), undefined);
  assert.equal(utf8Text(Buffer.from('a\uFFFDb'), 0, 5), 'a\uFFFDb'); // a real U+FFFD is text
});

// ---------------------------------------------------------------------------------------------------------------
// record batches

function sealed(records, compression = 'none') {
  const b = new BatchBuilder(64);
  for (const r of records) b.append(r.key ?? null, r.value ?? null, r.ts ?? 1_700_000_000_000, r.headers);
  return b.seal(compression);
}

function decodeAll(buf, fetchOffset = 0, aborts) {
  const out = [];
  const next = decodeRecordSet(buf, 0, buf.length, fetchOffset, aborts, out, true);
  return { next, recs: columnsToRecords(out) };
}

/** decodeAll for compressed batches too (decompressed off the JS thread, between two passes). */
async function decodeAllAsync(buf, fetchOffset = 0) {
  const out = [];
  const next = await decodeRecords(buf, 0, buf.length, fetchOffset, undefined, out, true);
  return { next, recs: columnsToRecords(out) };
}

function columnsToRecords(out) {
  const recs = [];
  for (const c of out) {
    for (let i = 0; i < c.count; i++) {
      recs.push({
        offset: c.offsets[i], ts: c.timestamps[i],
        key: c.keyStart[i] < 0 ? null : c.buf.subarray(c.keyStart[i], c.keyEnd[i]).toString('latin1'),
        value: c.valueStart[i] < 0 ? null : c.buf.subarray(c.valueStart[i], c.valueEnd[i]).toString('latin1'),
        headers: c.headers?.[i]?.map((h) => [h.key, h.value === null ? null : h.value.toString('latin1')]),
      });
    }
  }
  return recs;
}

/** CRC-32C bit by bit (Castagnoli, reflected polynomial 0x82F63B78): no table, no code shared with the codec. */
function crc32cBitwise(b, s = 0, e = b.length) {
  let c = ~0;
  for (let i = s; i < e; i++) {
    c ^= b[i];
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return ~c >>> 0;
}

/**
 * An independent reader of uncompressed v2 record batches, written from the Kafka protocol guide ("Record Batch"):
 * baseOffset int64, batchLength int32, partitionLeaderEpoch int32, magic int8 = 2, crc uint32 (CRC-32C of the rest
 * of the batch), attributes int16, lastOffsetDelta int32, baseTimestamp int64, maxTimestamp int64, producerId
 * int64, producerEpoch int16, baseSequence int32, then an int32 count of records, each: length varint,
 * attributes int8, timestampDelta varlong, offsetDelta varint, key length varint (-1 = null) and bytes, value
 * length varint and bytes, header count varint, and per header key length varint and bytes (a string), value
 * length varint (-1 = null) and bytes. Varints are zigzag. Checks every length and the CRC as it goes.
 */
function readBatchesV2(buf) {
  const batches = [];
  let p = 0;
  while (p < buf.length) {
    const start = p;
    const baseOffset = Number(buf.readBigInt64BE(p));
    const batchLength = buf.readInt32BE(p + 8);
    const end = p + 12 + batchLength;
    assert.ok(end <= buf.length, 'batch length within the buffer');
    assert.equal(buf.readInt8(p + 16), 2, 'magic 2');
    assert.equal(buf.readUInt32BE(p + 17), crc32cBitwise(buf, p + 21, end), 'crc32c over attributes … end');
    p += 21;
    const attributes = buf.readInt16BE(p);
    const lastOffsetDelta = buf.readInt32BE(p + 2);
    const baseTimestamp = Number(buf.readBigInt64BE(p + 6));
    const maxTimestamp = Number(buf.readBigInt64BE(p + 14));
    const producerId = Number(buf.readBigInt64BE(p + 22));
    const producerEpoch = buf.readInt16BE(p + 30);
    const baseSequence = buf.readInt32BE(p + 32);
    const count = buf.readInt32BE(p + 36);
    p += 40;
    const varint = () => {
      let v = 0n;
      let shift = 0n;
      for (;;) {
        const byte = buf[p++];
        v |= BigInt(byte & 0x7f) << shift;
        if (!(byte & 0x80)) break;
        shift += 7n;
      }
      return Number((v >> 1n) ^ -(v & 1n));
    };
    const bytes = () => {
      const n = varint();
      if (n < 0) return null;
      const b = buf.subarray(p, p + n);
      p += n;
      return Buffer.from(b);
    };
    const records = [];
    for (let i = 0; i < count; i++) {
      const len = varint();
      const recStart = p;
      const recAttributes = buf.readInt8(p++);
      const tsDelta = varint();
      const offsetDelta = varint();
      const key = bytes();
      const value = bytes();
      const headers = [];
      for (let h = varint(); h > 0; h--) headers.push([bytes().toString('utf8'), bytes()]);
      assert.equal(p - recStart, len, `record ${i}: its length varint`);
      records.push({ attributes: recAttributes, offset: baseOffset + offsetDelta, ts: baseTimestamp + tsDelta, key, value, headers });
    }
    assert.equal(p, end, 'the records fill the batch');
    batches.push({ start, size: end - start, baseOffset, attributes, lastOffsetDelta, baseTimestamp, maxTimestamp, producerId, producerEpoch, baseSequence, records });
  }
  return batches;
}

test('appendBytes (lines copied from the input) seals the same batches as append, across varint steps, buffer growth and limits', async () => {
  // lengths around the varint steps of the value and of the whole record, and far beyond the first buffer
  const sizes = [0, 1, 57, 58, 59, 62, 63, 64, 65, 100, 200, 1400, 8186, 8189, 8191, 8192, 8193, 70_000];
  // keys: none, ASCII text, bytes, text beyond ASCII
  const keyOf = (round, i) => [null, `k${i}`, Buffer.from([0, 255, i & 0xff]), `ключ-${i}`][round % 4 === 0 ? 0 : (round + i) % 4];
  let records = 0;
  for (let round = 0; round < 60; round++) {
    const vals = Array.from({ length: 1 + ((round * 7) % 25) }, (_, i) => String.fromCharCode(97 + (i % 26)).repeat(sizes[(round * 5 + i * 3) % sizes.length]));
    const input = Buffer.from('\n' + vals.join('\n') + '\n', 'latin1');
    const limit = [Infinity, 2000, 9000, 70_000][round % 4];
    const tsOf = (i) => 1_767_225_600_000 + (i % 3) * 1000 - (i % 2) * 5000;
    const run = (bytes) => {
      const batches = [];
      let b = new BatchBuilder(256);
      let at = 1;
      for (let i = 0; i < vals.length; i++) {
        const ts = tsOf(i);
        const key = keyOf(round, i);
        const put = (lim) => (bytes ? b.appendBytes(key, input, at, at + vals[i].length, ts, lim) : b.append(key, vals[i], ts, undefined, lim, true));
        if (put(limit) < 0) {
          batches.push(b);
          b = new BatchBuilder(256);
          assert.ok(put(Infinity) > 0);
        }
        at += vals[i].length + 1;
      }
      batches.push(b);
      return Promise.all(batches.map((x) => x.seal('none')));
    };
    const [want, got] = [await run(false), await run(true)];
    assert.equal(got.length, want.length);
    got.forEach((x, i) => assert.ok(x.equals(want[i]), `round ${round}, batch ${i}`));
    // the oracle: the independent v2 reader gives back every record as given — value, key, timestamp, no headers
    const read = got.flatMap((x) => readBatchesV2(x));
    const back = read.flatMap((x) => x.records);
    assert.deepEqual(back.map((r) => r.value.toString('latin1')), vals, `round ${round}: values`);
    back.forEach((r, i) => {
      const k = keyOf(round, i);
      assert.deepEqual(r.key, k === null ? null : Buffer.from(k), `round ${round}, record ${i}: key`);
      assert.equal(r.ts, tsOf(i), `round ${round}, record ${i}: timestamp`);
      assert.deepEqual(r.headers, [], `round ${round}, record ${i}: headers`);
      assert.equal(r.attributes, 0);
    });
    let i = 0;
    for (const x of read) {
      assert.equal(x.start, 0, 'one batch per sealed buffer');
      // each sealed batch starts at offset 0, its offsets dense; max timestamp and last offset delta as its records say
      assert.deepEqual(x.records.map((r) => r.offset), x.records.map((_, j) => j));
      assert.equal(x.lastOffsetDelta, x.records.length - 1);
      assert.equal(x.maxTimestamp, Math.max(...x.records.map((r) => r.ts)));
      assert.equal(x.attributes & 0x07, 0, 'no compression');
      assert.ok(x.records.length === 1 || x.size <= limit, `round ${round}: a batch of ${x.records.length} records is ${x.size} bytes, over ${limit}`);
      i += x.records.length;
    }
    assert.equal(i, vals.length);
    // the codec's own reader agrees
    assert.deepEqual(got.flatMap((x) => decodeAll(x).recs.map((r) => r.value)), vals);
    records += back.length;
  }
  assert.ok(records > 500);
});

test('crc32c matches the standard check value, and a bitwise CRC at any offset and length', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  const bitwise = (b, s, e) => {
    let c = ~0;
    for (let i = s; i < e; i++) {
      c ^= b[i];
      for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    }
    return ~c >>> 0;
  };
  const data = Buffer.alloc(300);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7919 + 13) & 0xff;
  const view = data.subarray(3); // a view at an odd offset of its ArrayBuffer
  for (const [s, e] of [[0, 0], [0, 15], [0, 16], [1, 17], [5, 100], [21, 297], [0, 297]]) {
    assert.equal(crc32c(view, s, e), bitwise(view, s, e), `[${s}, ${e})`);
  }
  assert.equal(crc32c(Buffer.alloc(0)), 0);
  const big = Buffer.from('x'.repeat(1000) + '123456789');
  assert.equal(crc32c(big, 1000), 0xe3069283);
});

for (const compression of ['none', 'gzip', 'snappy', 'lz4', 'zstd']) {
  test(`record batch round trip (${compression}): keys, null and empty values, binary, headers, timestamps, long values`, async () => {
    const long = 'v'.repeat(20_000);
    const records = [
      { key: 'k1', value: '{"a":1}', ts: 1_700_000_000_000 },
      { key: null, value: null, ts: 1_700_000_000_005, headers: [{ key: 'h', value: 'v' }, { key: 'n', value: null }, { key: 'h', value: 'w' }] },
      { key: '', value: '', ts: 1_699_999_000_000 },
      { key: Buffer.from([0, 255]), value: Buffer.from([0xde, 0xad, 0xbe, 0xef]), ts: 1_800_000_000_000 },
      { key: 'ключ', value: long, ts: 1_700_000_000_001 },
    ];
    const buf = await sealed(records, compression);
    assert.equal(buf.readInt16BE(21) & 7, ['none', 'gzip', 'snappy', 'lz4', 'zstd'].indexOf(compression));
    const { next, recs } = await decodeAllAsync(buf);
    assert.equal(next, records.length);
    assert.deepEqual(recs.map((r) => r.offset), [0, 1, 2, 3, 4]);
    assert.deepEqual(recs.map((r) => r.ts), records.map((r) => r.ts));
    assert.equal(recs[0].key, 'k1');
    assert.equal(recs[0].value, '{"a":1}');
    assert.equal(recs[1].key, null);
    assert.equal(recs[1].value, null);
    assert.deepEqual(recs[1].headers, [['h', 'v'], ['n', null], ['h', 'w']]);
    assert.equal(recs[2].key, '');
    assert.equal(recs[2].value, '');
    assert.equal(recs[3].key, '\u0000\u00ff');
    assert.equal(recs[3].value, '\u00de\u00ad\u00be\u00ef');
    assert.equal(recs[4].key, Buffer.from('ключ').toString('latin1'));
    assert.equal(recs[4].value, long);
    // kafkajs decodes what kstream encodes (a second, independent implementation of the format); it has no
    // snappy, lz4 or zstd codec: test/codecs.test.mjs and test/it/codecs.test.mjs check those with other readers
    if (compression !== 'none' && compression !== 'gzip') return;
    const RecordBatchDecoder = require('kafkajs/src/protocol/recordBatch/v0/decoder');
    const Decoder = require('kafkajs/src/protocol/decoder');
    const theirs = await RecordBatchDecoder(new Decoder(buf));
    assert.deepEqual(theirs.records.map((r) => [r.offset, r.timestamp, r.value?.toString('latin1') ?? null]),
      recs.map((r) => [String(r.offset), String(r.ts), r.value]));
    if (compression === 'none') {
      // and the test's own reader gives back every field as given: keys, values, timestamps, headers
      const [batch, ...more] = readBatchesV2(buf);
      assert.equal(more.length, 0);
      const asBuf = (v) => (v === null || v === undefined ? null : Buffer.from(v));
      assert.deepEqual(batch.records.map((r) => [r.offset, r.ts, r.key, r.value, r.headers]), records.map((r, i) => [
        i, r.ts, asBuf(r.key), asBuf(r.value), (r.headers ?? []).map((h) => [h.key, asBuf(h.value)]),
      ]));
      assert.equal(batch.maxTimestamp, 1_800_000_000_000);
      assert.equal(batch.lastOffsetDelta, 4);
    }
  });
}

test('records before the fetch offset are dropped; a partial trailing batch is ignored', async () => {
  const a = await sealed([{ value: 'a' }, { value: 'b' }, { value: 'c' }]);
  const b = await sealed([{ value: 'd' }]);
  b.writeInt32BE(0, 0); b.writeInt32BE(3, 4); // base offset 3
  const both = Buffer.concat([a, b]);
  const r = decodeAll(both, 2);
  assert.deepEqual(r.recs.map((x) => [x.offset, x.value]), [[2, 'c'], [3, 'd']]);
  assert.equal(r.next, 4);
  const cut = decodeAll(both.subarray(0, a.length + 20), 0);
  assert.deepEqual(cut.recs.map((x) => x.value), ['a', 'b', 'c']);
  assert.equal(cut.next, 3);
  const corrupt = Buffer.from(a);
  corrupt[corrupt.length - 2] ^= 1;
  assert.throws(() => decodeAll(corrupt), /fails its CRC check/);
});

test('read_committed: batches of aborted transactions and control batches are skipped', async () => {
  const at = async (base, recs, { producerId = -1, transactional = false, control = false } = {}) => {
    const b = await sealed(recs);
    b.writeInt32BE(0, 0); b.writeInt32BE(base, 4);
    b.writeInt16BE((transactional ? 0x10 : 0) | (control ? 0x20 : 0), 21);
    b.writeInt32BE(0, 43); b.writeInt32BE(producerId, 47);
    b.writeUInt32BE(crc32c(b, 21), 17);
    return b;
  };
  const log = Buffer.concat([
    await at(0, [{ value: 'plain' }]),
    await at(1, [{ value: 'aborted-1' }, { value: 'aborted-2' }], { producerId: 7, transactional: true }),
    await at(3, [{ value: 'committed' }], { producerId: 8, transactional: true }),
    await at(4, [{ key: '\u0000\u0000\u0000\u0000', value: '' }], { producerId: 7, transactional: true, control: true }),
    await at(5, [{ value: 'p7-later' }], { producerId: 7, transactional: true }),
    await at(6, [{ key: '\u0000\u0000\u0000\u0001', value: '' }], { producerId: 8, transactional: true, control: true }),
  ]);
  const committed = decodeAll(log, 0, { pending: [{ producerId: 7, firstOffset: 1 }], aborted: new Set() });
  assert.deepEqual(committed.recs.map((r) => r.value), ['plain', 'committed', 'p7-later']);
  assert.equal(committed.next, 7);
  const all = decodeAll(log, 0, undefined);
  assert.deepEqual(all.recs.map((r) => r.value), ['plain', 'aborted-1', 'aborted-2', 'committed', 'p7-later']);
});

test('fetch response v11 and v4 decode, partition errors kept', async () => {
  const records = await sealed([{ key: 'k', value: '{"x":1}' }, { value: 'y' }]);
  const resp = (v) => {
    const parts = [];
    const i32 = (n) => { const b = Buffer.alloc(4); b.writeInt32BE(n); return b; };
    const i16 = (n) => { const b = Buffer.alloc(2); b.writeInt16BE(n); return b; };
    const i64 = (n) => { const b = Buffer.alloc(8); b.writeBigInt64BE(BigInt(n)); return b; };
    parts.push(i32(0));
    if (v >= 7) parts.push(i16(0), i32(0));
    parts.push(i32(1), i16(1), Buffer.from('t'), i32(2));
    // partition 0: data
    parts.push(i32(0), i16(0), i64(2), i64(2));
    if (v >= 5) parts.push(i64(0));
    parts.push(i32(-1));
    if (v >= 11) parts.push(i32(-1));
    parts.push(i32(records.length), records);
    // partition 1: NOT_LEADER_OR_FOLLOWER, no records
    parts.push(i32(1), i16(6), i64(-1), i64(-1));
    if (v >= 5) parts.push(i64(-1));
    parts.push(i32(-1));
    if (v >= 11) parts.push(i32(-1));
    parts.push(i32(-1));
    return Buffer.concat(parts);
  };
  for (const v of [4, 7, 11]) {
    const r = decodeFetchResponse(resp(v), v, { fetchOffset: () => 0, readCommitted: false });
    assert.equal(r.errorCode, 0);
    assert.equal(r.partitions.length, 2);
    const [p0, p1] = r.partitions;
    assert.equal(p0.topic, 't');
    assert.equal(p0.highWatermark, 2);
    assert.equal(p0.nextOffset, 2);
    assert.equal(p0.batches[0].count, 2);
    assert.equal(p1.errorCode, 6);
    assert.equal(p1.batches.length, 0);
  }
});

test('produce request/response layout', () => {
  const body = Buffer.concat(produceRequestParts(-1, 30000, [{ topic: 'ab', partitions: [{ partition: 3, records: Buffer.from('xyz') }] }]));
  assert.equal(body.toString('hex'), 'ffff' + 'ffff' + '00007530' + '00000001' + '0002' + '6162' + '00000001' + '00000003' + '00000003' + '78797a');
  const resp = Buffer.from('00000001' + '0002' + '6162' + '00000001' + '00000003' + '0000' + '000000000000002a' + 'ffffffffffffffff' + 'ffffffffffffffff' + '00000000', 'hex');
  assert.deepEqual(decodeProduceResponse(resp, 5), [{ topic: 'ab', partition: 3, errorCode: 0, baseOffset: 42 }]);
});

test('an append over the byte limit is refused unless the batch is empty', () => {
  const b = new BatchBuilder(64);
  assert.ok(b.append(null, 'x'.repeat(100), 1, undefined, 200) > 0);
  assert.equal(b.append(null, 'x'.repeat(100), 1, undefined, 200), -1);
  assert.equal(b.count, 1);
  const big = new BatchBuilder(64);
  assert.ok(big.append(null, 'x'.repeat(1000), 1, undefined, 200) > 0); // a lone record always fits
});

test('murmur2 partitioning matches Java (Kafka UtilsTest vectors) and kafkajs', () => {
  const cases = [
    ['21', -973932308], ['foobar', -790332482], ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829], ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971], ['abc', 479470107],
  ];
  for (const [k, h] of cases) {
    assert.equal(murmur2(k), h, k);
    assert.equal(murmur2(Buffer.from(k)), h, k);
  }
  const theirs = require('kafkajs/src/producer/partitioners/default/murmur2');
  for (const k of ['', 'u1', 'user-42', 'ключ', 'ünïcödé key', 'x'.repeat(37)]) {
    assert.equal(murmur2(k), theirs(Buffer.from(k)), k);
    assert.equal(partitionForKey(k, 7), (theirs(Buffer.from(k)) & 0x7fffffff) % 7, k);
  }
});

// ---------------------------------------------------------------------------------------------------------------
// records from fetched columns

test('RecordMaker: JSON values keep their text, text becomes strings, binary base64, null stays null', async () => {
  const recs = [
    { key: 'k', value: '{"a":1,"b":"x"}', headers: [{ key: 'h', value: 'v' }] },
    { value: 'plain text' },
    { value: '"quoted"' },
    { value: '' },
    { value: null },
    { value: '{"a":\n2}' },
    { value: '42' },
  ];
  const buf = await sealed(recs);
  const out = [];
  decodeRecordSet(buf, 0, buf.length, 0, undefined, out);
  const fp = { topic: 't', partition: 0, errorCode: 0, highWatermark: 7, lastStableOffset: 7, logStartOffset: 0, batches: out, nextOffset: 7 };
  const ref = { name: 't/0', topic: 't', partition: 0, topicJson: '"t"', where: (p) => `t/0@${p}` };
  for (const plan of ['none', ['a'], 'all']) {
    const rm = new RecordMaker('value', plan);
    const got = [];
    assert.equal(rm.make(fp, ref, got, Infinity), 6);
    assert.deepEqual(got.map((r) => r.fullValue()), [{ a: 1, b: 'x' }, 'plain text', 'quoted', '', null, { a: 2 }, 42], String(plan));
    assert.equal(got[0].raw, '{"a":1,"b":"x"}');
    assert.equal(got[1].raw, undefined);
    assert.equal(got[5].raw, undefined); // JSON over two lines is re-serialised on output
    assert.equal(got[0].key, 'k');
    assert.deepEqual(got[0].headers, [{ key: 'h', value: 'v' }]);
    assert.equal(got[3].pos, 3);
    assert.equal(got[3].where(), 't/0@3');
  }
  const env = new RecordMaker('envelope', 'none');
  const lines = [];
  env.make(fp, ref, lines, 2);
  assert.equal(lines.length, 2);
  assert.equal(lines[0].raw, '{"topic":"t","partition":0,"offset":0,"timestamp":1700000000000,"key":"k","headers":[{"key":"h","value":"v"}],"value":{"a":1,"b":"x"}}');
  assert.deepEqual(lines[1].fullValue().value, 'plain text');
});

test('a repartition topic\'s records lose the upstream header before they are made, and say which upstream wrote them', async () => {
  const buf = await sealed([
    { key: 'u1', value: '{"a":1}', headers: [{ key: 'kstream.upstream', value: '3' }, { key: 'h', value: 'v' }] },
    { key: 'u2', value: '{"a":2}', headers: [{ key: 'kstream.upstream', value: '0' }] },
    { key: 'u3', value: '{"a":3}' },
  ]);
  const out = [];
  decodeRecordSet(buf, 0, buf.length, 0, undefined, out);
  const fp = { topic: 'r', partition: 2, errorCode: 0, highWatermark: 3, lastStableOffset: 3, logStartOffset: 0, batches: out, nextOffset: 3 };
  const ups = takeUpstreams(fp);
  assert.deepEqual([ups.base, ...ups.of], [0, 3, 0, 0]);
  const ref = { name: 'r/2', topic: 'r', partition: 2, topicJson: '"r"', where: (p) => `r/2@${p}` };
  const got = [];
  new RecordMaker('value', 'all').make(fp, ref, got, Infinity);
  assert.deepEqual(got.map((r) => r.headers), [[{ key: 'h', value: 'v' }], undefined, undefined]);
  // a sink copying the stored bytes writes no upstream header either
  assert.deepEqual(got[0].stored.headers(got[0].si).map((h) => h.key), ['h']);
  assert.equal(got[1].stored.headers(got[1].si), undefined);
});

// ---------------------------------------------------------------------------------------------------------------
// connection options and errors

test('brokers: flag, then KSTREAM_BROKERS, then KAFKA_BROKERS, then 127.0.0.1:9092', () => {
  assert.deepEqual(connectionConfig({}, {}).brokers, ['127.0.0.1:9092']);
  assert.deepEqual(connectionConfig({}, { KAFKA_BROKERS: 'a:1' }).brokers, ['a:1']);
  assert.deepEqual(connectionConfig({}, { KAFKA_BROKERS: 'a:1', KSTREAM_BROKERS: 'b:2,c' }).brokers, ['b:2', 'c:9092']);
  assert.deepEqual(connectionConfig({ brokers: 'd:3' }, { KSTREAM_BROKERS: 'b:2' }).brokers, ['d:3']);
  assert.deepEqual(parseBrokers('[::1]:9093 kafka://h:1'), ['[::1]:9093', 'h:1']);
  assert.throws(() => parseBrokers('h:99999'), /invalid broker `h:99999`/);
  assert.equal(connectionConfig({}, {}).clientId, 'kstream');
});

test('SASL: password only from the environment or a file; TLS files', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ks-'));
  const pw = path.join(dir, 'pw');
  fs.writeFileSync(pw, 's3cret-from-file\n');
  const fromEnv = connectionConfig({ saslMechanism: 'SCRAM-SHA-512', saslUsername: 'u' }, { KSTREAM_SASL_PASSWORD: 'p4ss' });
  assert.deepEqual(fromEnv.sasl, { mechanism: 'scram-sha-512', username: 'u', password: 'p4ss' });
  assert.equal(connectionConfig({ saslUsername: 'u', saslPasswordFile: pw }, {}).sasl.password, 's3cret-from-file');
  assert.throws(() => connectionConfig({ saslUsername: 'u' }, {}), /SASL needs a password/);
  assert.throws(() => connectionConfig({ saslMechanism: 'plain' }, { KSTREAM_SASL_PASSWORD: 'x' }), /SASL needs a user/);
  assert.throws(() => connectionConfig({ saslMechanism: 'gssapi', saslUsername: 'u' }, { KSTREAM_SASL_PASSWORD: 'x' }), /unknown SASL mechanism `gssapi`/);
  assert.throws(() => connectionConfig({ saslUsername: 'u', saslPassword: 'x' }, {}), /passwords are not taken on the command line/);
  assert.throws(() => connectionConfig({ saslUsername: 'u', saslPasswordFile: path.join(dir, 'missing') }, {}), /cannot read SASL password file/);
  const ca = path.join(dir, 'ca.pem');
  fs.writeFileSync(ca, 'PEM');
  assert.deepEqual(connectionConfig({ tlsCa: ca }, {}).tls, { ca: 'PEM', cert: undefined, key: undefined, rejectUnauthorized: true });
  assert.equal(connectionConfig({ tls: true, tlsInsecure: true }, {}).tls.rejectUnauthorized, false);
  assert.throws(() => connectionConfig({ tlsCert: ca }, {}), /--tls-cert and --tls-key go together/);
  assert.equal(connectionConfig({}, {}).tls, undefined);
});

test('error lines: unreachable brokers, auth, TLS, missing topic; secrets scrubbed', () => {
  const cfg = connectionConfig({ brokers: '127.0.0.1:1', saslUsername: 'u' }, { KSTREAM_SASL_PASSWORD: 'hunter2hunter2' });
  const refused = Object.assign(new Error('Connection error: connect ECONNREFUSED 127.0.0.1:1'), { name: 'KafkaJSConnectionError', code: 'ECONNREFUSED' });
  const retries = Object.assign(new Error(refused.message), { name: 'KafkaJSNumberOfRetriesExceeded', cause: refused });
  const e = kafkaError(retries, { cfg });
  assert.ok(e instanceof RuntimeError);
  assert.equal(e.message, 'cannot reach brokers `127.0.0.1:1` (connection refused)');
  assert.equal(e.hint, 'start one with `npm run kafka:up` or set KSTREAM_BROKERS');
  const auth = Object.assign(new Error('SASL SCRAM SHA256 authentication failed: bad password hunter2hunter2'), { name: 'KafkaJSSASLAuthenticationError' });
  const a = kafkaError(auth, { cfg });
  assert.match(a.message, /^authentication failed at `127\.0\.0\.1:1`/);
  assert.ok(!a.message.includes('hunter2hunter2'));
  const tls = Object.assign(new Error('Connection error: self-signed certificate'), { name: 'KafkaJSConnectionError', code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
  assert.match(kafkaError(tls, { cfg: connectionConfig({ tls: true }, {}) }).message, /^TLS handshake with `127\.0\.0\.1:9092` failed \(DEPTH_ZERO_SELF_SIGNED_CERT\)/);
  const unknown = Object.assign(new Error('This server does not host this topic-partition'), { name: 'KafkaJSProtocolError', type: 'UNKNOWN_TOPIC_OR_PARTITION' });
  const m = kafkaError(unknown, { cfg, topic: 'clicks' });
  assert.ok(m instanceof MissingTopic);
  assert.equal(m.message, 'topic `clicks` does not exist');
  assert.equal(scrubSecrets('x hunter2hunter2 y', cfg), 'x *** y');
});

// ---------------------------------------------------------------------------------------------------------------
// option text

test('option values keep their text: +5, -5, 007; other values keep cac\'s types', () => {
  const options = [
    { flags: '-o, --offset <spec>', description: '' },
    { flags: '-k, --key <expr>', description: '' },
    { flags: '-n, --count <n>', description: '' },
    { flags: '-H, --header <kv>', description: '' },
    { flags: '-e, --exit', description: '' },
  ];
  const { argv, typed } = protectOptionValues(['t', '-o', '-5', '--key', '007', '-n', '10', '-e', '-H', 'a=1', '--header=b=2', '--', '-x'], options);
  assert.deepEqual(argv, ['t', '--offset=-5', '--key=007', '--count=10', '-e', '--header=a=1', '--header=b=2', '--', '-x']);
  const parsed = { offset: -5, o: -5, key: 7, k: 7, count: 10, n: 10, header: ['a=1', 'b=2'], H: ['a=1', 'b=2'], exit: true };
  restoreOptionValues(parsed, typed);
  assert.equal(parsed.offset, -5); // same text: left as cac gave it
  assert.equal(parsed.key, '007');
  assert.equal(parsed.k, '007');
  assert.equal(parsed.count, 10);
  const plus = protectOptionValues(['-o', '+5'], options);
  const p2 = { offset: 5, o: 5 };
  restoreOptionValues(p2, plus.typed);
  assert.equal(p2.offset, '+5');
  const missing = protectOptionValues(['--key', '--count', '3'], options);
  assert.deepEqual(missing.argv, ['--key', '--count=3']); // a flag is not swallowed as a value
});

test('ASCII values written as Latin-1 give the bytes UTF-8 encoding gives; pooled buffers are handed out again', () => {
  const values = ['{"a":1}', '', 'x'.repeat(300), '{"t":"plain ascii"}'];
  const build = (ascii) => {
    const b = new BatchBuilder(64);
    for (const v of values) b.append(null, v, 1_700_000_000_000, undefined, Infinity, ascii);
    return b.seal('none');
  };
  return Promise.all([build(true), build(false)]).then(([latin1, utf8]) => {
    assert.ok(latin1.equals(utf8));
    const pool = new BatchBuffers();
    const a = pool.take(1000);
    assert.ok(a.length >= 1000);
    pool.give(a);
    assert.equal(pool.take(500), a, 'a free buffer large enough is reused');
    assert.notEqual(pool.take(500), a, 'and handed out once');
    pool.give(Buffer.alloc(8 << 20));
    assert.equal(pool.take(6 << 20).length, 6 << 20, 'buffers grown for a huge record are not kept');
  });
});
