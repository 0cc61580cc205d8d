// Tables and stream–table joins against the real broker at KSTREAM_BROKERS: `table` (changes, --snapshot) over a
// topic with updates, a tombstone and a record without a key; `join global:` fused and piped (the same output), a
// table update while the join runs, the README's enrichment recipe, and a missing side topic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { itContext } from '../helpers/broker.mjs';
import { KS, run, start, textLines } from '../helpers/spawn.mjs';

const ctx = await itContext();
const { env, createTopic, ok } = ctx;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sorted = (text) => textLines(text).sort();

/** customers: c1 twice (the second wins), c2, c3 deleted by a tombstone, one record without a key. */
async function customers() {
  const t = await createTopic('customers', 2);
  await ok(`printf '%s\\n' '{"id":"c1","name":"Ada"}' '{"id":"c2","name":"Bea"}' '{"id":"c3","name":"Cy"}' '{"id":"c1","name":"Ada L."}' | ${KS} produce ${t} --key r.id --quiet`);
  // a tombstone for c3 and a record without a key, as an envelope producer writes them
  await ok(`printf '%s\\n' '{"key":"c3","value":null}' '{"key":null,"value":{"id":"nobody"}}' | ${KS} produce ${t} --envelope --quiet`);
  return t;
}

async function orders() {
  const t = await createTopic('orders', 3);
  await ok(`printf '%s\\n' '{"oid":1,"customer_id":"c1"}' '{"oid":2,"customer_id":"c3"}' '{"oid":3,"customer_id":"c2"}' '{"oid":4}' | ${KS} produce ${t} --key r.oid --quiet`);
  return t;
}

test('table: --snapshot prints the live rows; without it, the changes {key, value, old}', async () => {
  const t = await customers();
  const snap = await ok(`${KS} table ${t} --snapshot`);
  assert.deepEqual(sorted(snap.stdout), ['{"key":"c1","value":{"id":"c1","name":"Ada L."}}', '{"key":"c2","value":{"id":"c2","name":"Bea"}}']);
  assert.match(snap.stderr, /rows=2 null-keys=1/);
  const changes = await ok(`${KS} table ${t} --exit + map r --envelope`);
  const lines = textLines(changes.stdout).map((l) => JSON.parse(l));
  // each change is keyed like its record; per key they come in log order
  const byKey = (k) => lines.filter((c) => c.key === k).map((c) => c.value);
  assert.equal(lines.length, 5);
  assert.deepEqual(byKey('c1'), [{ key: 'c1', value: { id: 'c1', name: 'Ada' }, old: null }, { key: 'c1', value: { id: 'c1', name: 'Ada L.' }, old: { id: 'c1', name: 'Ada' } }]);
  assert.deepEqual(byKey('c3'), [{ key: 'c3', value: { id: 'c3', name: 'Cy' }, old: null }, { key: 'c3', value: null, old: { id: 'c3', name: 'Cy' } }]);
  for (const c of lines) assert.equal(typeof c.timestamp, 'number');
});

test('join global: fused and piped give the same records; inner drops what has no row, --left keeps it with null', async () => {
  const [c, o] = [await customers(), await orders()];
  const join = `join global:${c} --on r.customer_id --as customer`;
  const fused = await ok(`${KS} consume ${o} --exit + ${join} --left`);
  const piped = await ok(`${KS} consume ${o} --exit | ${KS} ${join} --left`);
  const want = [
    '{"oid":1,"customer_id":"c1","customer":{"id":"c1","name":"Ada L."}}',
    '{"oid":2,"customer_id":"c3","customer":null}',
    '{"oid":3,"customer_id":"c2","customer":{"id":"c2","name":"Bea"}}',
    '{"oid":4,"customer":null}',
  ];
  assert.deepEqual(sorted(fused.stdout), want);
  assert.deepEqual(sorted(piped.stdout), want);
  assert.match(fused.stderr, new RegExp(`kstream: join: global:${c} loaded, 2 rows \\(6 read\\) in [\\d.]+ s; following it`));
  assert.match(fused.stderr, /join: matched=2 unmatched=2 table-null-keys=1\n/);
  const inner = await ok(`${KS} consume ${o} --exit + ${join}`);
  assert.deepEqual(sorted(inner.stdout), [want[0], want[2]]);
  // the record key stays the order's
  const env = await ok(`${KS} consume ${o} --exit + ${join} + map r --envelope`);
  assert.deepEqual(textLines(env.stdout).map((l) => JSON.parse(l)).map((e) => e.key).sort(), ['1', '3']);
});

