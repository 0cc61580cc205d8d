// The gateway's pure parts (src/serve/): API keys and the stream ids they own, the token bucket, request bodies
// (one JSON document or NDJSON, errors with their line), and the end markers around the user's stages.
// test/it/serve.test.mjs drives the whole gateway against the real broker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { ApiKeys } from '../dist/src/serve/keys.js';
import { RateLimits, TokenBucket } from '../dist/src/serve/ratelimit.js';
import { HttpError, parseRecords, readBody } from '../dist/src/serve/http.js';
import { EndMarkers } from '../dist/src/serve/pipeline.js';
import { Rec } from '../dist/src/pipeline/record.js';

const ALICE = 'alice-key-0123456789';
const BOB = 'bob-key-abcdefghijklmn';
const hex = (s) => createHash('sha256').update(s).digest('hex');

test('keys: plain and sha256: lines, names, comments; a presented key is found by its hash, a wrong one is not', () => {
  const keys = ApiKeys.parse(`# team keys\nalice ${ALICE}\n\nbob sha256:${hex(BOB)}\n${'c'.repeat(20)}\n`, 'keys.txt');
  assert.deepEqual(keys.keys.map((k) => k.name), ['alice', 'bob', 'key5']);
  assert.equal(keys.find(ALICE).name, 'alice');
  assert.equal(keys.find(BOB).name, 'bob');
  assert.equal(keys.find(`sha256:${hex(BOB)}`), undefined, 'the stored hash is not a key');
  assert.equal(keys.find('alice-key-012345678'), undefined);
  assert.equal(keys.find(''), undefined);
  // the key itself is never kept
  assert.ok(!JSON.stringify(keys.keys.map((k) => [k.name, k.hash.toString('hex')])).includes(ALICE));
});

test('keys: a bad file is one usage error naming the file and line', () => {
  assert.throws(() => ApiKeys.parse('alice short', 'k.txt'), /k\.txt:1: the key `alice` is shorter than 16 characters/);
  assert.throws(() => ApiKeys.parse(`a ${ALICE}\na ${BOB}`, 'k.txt'), /k\.txt:2: the key name `a` is used twice/);
  assert.throws(() => ApiKeys.parse(`a b ${ALICE}`, 'k.txt'), /k\.txt:1: a key line is `\[name\] key`, this one has 3 words/);
  assert.throws(() => ApiKeys.parse('# nothing\n\n', 'k.txt'), /k\.txt holds no API key/);
});

