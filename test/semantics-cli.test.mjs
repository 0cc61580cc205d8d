// SEMANTICS.md examples through the built CLI: `window … | aggregate …` as two processes joined by a real pipe,
// and `window … + aggregate …` fused in one process. Both outputs must be byte-identical and correct.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runSync, piped, lines } from './helpers/spawn.mjs';

const A = (v, t) => ({ k: 'A', v, t });
const ndjson = (recs) => recs.map((r) => JSON.stringify(r)).join('\n') + '\n';
const dataOf = (text) => lines(text).filter((o) => !Object.keys(o)[0].startsWith('$'));

/** Runs window → aggregate both ways; asserts identical bytes and exit 0; returns the output text. */
async function both(windowArgs, aggArgs, input) {
  // Both runs at once: a fused run is a one-process pipeline.
  const [fused, p] = await Promise.all([piped([[...windowArgs, '+', ...aggArgs]], input), piped([windowArgs, aggArgs], input)]);
  assert.deepEqual(fused.codes, [0], fused.stderr[0]);
  assert.deepEqual(p.codes, [0, 0], p.stderr.join('\n'));
  assert.equal(p.stdout, fused.stdout, 'piped and fused outputs differ');
  return { out: fused.stdout, stderr: fused.stderr[0], pipedStderr: p.stderr };
}

const row = (start, end, fields, emit = 'final') => ({ key: 'A', window: { start, end }, ...fields, emit });

test('examples 1, 2, 11: tumbling, update and final, boundaries, end of input', async () => {
  const ex1 = ndjson([A(1, 1), A(2, 5), A(3, 12)]);
  const u = await both(['window', 'tumbling', '10', '--time', 'r.t'], ['aggregate', 'sum(r.v)', '--by', 'r.k', '--emit', 'update'], ex1);
  assert.deepEqual(dataOf(u.out), [row(0, 10, { sum_v: 1 }, 'update'), row(0, 10, { sum_v: 3 }, 'update'), row(10, 20, { sum_v: 3 }, 'update')]);
  const f = await both(['window', 'tumbling', '10', '--time', 'r.t'], ['aggregate', 'sum(r.v)', '--by', 'r.k'], ex1);
  // The [0,10) final comes when @12 arrives, before the watermark line that record caused.
  assert.equal(f.out, [
    '{"key":"A","window":{"start":0,"end":10},"sum_v":3,"emit":"final"}',
    '{"$kstream":{"watermark":12}}',
    '{"key":"A","window":{"start":10,"end":20},"sum_v":3,"emit":"final"}',
    '',
  ].join('\n'));
  const ex2 = await both(['window', 'tumbling', '10', '--time', 'r.t'], ['aggregate', 'count', '--by', 'r.k', '--no-watermarks'], ndjson([A(1, 9), A(1, 10)]));
  assert.deepEqual(lines(ex2.out), [row(0, 10, { count: 1 }), row(10, 20, { count: 1 })]);
  const ex11 = await both(['window', 'tumbling', '10', '--time', 'r.t'], ['aggregate', 'count', '--by', 'r.k'], ndjson([A(1, 1), A(1, 3)]));
  assert.deepEqual(lines(ex11.out), [row(0, 10, { count: 2 })]);
});

test('examples 3, 4: late records and grace; late=1 reported, --late file written', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kstream-late-'));
  const lateFile = path.join(dir, 'late.ndjson');
  const ex3 = ndjson([A(1, 2), A(1, 11), A(1, 7)]);
  const fused = runSync(['window', 'tumbling', '10', '--time', 'r.t', '--late', lateFile, '+', 'aggregate', 'count', '--by', 'r.k'], ex3);
  assert.equal(fused.code, 0, fused.stderr);
  assert.deepEqual(dataOf(fused.stdout), [row(0, 10, { count: 1 }), row(10, 20, { count: 1 })]);
  assert.match(fused.stderr, /window: late=1/);
  assert.equal(fs.readFileSync(lateFile, 'utf8'), '{"k":"A","v":1,"t":7}\n');
  const r = await both(['window', 'tumbling', '10', '--time', 'r.t'], ['aggregate', 'count', '--by', 'r.k'], ex3);
  assert.deepEqual(dataOf(r.out), [row(0, 10, { count: 1 }), row(10, 20, { count: 1 })]);
  assert.match(r.pipedStderr[0], /late=1/);
  const ex4 = await both(['window', 'tumbling', '10', '--time', 'r.t', '--grace', '5'], ['aggregate', 'count', '--by', 'r.k'], ndjson([2, 11, 7, 14, 8, 15, 9].map((t) => A(1, t))));
  assert.equal(ex4.out, [
    '{"key":"A","window":{"start":0,"end":10},"count":3,"emit":"final"}',
    '{"$kstream":{"watermark":10}}',
    '{"key":"A","window":{"start":10,"end":20},"count":3,"emit":"final"}',
    '',
  ].join('\n'));
});

