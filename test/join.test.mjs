// The stream–table join against a table side read whole (join global:/file:) and the table itself: SEMANTICS.md
// "Tables and joins", examples 13 and 14 (without --as-of), null keys and values, --left, --select, the key text
// rule, the bootstrap before the first record, and `table`'s changes and snapshot. The side is an in-memory input
// here; test/it/join.test.mjs reads real topics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Rec } from '../dist/src/pipeline/record.js';
import { RecordErrors } from '../dist/src/pipeline/onerror.js';
import { compileExpr } from '../dist/src/operators/expr.js';
import { compileSelect, JoinStage } from '../dist/src/operators/join.js';
import { decodeText, keyText, NO_CHANGE, Table, TableSource } from '../dist/src/operators/table.js';
import { FileSide } from '../dist/src/io/side-file.js';
import { runSync } from './helpers/spawn.mjs';

/** A side whose rows the test hands over: `bootstrap` rows first (caughtUp with the last), then `push`ed ones. */
function sideOf(bootstrap = [], follows = true) {
  const queue = [{ rows: bootstrap, caughtUp: true }];
  let wake;
  let closed = false;
  return {
    name: 'global:t',
    follows,
    push(rows) {
      queue.push({ rows, caughtUp: true });
      wake?.();
    },
    async *batches() {
      for (;;) {
        while (queue.length) yield queue.shift();
        if (closed || !follows) return;
        await new Promise((r) => (wake = r));
      }
    },
    async close() {
      closed = true;
      wake?.();
    },
  };
}

const row = (key, value, ts) => ({ key, value, ts });
const tick = () => new Promise((r) => setImmediate(r));

function stream(key, value, ts) {
  const r = new Rec(value, undefined, false, ts);
  r.key = key;
  r.ts = ts;
  return r;
}

async function joinOf(side, { on = 'key', left = false, as = 't', select, mode = 'fail', asOf } = {}) {
  const lines = [];
  const j = new JoinStage({
    side,
    on: compileExpr(on, 'join key (--on)'),
    left,
    as,
    select: select && compileSelect(select),
    errors: new RecordErrors({ mode }, 'join'),
    log: (l) => lines.push(l),
    asOf,
  });
  await j.open();
  return { j, lines };
}

function push(j, recs) {
  const out = [];
  j.process(recs, out);
  return out.map((r) => [r.value, r.key, r.ts]);
}

const SEL = '[r, o, ts]';

test('example 14: the table is read to its end before the first stream record — both orders see Ada', async () => {
  const side = sideOf([row('c1', 'Ada', 100)]);
  const { j, lines } = await joinOf(side, { left: true, select: SEL });
  assert.match(lines[0], /^kstream: join: global:t loaded, 1 row \(1 read\) in \d+\.\d\d s; following it$/);
  assert.deepEqual(push(j, [stream('c1', 'o1', 50), stream('c1', 'o2', 150)]).map((x) => x[0]), [['o1', 'Ada', 50], ['o2', 'Ada', 150]]);
  await j.close();
});

test('example 13, already in both topics: the bootstrap sees c1 deleted — inner emits nothing, left four (o, null)', async () => {
  const T = [row('c1', 'Ada', 1), row('c1', 'Bea', 3), row('c1', null, 5)];
  const S = () => [stream('c1', 'o1', 2), stream('c1', 'o2', 4), stream('c1', 'o3', 6), stream('c9', 'o4', 7)];
  const inner = await joinOf(sideOf(T), { select: SEL });
  assert.deepEqual(push(inner.j, S()), []);
  assert.deepEqual(inner.j.counters(), { matched: 0, 'no-match': 4 });
  const left = await joinOf(sideOf(T), { left: true, select: SEL });
  assert.deepEqual(push(left.j, S()).map((x) => x[0]), [['o1', null, 2], ['o2', null, 4], ['o3', null, 6], ['o4', null, 7]]);
  assert.deepEqual(left.j.counters(), { matched: 0, unmatched: 4 });
});