test('stream ids: minted for a key, owned by it only, unforgeable and well-formed', () => {
  const keys = ApiKeys.parse(`alice ${ALICE}\nbob ${BOB}`, 'keys.txt');
  const [alice, bob] = keys.keys;
  const id = keys.mint(alice);
  assert.match(id, /^st_[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{22}$/);
  assert.notEqual(keys.mint(alice), id, 'ids are random');
  assert.ok(ApiKeys.wellFormed(id));
  assert.equal(keys.owns(alice, id), true);
  assert.equal(keys.owns(bob, id), false);
  // another process with the same keys file agrees (no shared state)
  const again = ApiKeys.parse(`alice ${ALICE}\nbob sha256:${hex(BOB)}`, 'other.txt');
  assert.equal(again.owns(again.keys[0], id), true);
  assert.equal(again.owns(again.keys[1], keys.mint(bob)), true);
  // a tag changed by one character, or a nonce swapped under a valid tag, is not owned
  const [nonce, tag] = id.slice(3).split('.');
  const flipped = `st_${nonce}.${tag[0] === 'A' ? 'B' : 'A'}${tag.slice(1)}`;
  assert.equal(keys.owns(alice, flipped), false);
  assert.equal(keys.owns(alice, `st_${keys.mint(alice).slice(3, 25)}.${tag}`), false);
  assert.equal(ApiKeys.wellFormed('st_x.y'), false);
  assert.equal(keys.owns(alice, '../../etc/passwd'), false);
});

test('token bucket: a burst, then the rate; Retry-After is the time to the next token', () => {
  const b = new TokenBucket(10, 3, 0);
  assert.deepEqual([b.take(0), b.take(0), b.take(0)], [0, 0, 0]);
  assert.ok(Math.abs(b.take(0) - 0.1) < 1e-9, 'empty: one token comes in 1/rate s');
  assert.equal(b.take(50), 0.05, 'half a token after 50 ms: 50 ms to wait');
  assert.equal(b.take(100), 0, 'a whole token after 100 ms');
  assert.equal(b.remaining(100), 0);
  assert.equal(b.remaining(10_000), 3, 'refills stop at the burst');
  const limits = new RateLimits(1, 1);
  assert.equal(limits.bucket('a', 0).take(0), 0);
  assert.ok(limits.bucket('a', 0).take(0) > 0, 'the same key shares its bucket');
  assert.equal(limits.bucket('b', 0).take(0), 0, 'another key has its own');
});

test('bodies: one JSON document (even over several lines) is one record; NDJSON lines are records; blank lines skipped', () => {
  assert.deepEqual(parseRecords(Buffer.from(' {"a": 1} \n'), 'application/json'), ['{"a": 1}']);
  assert.deepEqual(parseRecords(Buffer.from('{\n  "a": 1,\n  "b": [2]\n}\n'), undefined), ['{"a":1,"b":[2]}']);
  assert.deepEqual(parseRecords(Buffer.from('{"a":1}\n\n{"a":2}\n'), undefined), ['{"a":1}', '{"a":2}']);
  assert.deepEqual(parseRecords(Buffer.from('{"a":1}\r\n{"a":2}'), 'application/x-ndjson'), ['{"a":1}', '{"a":2}']);
  assert.deepEqual(parseRecords(Buffer.from('7'), undefined), ['7']);
  assert.deepEqual(parseRecords(Buffer.from('{"a":1}'), 'application/x-ndjson'), ['{"a":1}']);
});

test('bodies: a line that is not JSON fails the whole body with 400, its line and the reason', () => {
  const fails = (text, ct, re) => {
    try {
      parseRecords(Buffer.from(text), ct);
      assert.fail('no error');
    } catch (e) {
      assert.ok(e instanceof HttpError);
      assert.equal(e.status, 400);
      assert.match(e.message, re);
    }
  };
  fails('{"a":', undefined, /^line 1: not JSON/);
  fails('{"a":1}\n{"a":2}\n{oops}\n', undefined, /^line 3: not JSON/);
  fails('{"a":1}\nnope', 'application/x-ndjson', /^line 2: not JSON/);
  fails('  \n', undefined, /the body is empty/);
});

test('bodies: read up to the limit; past it a 413 without buffering the rest', async () => {
  const req = (chunks, length) => Object.assign(Readable.from(chunks.map((c) => Buffer.from(c))), { headers: length === undefined ? {} : { 'content-length': String(length) } });
  assert.equal((await readBody(req(['ab', 'cd']), 4)).toString(), 'abcd');
  await assert.rejects(readBody(req(['abc', 'de']), 4), (e) => e.status === 413 && /more than the 4 bytes/.test(e.message));
  await assert.rejects(readBody(req(['x'], 10_000), 4), (e) => e.status === 413 && /10000 bytes/.test(e.message));
});

test('end markers skip the stages between and leave after the records of their batch, or at the next tick', () => {
  const marks = new EndMarkers();
  const before = marks.before();
  const after = marks.after();
  const rec = (v, end) => {
    const r = new Rec(v, JSON.stringify(v), false, 0);
    r.key = 's1';
    if (end) r.headers = [{ key: 'kstream-serve', value: 'end' }];
    return r;
  };
  const mid = [];
  const batch = [rec({ n: 1 }), rec(null, true), rec({ n: 2 })];
  before.process(batch, mid);
  assert.deepEqual(mid.map((r) => r.value), [{ n: 1 }, { n: 2 }], 'the stages never see the marker');
  const out = [];
  after.process(mid.filter((r) => r.value.n === 2), out);
  assert.deepEqual(out.map((r) => [r.value, EndMarkers.isEnd(r)]), [[{ n: 2 }, false], [null, true]]);
  // a batch the stages dropped entirely: the marker goes out at the next tick (or the end)
  before.process([rec(null, true)], []);
  const ticked = [];
  after.tick(0, ticked);
  assert.equal(ticked.length, 1);
  assert.ok(EndMarkers.isEnd(ticked[0]));
  const none = [];
  after.end(none);
  assert.equal(none.length, 0, 'each marker once');
  // a header of another value is a record like any other
  const other = rec({ n: 3 });
  other.headers = [{ key: 'kstream-serve', value: 'other' }];
  assert.equal(EndMarkers.isEnd(other), false);
});