test('a running join follows its table: a customer written after the start is there for a later order', { timeout: 60_000 }, async () => {
  const [c, o] = [await customers(), await createTopic('orders', 1)];
  const p = start(`exec ${KS} consume ${o} + join global:${c} --on r.customer_id --as customer`, { env, stdin: 'ignore' });
  try {
    await p.waitFor(() => /loaded/.test(p.stderr()), 30_000).catch(() => {});
    assert.match(p.stderr(), /loaded, 2 rows/);
    await ok(`echo '{"id":"c9","name":"Newcomer"}' | ${KS} produce ${c} --key r.id --quiet`);
    // the table reads its topic with a fetch wait of 500 ms: give the update that long, twice over
    await sleep(1500);
    await ok(`echo '{"oid":9,"customer_id":"c9"}' | ${KS} produce ${o} --quiet`);
    await p.waitFor((out) => out.includes('"oid":9'), 20_000);
    assert.deepEqual(textLines(p.stdout()), ['{"oid":9,"customer_id":"c9","customer":{"id":"c9","name":"Newcomer"}}']);
  } finally {
    p.kill('SIGTERM');
    const e = await p.exited;
    assert.equal(e.code, 130, e.stderr);
  }
});

test('README recipe: enrich a stream with a global table', async () => {
  const [c, o, out] = [await customers(), await orders(), await createTopic('enriched', 1)];
  // the recipe's commands with this test's topic names
  await ok(`${KS} consume ${o} --exit + join global:${c} --on r.customer_id --left --as customer + produce ${out} --quiet`);
  const r = await ok(`${KS} consume ${out} --exit | jq -c '{oid, name: .customer.name}'`);
  assert.deepEqual(sorted(r.stdout), ['{"oid":1,"name":"Ada L."}', '{"oid":2,"name":null}', '{"oid":3,"name":"Bea"}', '{"oid":4,"name":null}']);
});

test('a side topic that does not exist is one line and exit 1, before any record is read', async () => {
  const o = await orders();
  const r = await run(`${KS} consume ${o} --exit + join global:no-such-topic-here --on r.customer_id`, { env });
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^kstream: topic `no-such-topic-here` does not exist — the side `global:no-such-topic-here` names a topic to read as a table/);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
});

test('example 13 with --as-of on real topics (record timestamps): piped with envelopes and fused give the same', async () => {
  const [c, o] = [await createTopic('versioned', 1), await createTopic('vorders', 1)];
  await ok(`printf '%s\\n' '{"key":"c1","value":"Ada","timestamp":1}' '{"key":"c1","value":"Bea","timestamp":3}' '{"key":"c1","value":null,"timestamp":5}' | ${KS} produce ${c} --envelope --quiet`);
  await ok(`printf '%s\\n' '{"key":"c1","value":{"o":"o1"},"timestamp":2}' '{"key":"c1","value":{"o":"o2"},"timestamp":4}' '{"key":"c1","value":{"o":"o3"},"timestamp":6}' '{"key":"c9","value":{"o":"o4"},"timestamp":7}' | ${KS} produce ${o} --envelope --quiet`);
  const join = `join global:${c} --as-of --select '[r.o, o, ts]'`;
  const fusedLeft = await ok(`${KS} consume ${o} --exit + ${join} --left`);
  assert.deepEqual(textLines(fusedLeft.stdout), ['["o1","Ada",2]', '["o2","Bea",4]', '["o3",null,6]', '["o4",null,7]']);
  const fused = await ok(`${KS} consume ${o} --exit + ${join}`);
  assert.deepEqual(textLines(fused.stdout), ['["o1","Ada",2]', '["o2","Bea",4]']);
  const piped = await ok(`${KS} consume ${o} --exit --format envelope | ${KS} ${join} --envelope | jq -c .value`);
  assert.deepEqual(textLines(piped.stdout), textLines(fused.stdout));
  // without --as-of the bootstrap sees c1 deleted: inner emits nothing
  const latest = await ok(`${KS} consume ${o} --exit + join global:${c} --select '[r.o, o]'`);
  assert.equal(latest.stdout, '');
});

