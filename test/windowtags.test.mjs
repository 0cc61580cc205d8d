// The window tags' owner (src/time/windowtags.ts): the text they splice into a record, how the window stage
// attaches them, how aggregate reads them back from either form, and the `$window` line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rec, encodeValue } from '../dist/src/pipeline/record.js';
import { normalizeKey } from '../dist/src/operators/groupkey.js';
import { specFromPayload, TAG_MEMBERS, TagReader, TagWriter, WINDOW_CONTROL, windowControl, WindowTags } from '../dist/src/time/windowtags.js';

const W = [{ start: 0, end: 10 }];
const tagged = (text, ...sets) => {
  const r = new Rec(JSON.parse(text), text, false, 1);
  for (const s of sets) r.tag(s);
  return r;
};

test('spliced text: members before the closing brace of an object, nothing re-serialised', () => {
  assert.equal(tagged('{"a":1, "b" : [1,2] }', new WindowTags(5, W, undefined, undefined)).raw, '{"a":1, "b" : [1,2] ,"@time":5,"@windows":[{"start":0,"end":10}]}');
  assert.equal(tagged('{"a":1}', new WindowTags(undefined, [{ index: 3 }], undefined, undefined)).raw, '{"a":1,"@windows":[{"index":3}]}');
});

test('spliced text: an empty object gets no leading comma', () => {
  assert.equal(tagged('{}', new WindowTags(5, W, undefined, undefined)).raw, '{"@time":5,"@windows":[{"start":0,"end":10}]}');
  assert.equal(tagged('{ \t}', new WindowTags(5, W, undefined, undefined)).raw, '{ \t"@time":5,"@windows":[{"start":0,"end":10}]}');
});

test('spliced text: a value that is not an object is wrapped as @value', () => {
  const t = new WindowTags(5, W, undefined, undefined);
  assert.equal(tagged('7', t).raw, '{"@value":7,"@time":5,"@windows":[{"start":0,"end":10}]}');
  assert.equal(tagged('"x"', t).raw, '{"@value":"x","@time":5,"@windows":[{"start":0,"end":10}]}');
  assert.equal(tagged('[1,{"a":2}]', t).raw, '{"@value":[1,{"a":2}],"@time":5,"@windows":[{"start":0,"end":10}]}');
  assert.equal(tagged('null', t).raw, '{"@value":null,"@time":5,"@windows":[{"start":0,"end":10}]}');
});

test('spliced text: the group key and merged sessions, after the windows', () => {
  const t = new WindowTags(12, [{ start: 3, end: 12 }], { u: 'é', n: 1 }, [{ start: 3, end: 5 }, { start: 9, end: 12 }]);
  const r = tagged('{"u":"é"}', t);
  assert.equal(r.raw, '{"u":"é","@time":12,"@windows":[{"start":3,"end":12}],"@key":{"u":"é","n":1},"@merged":[{"start":3,"end":5},{"start":9,"end":12}]}');
  assert.equal(tagged('{"a":1}', new WindowTags(4, W, null, undefined)).raw, '{"a":1,"@time":4,"@windows":[{"start":0,"end":10}],"@key":null}');
  // a list with its text already made (time/windowassign.ts, WinList) is written as that text
  const shared = Object.freeze(Object.defineProperty([{ start: 0, end: 10 }], 'json', { value: '[{"start":0,"end":10}]' }));
  assert.equal(tagged('{"a":1}', new WindowTags(4, shared, 'k', undefined)).raw, '{"a":1,"@time":4,"@windows":[{"start":0,"end":10}],"@key":"k"}');
});