test('examples 5–8: hopping, sliding (update, early records), session', async () => {
  const ex5 = await both(['window', 'hopping', '10', '--every', '5', '--time', 'r.t'], ['aggregate', 'sum(r.v)', '--by', 'r.k'], ndjson([A(1, 3), A(2, 7), A(4, 12)]));
  assert.deepEqual(dataOf(ex5.out), [row(0, 10, { sum_v: 3 }), row(5, 15, { sum_v: 6 }), row(10, 20, { sum_v: 4 })]);
  const ex6 = await both(['window', 'sliding', '5', '--grace', '100', '--time', 'r.t', '--by', 'r.k'], ['aggregate', 'sum(r.v)', '--emit', 'update'], ndjson([A(1, 8), A(2, 9), A(3, 12)]));
  assert.deepEqual(dataOf(ex6.out), [
    row(3, 8, { sum_v: 1 }, 'update'),
    row(9, 14, { sum_v: 2 }, 'update'), row(4, 9, { sum_v: 3 }, 'update'),
    row(9, 14, { sum_v: 5 }, 'update'), row(10, 15, { sum_v: 3 }, 'update'), row(7, 12, { sum_v: 6 }, 'update'),
  ]);
  const ex7 = await both(['window', 'sliding', '5', '--time', 'r.t', '--by', 'r.k'], ['aggregate', 'sum(r.v)'], ndjson([A(1, 2)]));
  assert.deepEqual(dataOf(ex7.out), [row(0, 5, { sum_v: 1 })]);
  const ex8 = await both(['window', 'session', '5', '--time', 'r.t', '--by', 'r.k'], ['aggregate', 'count'], ndjson([A(1, 10), A(1, 15), A(1, 21)]));
  assert.equal(ex8.out, [
    '{"key":"A","window":{"start":10,"end":15},"count":2,"emit":"final"}',
    '{"$kstream":{"watermark":21}}',
    '{"key":"A","window":{"start":21,"end":21},"count":1,"emit":"final"}',
    '',
  ].join('\n'));
});

test('example 9: count windows, partial at end unless --no-partial', async () => {
  const input = ndjson([A(1), A(2), { k: 'B', v: 5 }, A(3), A(4)]);
  const out = (key, index, count, sum) => ({ key, window: { index }, count, sum, emit: 'final' });
  const r = await both(['window', 'count', '3', '--by', 'r.k'], ['aggregate', 'count', 'sum(r.v) as sum'], input);
  assert.deepEqual(lines(r.out), [out('A', 0, 3, 6), out('A', 1, 1, 4), out('B', 0, 1, 5)]);
  const np = await both(['window', 'count', '3', '--by', 'r.k', '--no-partial'], ['aggregate', 'count', 'sum(r.v) as sum'], input);
  assert.deepEqual(lines(np.out), [out('A', 0, 3, 6)]);
});

