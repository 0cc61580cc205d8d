// `kstream top`'s pieces without a job: the exposition parser (src/report/prometheus.ts) on literal text, the
// latency quantile estimated from histogram buckets, the row two scrapes make, and the target grammar.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseExposition, bucketsOf, sumOf, maxOf } from '../dist/src/report/prometheus.js';
import { bucketQuantile, rowOf, snapshotOf, targetOf } from '../dist/src/report/top.js';
import { Registry } from '../dist/src/report/metrics.js';

const TEXT = [
  '# HELP kstream_consumer_lag_records Lag\\nper partition, with a \\\\ in it',
  '# TYPE kstream_consumer_lag_records gauge',
  'kstream_consumer_lag_records{topic="a\\"b",partition="0"} 5',
  'kstream_consumer_lag_records{topic="c\\\\d\\ne",partition="1",} 7 1700000000123',
  '# a plain comment, ignored',
  '',
  '# TYPE up untyped',
  'up 1',
  'weird:name_total{ le = "+Inf" , x="}, {" }\t-1.5e3',
  'not_a_number NaN',
  'neg_inf -Inf 42',
  '',
].join('\n');

test('the parser reads HELP/TYPE, escaped label values, a trailing comma, +Inf/NaN/-Inf, exponents and timestamps', () => {
  const e = parseExposition(TEXT);
  assert.equal(e.help.get('kstream_consumer_lag_records'), 'Lag\nper partition, with a \\ in it');
  assert.equal(e.types.get('kstream_consumer_lag_records'), 'gauge');
  assert.equal(e.types.get('up'), 'untyped');
  assert.equal(e.samples.length, 6);
  assert.deepEqual(e.samples[0], { name: 'kstream_consumer_lag_records', labels: { topic: 'a"b', partition: '0' }, value: 5 });
  assert.deepEqual(e.samples[1], { name: 'kstream_consumer_lag_records', labels: { topic: 'c\\d\ne', partition: '1' }, value: 7, timestamp: 1700000000123 });
  assert.deepEqual(e.samples[2], { name: 'up', labels: {}, value: 1 });
  assert.deepEqual(e.samples[3], { name: 'weird:name_total', labels: { le: '+Inf', x: '}, {' }, value: -1500 });
  assert.ok(Number.isNaN(e.samples[4].value));
  assert.deepEqual(e.samples[5], { name: 'neg_inf', labels: {}, value: -Infinity, timestamp: 42 });
  assert.equal(sumOf(e, 'kstream_consumer_lag_records'), 12);
  assert.equal(maxOf(e, 'kstream_consumer_lag_records'), 7);
  assert.equal(sumOf(e, 'missing'), undefined);
});

test('the parser refuses what is not the format, naming the line', () => {
  const bad = {
    'x{a="1} 2\n': /line 1: unterminated value of label `a`/,
    'x{a="\\t"} 2\n': /invalid escape `\\t`/,
    'x{a=1} 2\n': /expected a quoted value for label `a`/,
    'x{a="1" b="2"} 2\n': /expected , or }/,
    'x{a="1",a="2"} 2\n': /label `a` given twice/,
    'ok 1\nx 1 2 3\n': /line 2: expected a value and at most a timestamp/,
    'x abc\n': /invalid value `abc`/,
    'x\n': /expected a value/,
    'x 1 1.5\n': /invalid timestamp `1.5`/,
    '# TYPE x countr\n': /unknown type `countr`/,
    '{a="1"} 2\n': /expected a metric name/,
  };
  for (const [text, re] of Object.entries(bad)) assert.throws(() => parseExposition(text), re, JSON.stringify(text));
});

test('what the kstream registry writes reads back exactly: the parser and the writer agree', () => {
  const r = new Registry();
  r.counter('kstream_records_in_total', 'In').inc(12);
  r.gauge('kstream_consumer_lag_records', 'Lag').set(3, { topic: 'q"\\\n', partition: '2' });
  const h = r.histogram('kstream_end_to_end_latency_seconds', 'Latency', [0.01, 0.1]);
  h.observe(0.005);
  h.observe(0.05, undefined, 3);
  h.observe(7);
  const e = parseExposition(r.expose());
  assert.equal(sumOf(e, 'kstream_records_in_total'), 12);
  assert.deepEqual(e.samples.find((s) => s.name === 'kstream_consumer_lag_records').labels, { topic: 'q"\\\n', partition: '2' });
  assert.deepEqual(bucketsOf(e, 'kstream_end_to_end_latency_seconds'), [{ le: 0.01, count: 1 }, { le: 0.1, count: 4 }, { le: Infinity, count: 5 }]);
  assert.equal(e.types.get('kstream_end_to_end_latency_seconds'), 'histogram');
});