test('example 13, arriving live after an empty bootstrap: table updates change what later records see and emit nothing', async () => {
  for (const left of [false, true]) {
    const side = sideOf([]);
    const { j } = await joinOf(side, { left, select: SEL });
    const got = [];
    const step = async (what) => {
      if (what.t) {
        side.push([what.t]);
        await tick();
        await tick();
      } else got.push(...push(j, [what.s]));
    };
    for (const w of [
      { t: row('c1', 'Ada', 1) }, { s: stream('c1', 'o1', 2) }, { t: row('c1', 'Bea', 3) }, { s: stream('c1', 'o2', 4) },
      { t: row('c1', null, 5) }, { s: stream('c1', 'o3', 6) }, { s: stream('c9', 'o4', 7) },
    ]) await step(w);
    const want = [['o1', 'Ada', 2], ['o2', 'Bea', 4]];
    if (left) want.push(['o3', null, 6], ['o4', null, 7]);
    assert.deepEqual(got.map((x) => x[0]), want, left ? 'left' : 'inner');
    // output key and time are the stream record's
    assert.deepEqual(got.map((x) => [x[1], x[2]]), want.map((w) => [w[0] === 'o4' ? 'c9' : 'c1', w[2]]));
    await j.close();
  }
});

test('example 13 with --as-of, already in both topics: each record sees the table as of its own time', async () => {
  const T = [row('c1', 'Ada', 1), row('c1', 'Bea', 3), row('c1', null, 5)];
  const S = () => [stream('c1', 'o1', 2), stream('c1', 'o2', 4), stream('c1', 'o3', 6), stream('c9', 'o4', 7)];
  const asOf = { historyMs: 86_400_000 };
  const inner = await joinOf(sideOf(T), { select: SEL, asOf });
  assert.deepEqual(push(inner.j, S()).map((x) => x[0]), [['o1', 'Ada', 2], ['o2', 'Bea', 4]]);
  const left = await joinOf(sideOf(T), { select: SEL, asOf, left: true });
  assert.deepEqual(push(left.j, S()).map((x) => x[0]), [['o1', 'Ada', 2], ['o2', 'Bea', 4], ['o3', null, 6], ['o4', null, 7]]);
});

test('example 14 with --as-of: a record older than the row sees no row', async () => {
  const { j } = await joinOf(sideOf([row('c1', 'Ada', 100)]), { left: true, select: '[r, o, ots ?? null]', asOf: { historyMs: 1000 } });
  assert.deepEqual(push(j, [stream('c1', 'o1', 50), stream('c1', 'o2', 150)]).map((x) => x[0]), [['o1', null, null], ['o2', 'Ada', 100]]);
});

test('--as-of keeps history for --history behind the newest row: an older record has no row; rows out of order find their place', async () => {
  const T = [row('k', 'v10', 10), row('k', 'v30', 30), row('k', 'v20', 20), row('k', 'v20b', 20), row('other', 'x', 100)];
  const { j } = await joinOf(sideOf(T), { left: true, select: 'o', asOf: { historyMs: 75 } });
  // history reaches back to 100 - 75 = 25: a lookup at 25 still finds v20b (the version in force then), one at 24 is too old
  assert.deepEqual(push(j, [stream('k', 'a', 24), stream('k', 'b', 25), stream('k', 'c', 29), stream('k', 'd', 31)]).map((x) => x[0]), [null, 'v20b', 'v20b', 'v30']);
  // a left join passes it on unmatched; an inner one drops it, counted by why
  assert.equal(j.counters().unmatched, 1);
  const { j: inner } = await joinOf(sideOf(T), { select: 'o', asOf: { historyMs: 75 } });
  assert.deepEqual(push(inner, [stream('k', 'a', 24), stream('k', 'b', 25)]).map((x) => x[0]), ['v20b']);
  assert.deepEqual(inner.counters(), { matched: 1, 'no-match': 0, 'older-than-history': 1 });
  // with --time the event time comes from the record
  const { j: j2 } = await joinOf(sideOf(T), { select: 'o', asOf: { historyMs: 1000, time: compileExpr('r.at', '--time expression') }, on: 'r.k' });
  assert.deepEqual(push(j2, [stream(null, { k: 'k', at: '1970-01-01T00:00:00.015Z' }, 999)]).map((x) => x[0]), ['v10']);
});