test('lookup gives the value of the last change `table` printed for the key, while the table keeps following', { timeout: 60_000 }, async () => {
  const c = await customers();
  const p = start(`exec ${KS} table ${c}`, { env, stdin: 'ignore' });
  try {
    await p.waitFor((out) => textLines(out).length >= 5, 30_000);
    await ok(`echo '{"id":"c2","name":"Bea v2"}' | ${KS} produce ${c} --key r.id --quiet`);
    const out = await p.waitFor((s) => s.includes('Bea v2'), 20_000);
    const last = textLines(out).map((l) => JSON.parse(l)).filter((ch) => ch.key === 'c2').pop();
    const r = await ok(`${KS} lookup ${c} c2`);
    assert.deepEqual(JSON.parse(r.stdout), last.value);
    assert.deepEqual(last.old, { id: 'c2', name: 'Bea' });
    const gone = await run(`${KS} lookup ${c} c3`, { env });
    assert.equal(gone.code, 1, 'a deleted key is absent');
    assert.equal(gone.stdout, '');
    const every = await ok(`${KS} lookup ${c} --all`);
    assert.deepEqual(sorted(every.stdout), ['{"key":"c1","value":{"id":"c1","name":"Ada L."}}', '{"key":"c2","value":{"id":"c2","name":"Bea v2"}}']);
  } finally {
    p.kill('SIGTERM');
    await p.exited;
  }
});

test('exactly-once: a fused consume + join global: + produce killed with -9 four times gives each record once, joined', { timeout: 180_000 }, async (t) => {
  const { killLoop, countIds, midStreamProblems } = await import('../helpers/delivery.mjs');
  const { brokers, groupName } = ctx;
  const N = 50_000;
  const users = await createTopic('users', 2);
  const input = await createTopic('eos-in', 3);
  const output = await createTopic('eos-out', 3);
  const group = groupName('eos-join');
  // every user of the generated clicks has a row: tier from the user's number
  await ok(`node -e 'for (let i = 0; i < 10000; i++) console.log(JSON.stringify({id: "u" + i, tier: ["free", "pro", "team"][i % 3]}))' | ${KS} produce ${users} --key r.id --quiet`);
  await ok(`${KS} gen --preset clicks --count ${N} --seed 1 | ${KS} produce ${input} --key r.user --quiet`);
  const cmd = (extra) => `${KS} consume ${input} --group ${group} --instance-id a --exactly-once --fetch-max 64k${extra} + join global:${users} --on r.user --left --as u --quiet + map '({id: r.ts, user: r.user, tier: r.u && r.u.tier})' + produce ${output} --quiet`;
  const runs = await killLoop({ brokers, command: cmd(''), finish: cmd(' --exit'), outTopic: output, inTopic: input, group, expected: N, kills: 4, seed: 41, env });
  assert.deepEqual(midStreamProblems(runs), [], 'every kill landed mid-stream');
  const r = await ok(`${KS} consume ${output} --exit --isolation read_committed`);
  const c = countIds(r.stdout, new Set(Array.from({ length: N }, (_, i) => String(1767225600000 + i))));
  t.diagnostic(`${c.lines} records, ${c.distinct} distinct, ${c.duplicates} duplicates, ${c.missing} missing`);
  assert.equal(c.missing, 0);
  assert.equal(c.duplicates, 0);
  for (const line of textLines(r.stdout)) {
    const o = JSON.parse(line);
    assert.equal(o.tier, ['free', 'pro', 'team'][Number(o.user.slice(1)) % 3], line);
  }
});

// --- stream–stream joins (`join stream:<topic>`): SEMANTICS.md examples 15 and 16 on real topics, record timestamps ---

/** Two topics of one partition each: the stream `L` and the side `R`, records `[key, value, timestamp]` as envelopes. */
async function twoStreams(left, right) {
  const [l, r] = [await createTopic('ss-left', 1), await createTopic('ss-right', 1)];
  const lines = (xs) => xs.map(([key, value, timestamp]) => `'${JSON.stringify({ key, value, timestamp })}'`).join(' ');
  await ok(`printf '%s\\n' ${lines(left)} | ${KS} produce ${l} --envelope --quiet`);
  await ok(`printf '%s\\n' ${lines(right)} | ${KS} produce ${r} --envelope --quiet`);
  return [l, r];
}