test('a record tagged twice shows both sets, the later last — as two window stages in a pipe write it', () => {
  const first = new WindowTags(5, W, 'A', undefined);
  const second = new WindowTags(7, [{ start: 5, end: 15 }], undefined, undefined);
  const r = tagged('{"a":1}', first, second);
  assert.equal(r.raw, '{"a":1,"@time":5,"@windows":[{"start":0,"end":10}],"@key":"A","@time":7,"@windows":[{"start":5,"end":15}]}');
  assert.equal(r.tags, second);
  // read in between: the first set is in the text already, the second follows it
  const s = tagged('{"a":1}', first);
  assert.equal(s.raw, '{"a":1,"@time":5,"@windows":[{"start":0,"end":10}],"@key":"A"}');
  s.tag(second);
  assert.equal(s.raw, '{"a":1,"@time":5,"@windows":[{"start":0,"end":10}],"@key":"A","@time":7,"@windows":[{"start":5,"end":15}]}');
  assert.equal(tagged('7', first, second).raw, '{"@value":7,"@time":5,"@windows":[{"start":0,"end":10}],"@key":"A","@time":7,"@windows":[{"start":5,"end":15}]}');
});

test('on the record: tagging marks the text changed; a new value drops the tags; a derived record has none', () => {
  const r = tagged('{"a":1}');
  r.ascii = true;
  r.valueStored = true;
  r.tag(new WindowTags(5, W, undefined, undefined));
  assert.equal(r.ascii, false);
  assert.equal(r.valueStored, false);
  assert.equal(r.derive({ b: 2 }).tags, undefined);
  r.setValue({ b: 2 });
  assert.equal(r.tags, undefined);
  assert.equal(encodeValue(r), '{"b":2}');
  // without text only the slot is set: the value shows the tags (the writer's business)
  const bare = new Rec({ a: 1 }, undefined, false, 1);
  bare.tag(new WindowTags(5, W, undefined, undefined));
  assert.equal(bare.raw, undefined);
  assert.deepEqual(bare.tags, new WindowTags(5, W, undefined, undefined));
});

test('the writer: full values are copied with the tags (wrapped when not objects), views get their tag fields in place', () => {
  const w = new TagWriter();
  const shared = { a: 1 };
  const r = new Rec(shared, '{"a":1}', false, 1);
  w.tag(r, shared, 12, [{ start: 3, end: 12 }], 'k', [{ start: 3, end: 5 }]);
  assert.deepEqual(shared, { a: 1 }, 'the original value is not changed');
  assert.deepEqual(r.value, { a: 1, '@time': 12, '@windows': [{ start: 3, end: 12 }], '@key': 'k', '@merged': [{ start: 3, end: 5 }] });
  assert.equal(encodeValue(r), '{"a":1,"@time":12,"@windows":[{"start":3,"end":12}],"@key":"k","@merged":[{"start":3,"end":5}]}');
  const n = new Rec(7, '7', false, 1);
  w.tag(n, 7, -1, [{ index: 0 }], undefined, undefined);
  assert.deepEqual(n.value, { '@value': 7, '@windows': [{ index: 0 }] });
  assert.equal(n.tags.time, undefined, 'a negative time is none');
  assert.equal(encodeValue(n), '{"@value":7,"@windows":[{"index":0}]}');

  // a view made with fields for @time and @key only (a later stage reads them): those two are set
  class View { constructor(a) { this.a = a; this['@time'] = undefined; this['@key'] = undefined; } }
  const view = new View(1);
  const p = new Rec(view, '{"a":1,"z":2}', true, 1);
  new TagWriter().tag(p, view, 12, W, 'k', undefined);
  assert.equal(p.value, view);
  assert.deepEqual({ ...view }, { a: 1, '@time': 12, '@key': 'k' });
  assert.equal(encodeValue(p), '{"a":1,"z":2,"@time":12,"@windows":[{"start":0,"end":10}],"@key":"k"}');
});