test('the default output adds the row under --as; null stream values are dropped; a null join key is dropped (inner) or unmatched (left)', async () => {
  const T = [row('c1', { name: 'Ada' }, 1), row('42', { name: 'Num' }, 1)];
  const recs = () => [
    stream('k1', { id: 1, cid: 'c1' }, 10),
    stream('k2', null, 11),
    stream('k3', { id: 3 }, 12),
    stream('k4', { id: 4, cid: 42 }, 13),
  ];
  const inner = await joinOf(sideOf(T), { on: 'r.cid', as: 'customer' });
  assert.deepEqual(push(inner.j, recs()).map((x) => x[0]), [{ id: 1, cid: 'c1', customer: { name: 'Ada' } }, { id: 4, cid: 42, customer: { name: 'Num' } }]);
  assert.deepEqual(inner.j.counters(), { matched: 2, 'no-match': 0, 'no-key': 1, 'null-value': 1 });
  const left = await joinOf(sideOf(T), { on: 'r.cid', as: 'customer', left: true });
  assert.deepEqual(push(left.j, recs()).map((x) => x[0]), [
    { id: 1, cid: 'c1', customer: { name: 'Ada' } },
    { id: 3, customer: null },
    { id: 4, cid: 42, customer: { name: 'Num' } },
  ]);
});

test('--select sees r, o, key, okey, ts and ots; a stream value that is not an object needs it', async () => {
  const { j } = await joinOf(sideOf([row('c1', 'Ada', 5)]), { on: 'r.cid', select: '({r, o, key, okey, ts, ots})' });
  assert.deepEqual(push(j, [stream('k', { cid: 'c1' }, 9)])[0][0], { r: { cid: 'c1' }, o: 'Ada', key: 'k', okey: 'c1', ts: 9, ots: 5 });
  const plain = await joinOf(sideOf([row('c1', 'Ada', 5)]), { mode: 'skip' });
  assert.deepEqual(push(plain.j, [stream('c1', 7, 1)]), []);
  assert.equal(plain.j.counters().skipped, 1);
  const failing = await joinOf(sideOf([row('c1', 'Ada', 5)]));
  assert.throws(() => push(failing.j, [stream('c1', 7, 1)]), /the stream value is a number, not an object to add `t` to/);
});

test('a side that fails after loading fails the run at the next batch, in one line', async () => {
  const side = {
    name: 'global:bad',
    follows: true,
    async *batches() {
      yield { rows: [row('a', 1, 1)], caughtUp: true };
      throw new Error('connection lost for good');
    },
    async close() {},
  };
  const { j } = await joinOf(side);
  await tick();
  assert.throws(() => push(j, [stream('a', {}, 1)]), /join: global:bad: connection lost for good/);
});

test('table: upsert moves a key to the end, a tombstone deletes (absent: no change), a null key is counted', () => {
  const t = new Table();
  assert.equal(t.apply(row('a', 1, 1)), undefined);
  assert.equal(t.apply(row('b', 2, 2)), undefined);
  assert.equal(t.apply(row('a', 3, 3)), 1);
  assert.deepEqual([...t.entries()].map(([k, v]) => [k, v.value]), [['b', 2], ['a', 3]]);
  assert.equal(t.apply(row('b', null, 4)), 2);
  assert.equal(t.apply(row('zz', null, 5)), NO_CHANGE);
  assert.equal(t.apply(row(null, 9, 6)), NO_CHANGE);
  assert.equal(t.nullKeys, 1);
  assert.equal(t.size, 1);
  assert.deepEqual([keyText('x'), keyText(42), keyText(true), keyText(null), keyText(undefined), keyText({ a: 1 })], ['x', '42', 'true', null, null, '{"a":1}']);
});

async function all(src) {
  const out = [];
  for await (const b of src.batches()) out.push(...b.map((r) => [r.value, r.key, r.ts]));
  return out;
}

