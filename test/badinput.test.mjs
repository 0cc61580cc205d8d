// The bad-input matrix without a broker, for what test/cli.test.mjs does not cover already (it has: malformed
// JSON, --on-error skip and dlq=<file> for JSON and expression errors, an expression that throws, unknown flags,
// invalid UTF-8 failing, the 100 MB line). Each case: one line on stderr, the documented exit code, no stack
// trace, and every good record still written. Kafka cases: test/it/badinput.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runSync, lines } from './helpers/spawn.mjs';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ks-bad-'));

function oneLine(stderr) {
  const ls = stderr.trim().split('\n');
  assert.doesNotMatch(stderr, /\n\s+at .*:\d+:\d+/, 'no stack trace');
  return ls;
}

test('a JSON value that is not an object where one is needed: names its line, keeps the records before it', () => {
  const input = '{"ts":1000,"n":1}\n42\n{"ts":2000,"n":3}\n';
  const r = runSync(['window', 'tumbling', '1m', '--time', 'r.ts', '--no-watermarks'], input);
  assert.equal(r.code, 1);
  assert.equal(lines(r.stdout).filter((v) => v.n !== undefined).map((v) => v.n).join(), '1');
  const ls = oneLine(r.stderr);
  assert.equal(ls.length, 1, r.stderr);
  assert.match(ls[0], /^kstream: stdin line 2: invalid event time \(missing\) from --time `r\.ts`/);
  // --on-error skip: the good records all pass, the count is reported
  const s = runSync(['window', 'tumbling', '1m', '--time', 'r.ts', '--no-watermarks', '--on-error', 'skip'], input + '"text"\n[1,2]\n{"ts":3000,"n":6}\n');
  assert.equal(s.code, 0, s.stderr);
  assert.deepEqual(lines(s.stdout).map((v) => v.n), [1, 3, 6]);
  assert.match(s.stderr, /kstream: window: invalid-time=3/);
});

test('a result JSON cannot hold (BigInt, function, symbol) is a record error, not an internal error or a silent null', () => {
  const input = '{"n":1}\n{"n":2}\n{"n":3}\n';
  for (const [stage, expr] of [['map', 'r.n === 2 ? 2n : r'], ['map', 'r.n === 2 ? (() => 1) : r'], ['map', 'r.n === 2 ? Symbol() : r'], ['flatmap', 'r.n === 2 ? [r, 5n] : [r]']]) {
    const r = runSync([stage, expr], input);
    assert.equal(r.code, 1, `${stage} ${expr}: ${r.stderr}`);
    const ls = oneLine(r.stderr);
    assert.equal(ls.length, 1, r.stderr);
    assert.match(ls[0], /^kstream: stdin line 2: (map|flatmap) expression `.*` returned a (bigint|function|symbol), which JSON cannot hold/);
    assert.deepEqual(lines(r.stdout).map((v) => v.n), [1], 'the record before it is written, nothing after it');
    const s = runSync([stage, expr, '--on-error', 'skip'], input);
    assert.equal(s.code, 0, s.stderr);
    assert.deepEqual(lines(s.stdout).map((v) => v.n), [1, 3], 'the whole record is set aside');
    assert.match(s.stderr, new RegExp(`kstream: ${stage}: skipped=1`));
  }
  // one inside an object: the run stops at that record with one line naming it, and what came before is written
  const d = runSync(['map', 'r.n === 2 ? { big: 2n } : r'], input);
  assert.equal(d.code, 1);
  const ls = oneLine(d.stderr);
  assert.equal(ls.length, 1, d.stderr);
  assert.match(ls[0], /^kstream: stdin line 2: its value cannot be written as JSON \(Do not know how to serialize a BigInt\) — convert BigInt fields/);
  assert.doesNotMatch(d.stderr, /internal error/);
  assert.equal(d.stdout, '{"n":1}\n', 'the record before it in the same batch is written');
  // a file of 16 MB goes through worker threads: the same line, the records before it, no stack trace
  const big = Array.from({ length: 300_000 }, (_, n) => `{"n":${n},"pad":"${'x'.repeat(32)}"}\n`).join('');
  const w = runSync(['map', 'r.n === 250000 ? { big: 1n } : r'], big);
  assert.equal(w.code, 1);
  assert.deepEqual(oneLine(w.stderr), ['kstream: stdin line 250001: its value cannot be written as JSON (Do not know how to serialize a BigInt) — convert BigInt fields with Number(…) or String(…) in the expression that makes them']);
  const out = w.stdout.split('\n').filter(Boolean);
  assert.equal(out.length, 250_000);
  assert.equal(JSON.parse(out.at(-1)).n, 249_999);
});

