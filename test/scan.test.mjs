import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FieldScanner, validateJson, chunkIsPlain } from '../dist/src/codec/scan.js';

const scanAll = (line, fields) => {
  const sc = new FieldScanner(fields);
  return { v: sc.scan(line, 0, line.length, chunkIsPlain(line)), partial: sc.lastWasPartial };
};

test('extracted fields equal what JSON.parse gives, on both string paths', () => {
  const lines = [
    '{"ts":1767225600000,"user":"u1","page":"/a","latency_ms":42,"ok":true}',
    '{"a":-0.5e-3,"b":"x\\u00e9\\"y","c":null,"d":[1,{"e":"}"}],"f":{"g":[]},"h":false}',
    ' { "a" : 1 , "b" : "two" , "c" : [ 3 ] } ',
    '{"a":123456789012345678901234567890,"b":1E+2,"c":-0,"d":0.1}',
    '{"a":1,"a":2,"b":"dup-last-wins"}',
    '{"k\\u0061":"escaped key","b":"\\t"}',
  ];
  for (const line of lines) {
    const expected = JSON.parse(line);
    const fields = Object.keys(expected);
    for (const plain of [false, true]) {
      if (plain && !chunkIsPlain(line)) continue;
      const sc = new FieldScanner(fields);
      const v = sc.scan(line, 0, line.length, plain);
      for (const f of fields) assert.deepEqual(v[f], expected[f], `${line} field ${f}`);
      assert.ok(Object.is(v.c, expected.c) || typeof expected.c !== 'number', 'negative zero kept');
    }
  }
});

test('only wanted fields are materialised; absent fields are undefined', () => {
  const { v } = scanAll('{"a":1,"b":{"deep":[1,2,3]},"c":"x"}', ['c', 'zz']);
  assert.equal(v.c, 'x');
  assert.equal(v.zz, undefined);
  assert.equal(v.a, undefined);
});

test('a non-object line yields the whole value, not a view', () => {
  for (const line of ['[1,2,3]', '42', '"s"', 'null', 'true']) {
    const { v, partial } = scanAll(line, ['a']);
    assert.deepEqual(v, JSON.parse(line));
    assert.equal(partial, false);
  }
});

test('malformed JSON is rejected wherever JSON.parse rejects it, with a column', () => {
  const bad = ['{"a":1,}', '{"a":01}', '{"a":"x', '{"a":1} x', '{a:1}', '{"a":tru}', '{"a":"\t"}', '[1,2', '{"a":1', '{"a" 1}',
    '{"a":.5}', '{"a":1.}', '{"a":1e}', '{"a":"\\x"}', '{"a":"\\u12"}', '{"a":[1,]}', '{"a":nul}', '{} {}', '{"b":{"c":}}', '-', ''];
  for (const line of bad) {
    assert.throws(() => JSON.parse(line), undefined, `JSON.parse accepts ${line}`);
    for (const fields of [[], ['a'], ['b']]) {
      assert.throws(() => scanAll(line, fields), /invalid JSON at column \d+/, `scanner accepted ${JSON.stringify(line)} with ${fields}`);
    }
    assert.throws(() => validateJson(line), /invalid JSON at column/);
  }
});

test('error columns point at the offending character', () => {
  assert.throws(() => scanAll('{"a":1,}', ['a']), /column 8: unexpected '\}'/);
  assert.throws(() => scanAll('{"a":"x', []), /unterminated string/);
  assert.throws(() => scanAll('{"a":1} x', []), /column 9: unexpected 'x'/);
});

test('a line inside a larger chunk is scanned in place and never reads past its end', () => {
  const chunk = '{"a":1}\n{"a":"unterminated\n{"a":3}';
  const [l1, l2] = [chunk.indexOf('\n'), chunk.lastIndexOf('\n')];
  const sc = new FieldScanner(['a']);
  assert.equal(sc.scan(chunk, 0, l1, true).a, 1);
  assert.throws(() => sc.scan(chunk, l1 + 1, l2, true), /column 19: unterminated string/);
  assert.throws(() => sc.scan(chunk, l1 + 1, l2, false), /unterminated string/);
  assert.equal(sc.scan(chunk, l2 + 1, chunk.length, true).a, 3);
});