test('table source: changes {key, value, old} keyed and timed by their row; --snapshot: the live rows at the end', async () => {
  const rows = [row('a', 1, 10), row(null, 5, 11), row('b', 2, 12), row('a', 3, 13), row('b', null, 14), row('c', null, 15)];
  const changes = await all(new TableSource(sideOf(rows, false), false));
  assert.deepEqual(changes, [
    [{ key: 'a', value: 1, old: null }, 'a', 10],
    [{ key: 'b', value: 2, old: null }, 'b', 12],
    [{ key: 'a', value: 3, old: 1 }, 'a', 13],
    [{ key: 'b', value: null, old: 2 }, 'b', 14],
  ]);
  const snap = new TableSource(sideOf(rows, true), true);
  assert.deepEqual(await all(snap), [[{ key: 'a', value: 3 }, 'a', undefined]]);
  assert.deepEqual(snap.counters(), { rows: 1, 'null-keys': 1 });
});

test('file side: {key, value} lines as `table --snapshot` writes them, or --key over any lines; bad lines name their place', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ks-join-'));
  const f = path.join(dir, 'c.ndjson');
  fs.writeFileSync(f, '{"key":"c1","value":{"n":1}}\n\n{"key":2,"value":null}\n');
  const rows = [];
  for await (const b of new FileSide(f, `file:${f}`, undefined, keyText).batches()) rows.push(...b.rows);
  assert.deepEqual(rows, [row('c1', { n: 1 }, undefined), row('2', null, undefined)]);
  fs.writeFileSync(f, '{"id":7,"n":1}\n{"id":8}\n');
  const keyed = [];
  for await (const b of new FileSide(f, `file:${f}`, (v) => v.id, keyText).batches()) keyed.push(...b.rows.map((r) => r.key));
  assert.deepEqual(keyed, ['7', '8']);
  await assert.rejects(async () => { for await (const _ of new FileSide(f, 'file:c', undefined, keyText).batches()); }, /file:c line 1: no `key` field/);
  fs.writeFileSync(f, '{"key":1}\nnot json\n');
  await assert.rejects(async () => { for await (const _ of new FileSide(f, 'file:c', undefined, keyText).batches()); }, /file:c line 2: not JSON/);
  fs.rmSync(dir, { recursive: true });
});

