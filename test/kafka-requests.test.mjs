// kstream's own IncrementalAlterConfigs codec (kafka/protocol/requests.ts), byte for byte against the protocol's
// schema (IncrementalAlterConfigsRequest.json / Response.json: v0 classic, v1 flexible).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { encodeIncrementalAlterConfigs, decodeIncrementalAlterConfigs, decodeOffsetFetchV7 } from '../dist/src/kafka/protocol/requests.js';

const hex = (s) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const resources = [{ type: 2, name: 't', configs: [{ name: 'a', op: 'set', value: 'b' }, { name: 'c', op: 'delete' }] }];

test('IncrementalAlterConfigs v0: int32 array lengths, int16 strings, a null value for delete', () => {
  assert.deepEqual(encodeIncrementalAlterConfigs(0, resources, false), Buffer.from([
    0x00, 0x00, 0x00, 0x01, // resources: 1
    0x02, 0x00, 0x01, 0x74, // TOPIC "t"
    0x00, 0x00, 0x00, 0x02, // configs: 2
    0x00, 0x01, 0x61, 0x00, 0x00, 0x01, 0x62, // "a" SET "b"
    0x00, 0x01, 0x63, 0x01, 0xff, 0xff, // "c" DELETE null
    0x00, // validate_only false
  ]));
});

test('IncrementalAlterConfigs v1: header tags, compact lengths (n+1), null as 0, tagged fields per struct', () => {
  assert.deepEqual(encodeIncrementalAlterConfigs(1, resources, true), Buffer.from([
    0x00, // request header tagged fields
    0x02, // resources: 1
    0x02, 0x02, 0x74, // TOPIC "t"
    0x03, // configs: 2
    0x02, 0x61, 0x00, 0x02, 0x62, 0x00, // "a" SET "b", tags
    0x02, 0x63, 0x01, 0x00, 0x00, // "c" DELETE null, tags
    0x00, // resource tags
    0x01, // validate_only true
    0x00, // tags
  ]));
  // a value of 127+ bytes takes a two-byte varint length
  const long = 'x'.repeat(200);
  const b = encodeIncrementalAlterConfigs(1, [{ type: 2, name: 't', configs: [{ name: 'a', op: 'set', value: long }] }], false);
  assert.deepEqual([...b.subarray(9, 11)], [0xc9, 0x01]); // 201 = 0x49 | 0x80, 0x01
  assert.equal(b.toString('utf8', 11, 211), long);
  assert.equal(b.length, 211 + 4);
});

test('IncrementalAlterConfigs responses decode: error code, the broker\'s message, resource', () => {
  const v0 = Buffer.concat([hex('00000000 00000002'), hex('0028 0003'), Buffer.from('bad'), hex('02 0001 74'), hex('0000 ffff 02 0001 75')]);
  assert.deepEqual(decodeIncrementalAlterConfigs(0, v0), [
    { errorCode: 40, errorMessage: 'bad', resourceType: 2, resourceName: 't' },
    { errorCode: 0, errorMessage: null, resourceType: 2, resourceName: 'u' },
  ]);
  // v1: response header tags, throttle, compact array; a tagged field the decoder does not know is skipped
  const v1 = Buffer.concat([hex('00 00000000 03'), hex('0028 04'), Buffer.from('bad'), hex('02 0274 00'), hex('0000 00 02 0275 01 05 02 aaaa'), hex('00')]);
  assert.deepEqual(decodeIncrementalAlterConfigs(1, v1), [
    { errorCode: 40, errorMessage: 'bad', resourceType: 2, resourceName: 't' },
    { errorCode: 0, errorMessage: null, resourceType: 2, resourceName: 'u' },
  ]);
});

test('OffsetFetch v7 response: committed offsets above 2^32 and the error codes, through the shared reader', () => {
  const t = Buffer.from('clicks');
  const body = Buffer.concat([
    Buffer.from([0]), // response header tagged fields
    Buffer.from([0, 0, 0, 0]), // throttle time
    Buffer.from([2]), // 1 topic
    Buffer.from([t.length + 1]), t,
    Buffer.from([3]), // 2 partitions
    Buffer.from([0, 0, 0, 0]), Buffer.from([0, 0, 0, 1, 0, 0, 0, 5]), Buffer.from([0xff, 0xff, 0xff, 0xff]), Buffer.from([1]), Buffer.from([0, 0]), Buffer.from([0]),
    Buffer.from([0, 0, 0, 7]), Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), Buffer.from([0, 0, 0, 0]), Buffer.from([0]), Buffer.from([0, 3]), Buffer.from([0]),
    Buffer.from([0]), // topic tagged fields
    Buffer.from([0, 0]), // group error code
  ]);
  assert.deepEqual(decodeOffsetFetchV7(body), {
    errorCode: 0,
    partitions: [
      { topic: 'clicks', partition: 0, offset: 4294967301, errorCode: 0 },
      { topic: 'clicks', partition: 7, offset: -1, errorCode: 3 },
    ],
  });
});
