// The README's recipes for tables, as pasted, with this test's topic names, against the real broker at
// KSTREAM_BROKERS: event sourcing (a command topic folded into current state, replayed from offset 0 to rebuild it)
// and CQRS (commands in, events out, a read model queried with `lookup`, while the job runs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { itContext } from '../helpers/broker.mjs';
import { KS, run, start, textLines } from '../helpers/spawn.mjs';

const ctx = await itContext();
const { env, createTopic, ok, name, groupName } = ctx;

/** Polls `lookup` until it gives `want` (the job runs on while the test asks). */
async function lookupUntil(table, key, test, ms = 30_000) {
  const t0 = Date.now();
  for (;;) {
    const r = await run(`${KS} lookup ${table} ${key}`, { env });
    if (r.code === 0 && test(JSON.parse(r.stdout))) return JSON.parse(r.stdout);
    if (Date.now() - t0 > ms) assert.fail(`lookup ${table} ${key} did not get there: ${r.code} ${r.stdout} ${r.stderr}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

test('recipe: event sourcing — commands folded into balances while the job runs, then rebuilt by a replay from offset 0', { timeout: 90_000 }, async () => {
  const commands = await createTopic('account-commands', 2);
  const [balances, rebuilt] = [name('balances'), name('balances-v2')];
  const group = groupName('balances');
  const job = start(`exec ${KS} consume ${commands} --group ${group} + aggregate 'sum(r.amount)' count --by r.account --materialize ${balances}`, { env, stdin: 'ignore', stdout: 'ignore' });
  try {
    await ok(`printf '%s\\n' '{"account":"a1","amount":100}' '{"account":"a2","amount":5}' '{"account":"a1","amount":-30}' | ${KS} produce ${commands} --key r.account --quiet`);
    const a1 = await lookupUntil(balances, 'a1', (v) => v.count === 2);
    assert.deepEqual(a1, { key: 'a1', sum_amount: 70, count: 2, emit: 'update' });
    await ok(`echo '{"account":"a2","amount":10}' | ${KS} produce ${commands} --key r.account --quiet`);
    assert.deepEqual(await lookupUntil(balances, 'a2', (v) => v.count === 2), { key: 'a2', sum_amount: 15, count: 2, emit: 'update' });
  } finally {
    job.kill('SIGTERM');
    await job.exited;
  }
  // rebuild: replay the command log from offset 0 into a new table — the same state
  await ok(`${KS} consume ${commands} --offset start --exit + aggregate 'sum(r.amount)' count --by r.account --materialize ${rebuilt} --quiet`);
  const all = (t) => ok(`${KS} lookup ${t} --all`).then((r) => textLines(r.stdout).map((l) => JSON.parse(l)).sort((x, y) => x.key.localeCompare(y.key)));
  assert.deepEqual(await all(rebuilt), await all(balances));
  assert.deepEqual((await all(rebuilt)).map((r) => [r.key, r.value.sum_amount]), [['a1', 70], ['a2', 15]]);
  const none = await run(`${KS} lookup ${rebuilt} a9`, { env });
  assert.equal(none.code, 1, 'an account that never had a command is absent');
});

test('recipe: CQRS — commands in, events out, a read model queried with lookup', { timeout: 90_000 }, async () => {
  const [commands, events] = [await createTopic('order-commands', 2), await createTopic('order-events', 2)];
  const model = name('orders-by-customer');
  const group = groupName('cqrs');
  const job = start(`exec ${KS} consume ${commands} --group ${group} + filter 'r.qty > 0' + aggregate count 'sum(r.qty)' 'last(r.item)' --by r.customer --materialize ${model} + produce ${events}`, { env, stdin: 'ignore', stdout: 'ignore' });
  try {
    await ok(`printf '%s\\n' '{"customer":"c1","item":"tea","qty":2}' '{"customer":"c1","item":"cup","qty":0}' '{"customer":"c2","item":"pot","qty":1}' '{"customer":"c1","item":"mug","qty":3}' | ${KS} produce ${commands} --key r.customer --quiet`);
    const c1 = await lookupUntil(model, 'c1', (v) => v.count === 2);
    assert.deepEqual(c1, { key: 'c1', count: 2, sum_qty: 5, last_item: 'mug', emit: 'update' });
    const r = await ok(`${KS} lookup ${model} c1 | jq .sum_qty`);
    assert.equal(r.stdout, '5\n');
  } finally {
    job.kill('SIGTERM');
    await job.exited;
  }
  // the events: one per accepted command's update, the rejected (qty 0) one left out
  const ev = await ok(`${KS} consume ${events} --exit`);
  assert.equal(textLines(ev.stdout).length, 3);
});

test('--materialize: rows reach the table while the job runs even without a group (a stage in a pipe); a refused command makes no topic', { timeout: 60_000 }, async () => {
  const table = name('piped-table');
  const p = start(`exec ${KS} aggregate count --by r.k --materialize ${table} --quiet`, { env, stdin: 'pipe', stdout: 'ignore' });
  try {
    p.child.stdin.write('{"k":"a"}\n{"k":"b"}\n{"k":"a"}\n');
    // no commit ever flushes them here: they go out within a moment on their own
    assert.deepEqual(await lookupUntil(table, 'a', (v) => v.count === 2, 10_000), { key: 'a', count: 2, emit: 'update' });
  } finally {
    p.child.stdin.end();
  }
  assert.equal((await p.exited).code, 0);
  const input = await createTopic('refused-in', 1);
  const never = name('never-made');
  const r = await run(`${KS} consume ${input} --group ${groupName('refused')} --exactly-once + aggregate count --by r.k --materialize ${never}`, { env });
  assert.equal(r.code, 2, r.stderr);
  const exists = await run(`${KS} topics describe ${never}`, { env });
  assert.notEqual(exists.code, 0, 'the table topic is made at the first row, not by a command that never ran');
});