test('CLI: a file side joins piped and fused alike; usage errors are one line with exit 2', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ks-join-'));
  const pages = path.join(dir, 'pages.ndjson');
  fs.writeFileSync(pages, '{"path":"/home","title":"Home"}\n{"path":"/cart","title":"Cart"}\n');
  const input = '{"page":"/home","n":1}\n{"page":"/x","n":2}\n{"page":"/cart","n":3}\n';
  const args = ['join', `file:${pages}`, '--key', 'r.path', '--on', 'r.page', '--left', '--as', 'info'];
  const piped = runSync(args, input);
  assert.equal(piped.code, 0, piped.stderr);
  assert.equal(piped.stdout, '{"page":"/home","n":1,"info":{"path":"/home","title":"Home"}}\n{"page":"/x","n":2,"info":null}\n{"page":"/cart","n":3,"info":{"path":"/cart","title":"Cart"}}\n');
  assert.match(piped.stderr, /join: file:.*pages\.ndjson loaded, 2 rows \(2 read\) in [\d.]+ s\n/);
  const fused = runSync(['map', 'r', '+', ...args], input);
  assert.equal(fused.stdout, piped.stdout);
  for (const [a, re] of [
    [['join', 'customers', '--on', 'r.x'], /^kstream: the side `customers` does not say what it is — name the other side with its kind: global:<topic>/],
    [['join', 'table:customers', '--on', 'r.x'], /^kstream: `table:` sides are not built yet/],
    [['join', `file:${pages}`], /^kstream: join matches on the record key by default, and records read from a pipe carry none — give the join key with --on/],
    [['join', `file:${pages}`, '--on', 'r.x', '--as', 'a', '--select', 'o'], /^kstream: --as and --select both shape the output/],
    [['join', `file:${dir}/missing.ndjson`, '--on', 'r.x'], /^kstream: cannot read `.*missing\.ndjson` \(ENOENT\)/],
  ]) {
    const r = runSync(a, '{"x":1}\n');
    assert.equal(r.code, 2, `${a.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  fs.rmSync(dir, { recursive: true });
});

test('the default output keeps the record\'s own text and adds the member at its end; a record that has the member already gets {...r, <as>: o}', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ks-join-'));
  const pages = path.join(dir, 'pages.ndjson');
  fs.writeFileSync(pages, '{"key":"/home","value":{"t":"Home"}}\n');
  const input = ['{}', '{"page": "/home" ,"n":1.50 }', '{"info":5,"page":"/home","z":1}', '{"page":"/x"}', '{"page":"/home","s":"has \\"info\\" inside"}'].join('\n') + '\n';
  const want = [
    '{"info":null}',
    '{"page": "/home" ,"n":1.50 ,"info":{"t":"Home"}}',
    '{"info":{"t":"Home"},"page":"/home","z":1}',
    '{"page":"/x","info":null}',
    '{"page":"/home","s":"has \\"info\\" inside","info":{"t":"Home"}}',
  ];
  const args = ['join', `file:${pages}`, '--on', 'r.page', '--left', '--as', 'info', '--quiet'];
  const piped = runSync(args, input);
  assert.equal(piped.code, 0, piped.stderr);
  assert.deepEqual(piped.stdout.trim().split('\n'), want);
  // fused, and a later stage reads the member from the record's view
  const fused = runSync([...args, '+', 'filter', 'r.info !== null'], input);
  assert.deepEqual(fused.stdout.trim().split('\n'), [want[1], want[2], want[4]]);
  const read = runSync([...args, '+', 'map', 'r.info && r.info.t'], input);
  assert.deepEqual(read.stdout.trim().split('\n'), ['null', '"Home"', '"Home"', 'null', '"Home"']);
  fs.rmSync(dir, { recursive: true });
});

test('a join against a file runs on threads over a large input: the same output as one thread, one load line', () => {
  const input = runSync(['gen', '--preset', 'clicks', '--count', '120000', '--seed', '4']).stdout; // ~12 MB: workers take over
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ks-join-'));
  const users = path.join(dir, 'users.ndjson');
  fs.writeFileSync(users, Array.from({ length: 5000 }, (_, i) => JSON.stringify({ key: `u${i}`, value: { tier: i % 3 } })).join('\n') + '\n');
  const args = ['join', `file:${users}`, '--on', 'r.user', '--as', 'u'];
  const threaded = runSync(args, input, { env: { KSTREAM_WORKERS: '2' } });
  const single = runSync(args, input, { env: { KSTREAM_WORKERS: '0' } });
  assert.equal(threaded.code, 0, threaded.stderr);
  assert.equal(threaded.stdout, single.stdout);
  assert.ok(threaded.stdout.length > input.length);
  assert.equal(threaded.stderr.match(/loaded/g).length, 1, threaded.stderr);
  // the counters add up over the threads
  const m = /join: matched=(\d+) no-match=(\d+)/.exec(threaded.stderr);
  assert.equal(Number(m[1]) + Number(m[2]), 120_000, threaded.stderr);
  assert.match(single.stderr, new RegExp(`join: matched=${m[1]} no-match=${m[2]}`));
  fs.rmSync(dir, { recursive: true });
});

test('review fixes: the text null is a value, not a deletion; a CR before the closing brace; refused records are not counted', () => {
  assert.equal(decodeText('null'), 'null');
  assert.deepEqual([decodeText('{"a":1}'), decodeText('42'), decodeText('"q"'), decodeText('Ada')], [{ a: 1 }, 42, 'q', 'Ada']);
  const t = new Table();
  t.apply({ key: 'k', value: 'null', ts: 1, lazy: true });
  assert.equal(t.size, 1);
  assert.equal(t.get('k').value, 'null');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ks-join-'));
  const f = path.join(dir, 't.ndjson');
  fs.writeFileSync(f, '{"key":"a","value":1}\n');
  const r = runSync(['join', `file:${f}`, '--on', 'r.k', '--left', '--as', 'u', '--on-error', 'skip'], '{"k":"a"\r}\n{"k":"b" \r }\n42\n[1]\n');
  assert.equal(r.code, 0, r.stderr);
  for (const line of r.stdout.trim().split('\n')) JSON.parse(line);
  assert.deepEqual(r.stdout.trim().split('\n').map((l) => JSON.parse(l)), [{ k: 'a', u: 1 }, { k: 'b', u: null }]);
  assert.match(r.stderr, /join: matched=1 skipped=2 unmatched=1\n/);
  fs.rmSync(dir, { recursive: true });
});