test('examples 10, 12: rolling aggregates and percentiles (piped and fused after a filter)', async () => {
  const input = ndjson([4, null, 2, 6].map((v) => ({ k: 'A', v })));
  const fns = ['aggregate', 'count', 'sum(r.v)', 'min(r.v)', 'max(r.v)', 'avg(r.v)', '--by', 'r.k'];
  const r = await both(['filter', 'true'], fns, input);
  assert.deepEqual(lines(r.out).map((o) => [o.count, o.sum_v, o.min_v, o.max_v, o.avg_v]), [[1, 4, 4, 4, 4], [2, 4, 4, 4, 4], [3, 6, 2, 4, 3], [4, 12, 2, 6, 4]]);
  const p = await both(['filter', 'true'], ['aggregate', 'p50(r.v)', 'p99(r.v)', '--emit', 'end'], ndjson([1, 2, 3, 4].map((v) => ({ v }))));
  assert.deepEqual(lines(p.out), [{ p50_v: 2, p99_v: 4, emit: 'end' }]);
  const q = await both(['filter', 'true'], ['aggregate', 'p50(r.v)', 'p99(r.v)', '--emit', 'end'], ndjson(Array.from({ length: 100 }, (_, i) => ({ v: i + 1 }))));
  assert.deepEqual(lines(q.out), [{ p50_v: 50, p99_v: 99, emit: 'end' }]);
});

test('a large shuffled stream: piped and fused byte-identical for every window type', async () => {
  let s = 42;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const pages = ['/home', '/search', '/cart', '/blog/kafka', '/docs'];
  const base = Date.UTC(2026, 0, 1);
  const recs = [];
  for (let i = 0; i < 6_000; i++) {
    const t = base + i * 50 - Math.floor(rnd() * 3000);
    recs.push({ ts: i % 3 ? t : new Date(t).toISOString(), user: `u${Math.floor(rnd() * 40)}`, page: pages[Math.floor(rnd() * 5)], ms: Math.round(rnd() * 2000) / 10, pad: 'y'.repeat(Math.floor(rnd() * 30)) });
  }
  const input = ndjson(recs);
  const fns = ['count', 'avg(r.ms)', 'p99(r.ms) as p99', 'distinct(r.user)', 'topk(r.page, 2) as top', 'first(r.page)', 'last(r.page)'];
  const cases = [
    [['window', 'tumbling', '10s', '--time', 'r.ts', '--grace', '2s'], ['aggregate', ...fns, '--by', 'r.page']],
    [['window', 'hopping', '30s', '--every', '10s', '--time', 'r.ts', '--grace', '1s'], ['aggregate', ...fns, '--by', 'r.page', '--emit', 'update']],
    [['window', 'sliding', '5s', '--time', 'r.ts', '--grace', '2s', '--by', 'r.user'], ['aggregate', 'count', 'sum(r.ms)']],
    [['window', 'session', '3s', '--time', 'r.ts', '--grace', '1s', '--by', 'r.user'], ['aggregate', ...fns, '--emit', 'update']],
    [['window', 'count', '100', '--by', 'r.page'], ['aggregate', ...fns]],
  ];
  const outs = await Promise.all(cases.map(async ([w, a]) => {
    const r = await both(w, a, input);
    assert.ok(dataOf(r.out).length > 50, `${w[1]}: ${r.out.slice(0, 200)}`);
    return dataOf(r.out);
  }));
  // And both equal the spec, computed here from the records: tumbling (docs/semantics.md: a record is late when
  // its window's end <= W = ST − grace at its arrival; a window is written when W reaches its end, results in
  // (end, start, key) order, the rest at end of input) and count windows (per key, index ⌊i/N⌋, written at the
  // N-th record, incomplete ones at end of input by key).
  const evt = recs.map((r) => (typeof r.ts === 'number' ? r.ts : Date.parse(r.ts)));
  const stats = (rs) => ({
    count: rs.length,
    avg_ms: rs.reduce((a, r) => a + r.ms, 0) / rs.length,
    distinct_user: new Set(rs.map((r) => r.user)).size,
    first_page: rs[0].page,
    last_page: rs.at(-1).page,
  });
  const pick = (o) => ({ key: o.key, window: o.window, count: o.count, avg_ms: o.avg_ms, distinct_user: o.distinct_user, first_page: o.first_page, last_page: o.last_page, emit: o.emit });
  const near = (got, want, what) => {
    assert.equal(got.length, want.length, `${what}: ${got.length} results, expected ${want.length}`);
    got.forEach((g, i) => {
      const w = want[i];
      assert.ok(Math.abs(g.avg_ms - w.avg_ms) < 1e-9, `${what} ${i}: avg ${g.avg_ms} ≠ ${w.avg_ms}`);
      assert.deepEqual({ ...pick(g), avg_ms: 0 }, { ...w, avg_ms: 0 }, `${what} ${i}`);
    });
  };
  {
    const S = 10_000;
    const grace = 2_000;
    const open = new Map(); // "start|page" -> records
    const want = [];
    let st = -Infinity;
    const byEnd = (a, b) => a.window.end - b.window.end || a.window.start - b.window.start || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
    const close = (upTo) => {
      const due = [...open].filter(([k]) => Number(k.split('|')[0]) + S <= upTo);
      const out = due.map(([k, rs]) => ({ key: rs[0].page, window: { start: Number(k.split('|')[0]), end: Number(k.split('|')[0]) + S }, ...stats(rs), emit: 'final' }));
      for (const [k] of due) open.delete(k);
      want.push(...out.sort(byEnd));
    };
    let late = 0;
    recs.forEach((r, i) => {
      const t = evt[i];
      st = Math.max(st, t);
      close(st - grace);
      const start = Math.floor(t / S) * S;
      if (start + S <= st - grace) return void late++;
      const k = `${start}|${r.page}`;
      if (!open.has(k)) open.set(k, []);
      open.get(k).push(r);
    });
    close(Infinity);
    assert.ok(late > 0, 'the stream has late records for tumbling 10s, grace 2s');
    near(outs[0], want, 'tumbling');
  }
  {
    const N = 100;
    const per = new Map();
    const want = [];
    for (const r of recs) {
      const rs = per.get(r.page) ?? [];
      per.set(r.page, rs);
      rs.push(r);
      if (rs.length % N === 0) want.push({ key: r.page, window: { index: rs.length / N - 1 }, ...stats(rs.slice(-N)), emit: 'final' });
    }
    for (const page of [...per.keys()].sort()) {
      const rs = per.get(page);
      if (rs.length % N) want.push({ key: page, window: { index: Math.floor(rs.length / N) }, ...stats(rs.slice(rs.length - (rs.length % N))), emit: 'final' });
    }
    near(outs[4], want, 'count');
  }
});