test('example 15 on real topics: stream–stream inner join within 10 ms, fused and piped with envelopes alike', async () => {
  const [l, r] = await twoStreams([['k', { v: 'A' }, 10], ['k', { v: 'B' }, 12]], [['k', { v: 'a' }, 15], ['k', { v: 'b' }, 21]]);
  const join = `join stream:${r} --within 10ms --select '[r.v, o.v, ts, ots]'`;
  const fused = await ok(`${KS} consume ${l} --exit + ${join} + map r --envelope`);
  const envs = textLines(fused.stdout).map((line) => JSON.parse(line));
  assert.deepEqual(envs.map((e) => e.value), [['A', 'a', 10, 15], ['B', 'a', 12, 15], ['B', 'b', 12, 21]]);
  // keyed by the stream record, timed max(tl, tr)
  assert.deepEqual(envs.map((e) => [e.key, e.timestamp]), [['k', 15], ['k', 15], ['k', 21]]);
  assert.match(fused.stderr, /join: matched=3\n/);
  const piped = await ok(`${KS} consume ${l} --exit --format envelope | ${KS} ${join} --envelope | jq -c .value`);
  assert.deepEqual(textLines(piped.stdout), envs.map((e) => JSON.stringify(e.value)));
});

test('example 16 on real topics: left join, grace 0 — only (A,a); a record of another key goes out alone, with null', async () => {
  const [l, r] = await twoStreams([['k', { v: 'A' }, 10], ['z', { v: 'Z' }, 11]], [['k', { v: 'a' }, 15]]);
  const res = await ok(`${KS} consume ${l} --exit + join stream:${r} --within 10ms --grace 0ms --left --as pay`);
  assert.deepEqual(textLines(res.stdout), ['{"v":"A","pay":{"v":"a"}}', '{"v":"Z","pay":null}']);
  assert.match(res.stderr, /join: matched=1 unmatched=1/);
  // --outer: the side's unmatched records too, keyed by their own key; --right-on joins on a field of theirs
  const [l2, r2] = await twoStreams([['o1', { oid: 1 }, 100]], [['p1', { oid: 1, amount: 5 }, 160], ['p2', { oid: 2, amount: 7 }, 170]]);
  const outer = await ok(`${KS} consume ${l2} --exit + join stream:${r2} --on r.oid --right-on r.oid --within 1m --outer --as pay + map r --envelope`);
  assert.deepEqual(textLines(outer.stdout).map((line) => JSON.parse(line)).map((e) => [e.key, e.timestamp, e.value]), [
    ['o1', 160, { oid: 1, pay: { oid: 1, amount: 5 } }],
    ['p2', 170, { pay: { oid: 2, amount: 7 } }],
  ]);
});

test('a running stream–stream join: a side record written after the start joins the waiting stream record once the stream is idle (--max-idle)', { timeout: 60_000 }, async () => {
  const [o, p] = [await createTopic('ss-orders', 1), await createTopic('ss-pay', 1)];
  const proc = start(`exec ${KS} consume ${o} + join stream:${p} --on r.oid --right-on r.oid --within 1m --max-idle 500ms --as pay`, { env, stdin: 'ignore' });
  try {
    await sleep(1500);
    await ok(`echo '{"oid":7}' | ${KS} produce ${o} --quiet`);
    await sleep(500);
    await ok(`echo '{"oid":7,"amount":3}' | ${KS} produce ${p} --quiet`);
    await proc.waitFor((out) => out.includes('"pay"'), 20_000);
    assert.deepEqual(textLines(proc.stdout()), ['{"oid":7,"pay":{"oid":7,"amount":3}}']);
  } finally {
    proc.kill('SIGTERM');
    const e = await proc.exited;
    assert.equal(e.code, 130, e.stderr);
  }
});

test('a stream side topic that does not exist is one line and exit 1, before any record is read', async () => {
  const [l] = await twoStreams([['k', { v: 'A' }, 10]], []);
  const res = await run(`${KS} consume ${l} --exit + join stream:no-such-stream-here --within 1s`, { env });
  assert.equal(res.code, 1, res.stderr);
  assert.equal(res.stdout, '');
  assert.match(res.stderr, /^kstream: topic `no-such-stream-here` does not exist/);
  assert.equal(res.stderr.trim().split('\n').length, 1, res.stderr);
});

test('README recipe: correlate orders with payments in a window, as pasted', async () => {
  const [orders, payments] = [await createTopic('orders', 1), await createTopic('payments', 1)];
  await ok(`printf '%s\\n' '{"order_id":"o1"}' '{"order_id":"o2"}' | ${KS} produce ${orders} --key r.order_id --quiet`);
  await ok(`printf '%s\\n' '{"order_id":"o1","amount":5}' | ${KS} produce ${payments} --quiet`);
  const r = await ok(`${KS} consume ${orders} --exit + join stream:${payments} --on r.order_id --right-on r.order_id --within 1h --left --as payment`);
  assert.deepEqual(textLines(r.stdout), ['{"order_id":"o1","payment":{"order_id":"o1","amount":5}}', '{"order_id":"o2","payment":null}']);
});