test('quantiles from histogram buckets: linear inside the bucket the rank falls in', () => {
  // 100 observations: 10 ≤ 1 ms, 60 in (1, 5] ms, 25 in (5, 10] ms, 4 in (10, 50] ms, 1 above 50 ms
  const b = [
    { le: 0.001, count: 10 },
    { le: 0.005, count: 70 },
    { le: 0.01, count: 95 },
    { le: 0.05, count: 99 },
    { le: Infinity, count: 100 },
  ];
  // p50: rank 50, the 40th of the 60 in (1, 5] ms → 1 + 4·40/60 ms
  assert.ok(Math.abs(bucketQuantile(0.5, b) - (0.001 + (0.004 * 40) / 60)) < 1e-12, String(bucketQuantile(0.5, b)));
  // p99: rank 99, the last of the 4 in (10, 50] ms → 50 ms
  assert.ok(Math.abs(bucketQuantile(0.99, b) - 0.05) < 1e-12);
  // p5: rank 5 in the first bucket, from 0 → 0.5 ms
  assert.ok(Math.abs(bucketQuantile(0.05, b) - 0.0005) < 1e-12);
  // p99.9: rank 99.9 in +Inf → the highest finite bound, a floor
  assert.equal(bucketQuantile(0.999, b), 0.05);
  // empty buckets before the rank are skipped, not interpolated into
  assert.equal(bucketQuantile(0.5, [{ le: 1, count: 0 }, { le: 2, count: 0 }, { le: 4, count: 2 }, { le: Infinity, count: 2 }]), 3);
  assert.equal(bucketQuantile(0.5, [{ le: 1, count: 0 }, { le: Infinity, count: 0 }]), null);
  assert.equal(bucketQuantile(0.5, []), null);
});

const exposition = ({ inn, out, cpu, lag, start = 1000, buckets }) => [
  '# TYPE kstream_records_in_total counter', `kstream_records_in_total ${inn}`,
  '# TYPE kstream_records_out_total counter', `kstream_records_out_total ${out}`,
  '# TYPE kstream_consumer_lag_records gauge',
  `kstream_consumer_lag_records{topic="t",partition="0"} ${lag[0]}`, `kstream_consumer_lag_records{topic="t",partition="1"} ${lag[1]}`,
  '# TYPE kstream_consumer_lag_seconds gauge',
  'kstream_consumer_lag_seconds{topic="t",partition="0"} 1.5', 'kstream_consumer_lag_seconds{topic="t",partition="1"} 4',
  '# TYPE kstream_records_dropped_total counter',
  'kstream_records_dropped_total{reason="late"} 2', 'kstream_records_dropped_total{reason="skipped"} 3',
  '# TYPE kstream_errors_total counter', 'kstream_errors_total 3',
  '# TYPE process_cpu_seconds_total counter', `process_cpu_seconds_total ${cpu}`,
  '# TYPE process_resident_memory_bytes gauge', 'process_resident_memory_bytes 52428800',
  '# TYPE process_start_time_seconds gauge', `process_start_time_seconds ${start}`,
  '# TYPE kstream_end_to_end_latency_seconds histogram',
  ...buckets.map(([le, n]) => `kstream_end_to_end_latency_seconds_bucket{le="${le}"} ${n}`),
  '',
].join('\n');

test('a row from two scrapes: rates, CPU and latency over the interval, totals and lag from the latest', () => {
  const a = snapshotOf(exposition({ inn: 1000, out: 900, cpu: 1, lag: [10, 20], buckets: [['0.01', 100], ['0.1', 100], ['+Inf', 100]] }), 10_000);
  const b = snapshotOf(exposition({ inn: 5000, out: 4500, cpu: 1.5, lag: [30, 20], buckets: [['0.01', 100], ['0.1', 110], ['+Inf', 110]] }), 12_000);
  const first = rowOf(':9464', 'http://127.0.0.1:9464/metrics', a, undefined);
  assert.equal(first.records_in_per_s, null);
  assert.equal(first.latency_p50_s, null);
  assert.equal(first.records_in, 1000);
  const r = rowOf(':9464', 'http://127.0.0.1:9464/metrics', b, a);
  assert.deepEqual(r, {
    target: ':9464',
    url: 'http://127.0.0.1:9464/metrics',
    status: 'up',
    records_in_per_s: 2000,
    records_out_per_s: 1800,
    records_in: 5000,
    records_out: 4500,
    lag_records: 50,
    lag_seconds_max: 4,
    lag_growing: true,
    // the 10 observations of the interval all lie in (0.01, 0.1]: not the 100 older ones ≤ 0.01
    latency_p50_s: 0.01 + 0.09 * 0.5,
    latency_p99_s: 0.01 + 0.09 * 0.99,
    errors: 3,
    dropped: 5,
    cpu_percent: 25,
    rss_bytes: 52428800,
  });
  // a restarted job (another start time): totals, but no rates across the two processes
  const c = snapshotOf(exposition({ inn: 10, out: 10, cpu: 0.1, lag: [0, 0], start: 2000, buckets: [['+Inf', 0]] }), 14_000);
  const restarted = rowOf(':9464', 'u', c, b);
  assert.equal(restarted.records_in_per_s, null);
  assert.equal(restarted.cpu_percent, null);
  assert.equal(restarted.records_in, 10);
  assert.equal(restarted.lag_growing, false);
});

test('targets: host:port, :port, [v6]:port and URLs; anything else is refused', () => {
  assert.deepEqual(targetOf('10.0.0.5:9464'), { name: '10.0.0.5:9464', url: 'http://10.0.0.5:9464/metrics' });
  assert.deepEqual(targetOf(':9464'), { name: ':9464', url: 'http://127.0.0.1:9464/metrics' });
  assert.deepEqual(targetOf('[::1]:9464'), { name: '[::1]:9464', url: 'http://[::1]:9464/metrics' });
  assert.deepEqual(targetOf('http://h:1234/x/metrics'), { name: 'http://h:1234/x/metrics', url: 'http://h:1234/x/metrics' });
  for (const bad of ['9464', 'host', ':0', ':70000', 'ftp://h/metrics', 'http://', 'h:p']) assert.equal(targetOf(bad), undefined, bad);
});