test('--on-error is uniform: decoding, invalid UTF-8, expressions and event times all go to the same dead-letter file', () => {
  const dlq = path.join(tmp, 'all.ndjson');
  const input = Buffer.concat([
    Buffer.from('{"ts":1000,"a":{"b":1}}\n'),
    Buffer.from('{"ts":2000,"a":\n'), // malformed JSON
    Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d, 0x0a]), // invalid UTF-8
    Buffer.from('{"ts":3000,"x":1}\n'), // r.a.b throws
    Buffer.from('{"ts":"soon","a":{"b":5}}\n'), // invalid event time
    Buffer.from('{"ts":4000,"a":{"b":6}}\n'),
  ]);
  const r = runSync(['map', '({ts: r.ts, b: r.a.b})', '--on-error', `dlq=${dlq}`, '+', 'window', 'tumbling', '1m', '--time', 'r.ts', '--no-watermarks', '--on-error', `dlq=${dlq}`], input);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(lines(r.stdout).map((v) => v.b), [1, 6]);
  // (UTF-8 is checked for a whole chunk before its lines are parsed: dead letters come in the order stages find them)
  const dead = lines(fs.readFileSync(dlq, 'utf8')).sort((x, y) => Number(x.source.split(' ').at(-1)) - Number(y.source.split(' ').at(-1)));
  assert.deepEqual(dead.map((d) => [d.stage, d.source]), [
    ['stdin', 'stdin line 2'], ['stdin', 'stdin line 3'], ['map', 'stdin line 4'], ['window', 'stdin line 5'],
  ]);
  assert.match(dead[0].reason, /invalid JSON/);
  assert.equal(dead[0].original, '{"ts":2000,"a":');
  assert.equal(dead[1].reason, 'invalid UTF-8');
  assert.equal(dead[1].encoding, 'base64');
  assert.deepEqual(Buffer.from(dead[1].original, 'base64'), Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]));
  assert.match(dead[2].reason, /map expression .* threw TypeError/);
  assert.match(dead[3].reason, /invalid event time/);
  assert.match(r.stderr, /kstream: stdin: dead-lettered=2/);
  assert.match(r.stderr, /kstream: map: dead-lettered=1/);
  assert.match(r.stderr, /kstream: window: .*=1/);
});

test('invalid UTF-8 under --on-error skip: single-threaded and threaded runs skip the same lines and keep line numbers', () => {
  const good = Array.from({ length: 150_000 }, (_, i) => JSON.stringify({ i, pad: 'p'.repeat(40) }));
  const parts = good.map((l) => Buffer.from(l + '\n'));
  for (const at of [10, 99_999, 149_999]) parts[at] = Buffer.from([0x7b, 0x22, 0x69, 0x22, 0x3a, 0xc3, 0x28, 0x7d, 0x0a]);
  const input = Buffer.concat(parts);
  const expected = good.filter((_, i) => ![10, 99_999, 149_999].includes(i)).map((l) => JSON.parse(l).i);
  for (const workers of ['0', '2']) {
    const r = runSync(['map', 'r.i', '--on-error', 'skip'], input, { env: { KSTREAM_WORKERS: workers } });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n').map(Number), expected, `workers=${workers}`);
    assert.match(r.stderr, /skipped=3/);
  }
  const f = runSync(['map', 'r.i', '--on-error', 'fail'], input);
  assert.equal(f.code, 1);
  assert.match(f.stderr, /^kstream: stdin line 11: invalid UTF-8/);
});

test('bad durations and offsets are usage errors: exit 2, one line naming the value', () => {
  const cases = [
    [['window', 'tumbling', '1x', '--time', 'r.ts'], /invalid window tumbling size `1x`/],
    [['window', 'tumbling', '1m', '--time', 'r.ts', '--grace', 'soon'], /invalid --grace `soon`/],
    [['gen', '--duration', '5q'], /invalid --duration `5q`/],
    [['consume', 't', '--max-wait', '3parsecs'], /invalid --max-wait `3parsecs`/],
    [['consume', 't', '--offset', 'soon'], /invalid offset `soon`/],
    [['consume', 't', '--offset', '@-5x'], /invalid time offset `5x`/],
    [['consume', 't', '--offset', '0=abc'], /invalid offset `abc`/],
    [['consume', 't', '--fetch-max', '12q'], /invalid --fetch-max `12q`/],
    [['consume', 't', '--instance-id', 'a'], /`--instance-id` needs a group/],
    [['map', 'r', '--on-error', 'dlq=kafka:'], /missing topic in `dlq=kafka:`/],
    [['produce', 't', '--linger', 'later'], /invalid --linger `later`/],
  ];
  for (const [args, re] of cases) {
    const r = runSync(args, '{}\n', { env: { KSTREAM_BROKERS: '127.0.0.1:1' } });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(oneLine(r.stderr).length, 1, r.stderr);
    assert.match(r.stderr, re);
  }
});

test('dlq=kafka:<topic> without a reachable broker: the run stops before its first record, with one line', () => {
  // the dead-letter topic is checked before the run starts (it was found missing or unreachable only at the first
  // bad record, after the records before it were written)
  const r = runSync(['map', 'r.a.b', '--on-error', 'dlq=kafka:dead'], '{"a":{"b":1}}\n{"x":1}\n{"a":{"b":3}}\n', { env: { KSTREAM_BROKERS: '127.0.0.1:1' } });
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  const ls = oneLine(r.stderr);
  assert.equal(ls.at(-1), 'kstream: cannot reach brokers `127.0.0.1:1` (connection refused) — start one with `npm run kafka:up` or set KSTREAM_BROKERS');
});