test('at-least-once: a fused consume --group + join stream: + produce killed with -9 four times joins every record, restored from its state', { timeout: 240_000 }, async (t) => {
  const { killLoop, countIds, midStreamProblems } = await import('../helpers/delivery.mjs');
  const { brokers, groupName } = ctx;
  const N = 60_000;
  const [orders, payments, output] = [await createTopic('ss-alo-orders', 1), await createTopic('ss-alo-pay', 1), await createTopic('ss-alo-out', 1)];
  const group = groupName('ss-alo');
  // order i at base + 10 i, its payment 5 ms later (within 1 s of it; 100 other orders too, of other ids)
  await ok(`node -e 'for (let i = 0; i < ${N}; i++) console.log(JSON.stringify({id: i, ts: 1767225600000 + i * 10}))' | ${KS} produce ${orders} --quiet`);
  await ok(`node -e 'for (let i = 0; i < ${N}; i++) console.log(JSON.stringify({id: i, amount: i % 7, ts: 1767225600000 + i * 10 + 5}))' | ${KS} produce ${payments} --quiet`);
  const cmd = (extra) => `${KS} consume ${orders} --group ${group} --instance-id a --fetch-max 16k --commit-interval 200ms${extra} + join stream:${payments} --on r.id --right-on r.id --time r.ts --side-time r.ts --within 1s --select '({id: r.id, amount: o.amount})' --quiet + produce ${output} --quiet`;
  const runs = await killLoop({ brokers, command: cmd(''), finish: cmd(' --exit'), outTopic: output, inTopic: orders, group, expected: N, kills: 4, seed: 14, env, log: (l) => t.diagnostic(l) });
  assert.deepEqual(midStreamProblems(runs), [], 'every kill landed mid-stream');
  const r = await ok(`${KS} consume ${output} --exit`);
  const c = countIds(r.stdout, new Set(Array.from({ length: N }, (_, i) => String(i))));
  t.diagnostic(`${c.lines} records, ${c.distinct} distinct, ${c.duplicates} duplicates, ${c.missing} missing`);
  assert.equal(c.missing, 0);
  for (const line of textLines(r.stdout)) {
    const o = JSON.parse(line);
    assert.equal(o.amount, o.id % 7, line);
  }
});

test('SIGTERM: a stream–stream join after consume --group stops with its state checkpointed and goes on where it was: each pair once', { timeout: 240_000 }, async (t) => {
  const { killLoop, countIds } = await import('../helpers/delivery.mjs');
  const { brokers, groupName } = ctx;
  const N = 30_000;
  const [orders, payments, output] = [await createTopic('ss-term-orders', 1), await createTopic('ss-term-pay', 1), await createTopic('ss-term-out', 1)];
  const group = groupName('ss-term');
  await ok(`node -e 'for (let i = 0; i < ${N}; i++) console.log(JSON.stringify({id: i, ts: 1767225600000 + i * 10}))' | ${KS} produce ${orders} --quiet`);
  await ok(`node -e 'for (let i = 0; i < ${N}; i++) console.log(JSON.stringify({id: i, amount: i % 7, ts: 1767225600000 + i * 10 + 5}))' | ${KS} produce ${payments} --quiet`);
  const cmd = (extra) => `${KS} consume ${orders} --group ${group} --instance-id a --fetch-max 16k${extra} + join stream:${payments} --on r.id --right-on r.id --time r.ts --side-time r.ts --within 1s --select '({id: r.id, amount: o.amount})' --quiet + produce ${output} --quiet`;
  const runs = await killLoop({ brokers, command: cmd(''), finish: cmd(' --exit'), outTopic: output, expected: N, kills: 1, seed: 5, env, signal: 'SIGTERM', target: 'children', log: (l) => t.diagnostic(l) });
  for (const r of runs.slice(0, -1)) assert.equal(r.code, 130, r.stderr);
  const r = await ok(`${KS} consume ${output} --exit`);
  const c = countIds(r.stdout, new Set(Array.from({ length: N }, (_, i) => String(i))));
  t.diagnostic(`${c.lines} records, ${c.distinct} distinct, ${c.duplicates} duplicates, ${c.missing} missing`);
  assert.equal(c.missing, 0);
  assert.equal(c.duplicates, 0);
});
