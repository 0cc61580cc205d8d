// The Prometheus text exposition of src/report/metrics.ts, and the --metrics address grammar.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry, escapeLabel } from '../dist/src/report/metrics.js';
import { parseMetricsAddress } from '../dist/src/report/metrics-server.js';

test('a small registry is exposed exactly: HELP/TYPE, labels escaped, histogram buckets cumulative with +Inf, _sum, _count', () => {
  const r = new Registry();
  const c = r.counter('kstream_records_in_total', 'Records read');
  const g = r.gauge('kstream_consumer_lag_records', 'Lag\nper partition, with a \\ in it');
  const h = r.histogram('kstream_stage_batch_seconds', 'Batch time', [0.001, 0.01, 0.1]);
  r.gauge('kstream_unused', 'Never set: left out');
  c.inc(3);
  c.inc(4);
  g.set(5, { topic: 'a"b', partition: '0' });
  g.set(0, { topic: 'c\\d\ne', partition: '1' });
  h.observe(0.0005, { stage: '0:filter' });
  h.observe(0.005, { stage: '0:filter' });
  h.observe(0.01, { stage: '0:filter' }); // on a bound: counted in it (le is inclusive)
  h.observe(2, { stage: '0:filter' }); // above every bound: only in +Inf
  h.observe(0.05, { stage: '1:map' }, 10); // one batch of ten records
  assert.equal(
    r.expose(),
    [
      '# HELP kstream_records_in_total Records read',
      '# TYPE kstream_records_in_total counter',
      'kstream_records_in_total 7',
      '# HELP kstream_consumer_lag_records Lag\\nper partition, with a \\\\ in it',
      '# TYPE kstream_consumer_lag_records gauge',
      'kstream_consumer_lag_records{topic="a\\"b",partition="0"} 5',
      'kstream_consumer_lag_records{topic="c\\\\d\\ne",partition="1"} 0',
      '# HELP kstream_stage_batch_seconds Batch time',
      '# TYPE kstream_stage_batch_seconds histogram',
      'kstream_stage_batch_seconds_bucket{stage="0:filter",le="0.001"} 1',
      'kstream_stage_batch_seconds_bucket{stage="0:filter",le="0.01"} 3',
      'kstream_stage_batch_seconds_bucket{stage="0:filter",le="0.1"} 3',
      'kstream_stage_batch_seconds_bucket{stage="0:filter",le="+Inf"} 4',
      'kstream_stage_batch_seconds_sum{stage="0:filter"} 2.0155',
      'kstream_stage_batch_seconds_count{stage="0:filter"} 4',
      'kstream_stage_batch_seconds_bucket{stage="1:map",le="0.001"} 0',
      'kstream_stage_batch_seconds_bucket{stage="1:map",le="0.01"} 0',
      'kstream_stage_batch_seconds_bucket{stage="1:map",le="0.1"} 10',
      'kstream_stage_batch_seconds_bucket{stage="1:map",le="+Inf"} 10',
      'kstream_stage_batch_seconds_sum{stage="1:map"} 0.5',
      'kstream_stage_batch_seconds_count{stage="1:map"} 10',
      '',
    ].join('\n'),
  );
});

test('collectors run before each exposition; a cleared gauge drops its series', () => {
  const r = new Registry();
  const lag = r.gauge('lag', 'L');
  let parts = [['t', 0, 4], ['t', 1, 2]];
  r.collect(() => {
    lag.clear();
    for (const [topic, p, v] of parts) lag.set(v, { topic, partition: String(p) });
  });
  assert.match(r.expose(), /lag\{topic="t",partition="1"\} 2\n/);
  parts = [['t', 0, 0]];
  assert.equal(r.expose(), '# HELP lag L\n# TYPE lag gauge\nlag{topic="t",partition="0"} 0\n');
  assert.throws(() => r.counter('lag', 'again'), /registered twice/);
});

test('label values escape backslash, quote and newline, in that order', () => {
  assert.equal(escapeLabel('a\\"\nb'), 'a\\\\\\"\\nb');
});

test('--metrics addresses: host:port, :port is 127.0.0.1, [v6]:port, 0.0.0.0; anything else is a usage error', () => {
  assert.deepEqual(parseMetricsAddress('127.0.0.1:9464'), { host: '127.0.0.1', port: 9464 });
  assert.deepEqual(parseMetricsAddress(':9464'), { host: '127.0.0.1', port: 9464 });
  assert.deepEqual(parseMetricsAddress('0.0.0.0:0'), { host: '0.0.0.0', port: 0 });
  assert.deepEqual(parseMetricsAddress('[::1]:9464'), { host: '::1', port: 9464 });
  assert.deepEqual(parseMetricsAddress('localhost:80'), { host: 'localhost', port: 80 });
  for (const bad of ['9464', 'host:', 'host:99999', 'a:b:1', 'host:x']) {
    assert.throws(() => parseMetricsAddress(bad), (e) => e.exitCode === 2 && /invalid --metrics/.test(e.message), bad);
  }
});

test('an outage ended by a restored connection counts one reconnect (kstream_reconnects_total)', async () => {
  const { Outage } = await import('../dist/src/kafka/errors.js');
  const notices = [];
  const o = new Outage({ brokers: ['127.0.0.1:1'], notice: (l) => notices.push(l) });
  o.ok();
  assert.equal(o.reconnects, 0, 'no outage, no reconnect');
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
  o.failed(refused);
  o.failed(refused, 1);
  assert.equal(o.reconnects, 0);
  o.ok();
  o.ok();
  assert.equal(o.reconnects, 1);
  o.failed(refused);
  o.ok();
  assert.equal(o.reconnects, 2);
  assert.equal(notices.filter((l) => /reconnected/.test(l)).length, 2);
});