test('reading back: attached in this process, or from the members of the piped text, gives the same tags', () => {
  const tags = new WindowTags(12, [{ start: 3, end: 12 }], { id: 1 }, [{ start: 3, end: 5 }]);
  const fused = tagged('{"a":1}', tags);
  const reader = new TagReader();
  const on = reader.attached(fused);
  assert.equal(on, tags);
  const piped = JSON.parse(fused.raw);
  assert.equal(reader.attached(new Rec(piped, fused.raw, false, 1)), undefined, 'a record from a pipe has nothing attached');
  assert.equal(reader.attached(new Rec(1, '1', false, 1)), undefined);
  for (const [t, tv] of [[on, undefined], [undefined, piped]]) {
    assert.deepEqual(reader.windows(t, tv), [{ start: 3, end: 12 }]);
    assert.equal(reader.time(t, tv, 99), 12);
    assert.deepEqual(reader.key(t, tv, normalizeKey), { id: 1 });
    assert.deepEqual(reader.merged(t, tv), [{ start: 3, end: 5 }]);
  }
  // the wrapper: the value as `window` got it
  const wrapped = JSON.parse(tagged('[1,2]', tags).raw);
  assert.deepEqual(reader.value(wrapped, wrapped), [1, 2]);
  assert.deepEqual(reader.value(piped, piped), piped);
  // what is missing: the record timestamp stands in for the time; no key, no merged sessions, no windows
  const none = new WindowTags(undefined, [{ index: 0 }], undefined, undefined);
  assert.equal(reader.time(none, undefined, 99), 99);
  assert.equal(reader.time(none, { '@time': 'x' }, 99), 99);
  assert.equal(reader.key(none, undefined, normalizeKey), undefined);
  assert.equal(reader.key(undefined, {}, normalizeKey), undefined);
  assert.equal(reader.merged(none, {}), undefined);
  assert.equal(reader.windows(undefined, {}), undefined);
  assert.equal(reader.windows(undefined, undefined), undefined);
  // a tag the window did not attach is found in the value, as in the piped text (an earlier window's key)
  assert.equal(reader.time(none, { '@time': 4 }, 99), 4);
  assert.equal(reader.key(none, { '@key': 5 }, (k) => `text ${k}`), 'text 5');
  assert.deepEqual(reader.merged(none, { '@merged': [] }), []);
  // a whole value with tags, whose `$window` line never came
  assert.equal(reader.carried(piped), true);
  assert.equal(reader.carried({ a: 1 }), false);
  assert.equal(reader.carried(null), false);
});

test('reading back: a view shows the tags only when its decoder made fields for them', () => {
  class Bare { constructor() { this.a = 1; } }
  class Tagged { constructor() { this.a = 1; this['@windows'] = undefined; } }
  const reader = new TagReader();
  assert.equal(reader.inView(new Bare()), false);
  assert.equal(reader.inView(new Tagged()), true);
  assert.equal(reader.inView(new Bare()), false);
});

test('the $window line: its name, the spec as payload, read back; the members the decoder adds after it', () => {
  assert.equal(WINDOW_CONTROL, '$window');
  assert.deepEqual([...TAG_MEMBERS], ['@time', '@windows', '@key', '@merged', '@value']);
  const hop = { type: 'hopping', size: 10000, advance: 5000, offset: 0, grace: 200, time: 'r.ts', by: 'r.k' };
  const line = windowControl(hop);
  assert.equal(line.ctl, '$window');
  assert.equal(encodeValue(line), '{"$kstream":{"window":{"type":"hopping","size":10000,"advance":5000,"offset":0,"grace":200,"time":"r.ts","by":"r.k"}}}');
  assert.deepEqual(specFromPayload(line.value), { ...hop, diff: undefined, gap: undefined, partial: undefined });
  assert.equal(encodeValue(windowControl({ type: 'count', size: 3, partial: true, grace: 0, time: 'ts', by: null })), '{"$kstream":{"window":{"type":"count","size":3,"partial":true,"by":null}}}');
  assert.deepEqual(specFromPayload({ type: 'tumbling', size: 60000 }), { type: 'tumbling', size: 60000, advance: 60000, offset: 0, diff: undefined, gap: undefined, grace: 0, partial: undefined, time: 'ts', by: null });
  assert.throws(() => specFromPayload({ type: 'weekly' }), /unknown window type/);
  assert.throws(() => specFromPayload({ type: 'session' }), /missing `gap`/);
  assert.throws(() => specFromPayload({ type: 'sliding', diff: -1 }), /bad `diff`/);
});