/** Runs the segments fused (joined by "+") and piped (one process each); asserts identical bytes and exit 0. */
async function parity(segments, input) {
  const [fused, p] = await Promise.all([piped([segments.flatMap((s, i) => (i ? ['+', ...s] : s))], input), piped(segments, input)]);
  assert.deepEqual(fused.codes, [0], fused.stderr[0]);
  assert.deepEqual(p.codes, segments.map(() => 0), p.stderr.join('\n'));
  assert.equal(fused.stdout, p.stdout, `piped and fused differ: ${segments.map((s) => s.join(' ')).join(' | ')}`);
  return fused.stdout;
}

test('stages between window and aggregate see the tags in the value, fused as piped', async () => {
  const input = ndjson([A(1, 1), { k: 'B', v: 2, t: 4, '@key': 'mine' }, A(3, 12), A(4, 13), { k: 'B', v: 5, t: 25 }]);
  const tumbling = ['window', 'tumbling', '10', '--time', 'r.t'];
  // A filter on a tag, then the tagged records themselves (the view gets the tag it reads; the text gets all).
  const f = await parity([tumbling, ['filter', 'r["@windows"][0].start >= 10 && r["@time"] > 12']], input);
  assert.deepEqual(dataOf(f).map((o) => [o.v, o['@time']]), [[4, 13], [5, 25]]);
  // map spreading the whole value (a full parse: the window copies the value with its tags), then aggregate.
  const m = await parity([[...tumbling, '--by', 'r.k'], ['map', '({...r, v2: r.v * 2})'], ['aggregate', 'sum(r.v2)', 'count']], input);
  assert.deepEqual(dataOf(m).map((o) => [o.key, o.window.start, o.sum_v2]), [['A', 0, 2], ['B', 0, 4], ['A', 10, 14], ['B', 20, 10]]);
  // flatmap makes new records from the tagged values; a map that drops the tags leaves aggregate without them.
  const fm = await parity([tumbling, ['flatmap', '[r, r]'], ['aggregate', 'count', 'sum(r.v)']], input);
  assert.deepEqual(dataOf(fm).map((o) => [o.window.start, o.count, o.sum_v]), [[0, 4, 6], [10, 4, 14], [20, 2, 10]]);
  const dropped = await Promise.all([piped([[...tumbling, '+', 'map', '({v: r.v})', '+', 'aggregate', 'count']], input), piped([tumbling, ['map', '({v: r.v})'], ['aggregate', 'count']], input)]);
  assert.deepEqual([dropped[0].codes, dropped[1].codes.at(-1)], [[1], 1]);
  assert.match(dropped[0].stderr[0], /record has no `@windows` tag/);
  // Values that are not objects are wrapped; session windows carry @key and @merged; a record's own @key
  // field shows through where the window sets none.
  const nums = await parity([['window', 'tumbling', '10', '--time', 'r'], ['aggregate', 'count', 'sum(r)']], '1\n5\n12\n');
  assert.deepEqual(dataOf(nums).map((o) => [o.window.start, o.count, o.sum]), [[0, 2, 6], [10, 1, 12]]);
  const sess = await parity([['window', 'session', '5', '--time', 'r.t', '--by', 'r.k', '--grace', '10'], ['filter', 'true'], ['aggregate', 'count', '--emit', 'update']], ndjson([A(1, 1), A(2, 10), A(3, 5), { k: 'B', v: 1, t: 6 }]));
  assert.deepEqual(dataOf(sess).map((o) => [o.key, o.window.start, o.window.end, o.count, o.emit]), [
    ['A', 1, 1, 1, 'update'], ['A', 10, 10, 1, 'update'], ['A', 1, 1, null, 'retract'], ['A', 10, 10, null, 'retract'], ['A', 1, 10, 3, 'update'], ['B', 6, 6, 1, 'update'],
  ]);
  // a second window stage replaces the first one's tags: hopping 20 every 10 over t = 1, 4, 12, 13, 25
  const rew = await parity([tumbling, ['window', 'hopping', '20', '--every', '10', '--time', 'r.t'], ['aggregate', 'count']], input);
  assert.deepEqual(dataOf(rew).map((o) => [o.window.start, o.window.end, o.count]), [[0, 20, 4], [10, 30, 3], [20, 40, 1]]);
});

test('usage errors from the CLI: exit 2 with a hint', () => {
  const bad = runSync(['window', 'tumblin', '10s'], '');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown window type `tumblin`/);
  assert.match(bad.stderr, /tumbling/);
  const fn = runSync(['aggregate', 'mean(r.x)'], '');
  assert.equal(fn.code, 2);
  assert.match(fn.stderr, /unknown aggregate function `mean`/);
  const conflict = runSync(['window', 'session', '5m', '--time', 'r.t', '--by', 'r.k', '+', 'aggregate', 'count', '--by', 'r.user'], '{"t":1,"user":"a"}\n');
  assert.equal(conflict.code, 2);
  assert.match(conflict.stderr, /both `window --by r\.k` and `aggregate --by r\.user` given/);
  // the same key on both stages is accepted, and means it once
  const input = '{"t":1,"k":"a"}\n{"t":2,"k":"b"}\n{"t":3,"k":"a"}\n';
  for (const [type, want] of [[['tumbling', '10'], [['a', 2], ['b', 1]]], [['session', '5'], [['b', 1], ['a', 2]]]]) {
    const same = runSync(['window', ...type, '--time', 'r.t', '--by', 'r.k', '+', 'aggregate', 'count', '--by', 'r.k', '--no-watermarks'], input);
    assert.equal(same.code, 0, same.stderr);
    const once = runSync(['window', ...type, '--time', 'r.t', '--by', 'r.k', '+', 'aggregate', 'count', '--no-watermarks'], input);
    assert.equal(same.stdout, once.stdout, type[0]);
    assert.deepEqual(lines(same.stdout).map((o) => [o.key, o.count]), want, type[0]);
  }
  // per-key windows need a key: a pipe carries none, so --by must name it (no silent single group)
  for (const type of [['session', '5m'], ['sliding', '5m'], ['count', '3']]) {
    const nokey = runSync(['window', ...type, ...(type[0] === 'count' ? [] : ['--time', 'r.t'])], '{"t":1}\n');
    assert.equal(nokey.code, 2, type[0]);
    assert.match(nokey.stderr, /is per record key, and records read from a pipe have none — name the key with --by r\.<field>/);
  }
  const help = runSync(['window', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--every <dur>/);
});
