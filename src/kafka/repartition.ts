/**
 * Repartitioning, as Kafka Streams does it: a run whose state groups by a key other than the one its input is
 * partitioned by (`aggregate --by r.page` over a topic keyed by user) becomes two runs in one process, joined by an
 * internal topic `<group>-<stage>-repartition` with the input's partition count.
 *
 *   1. the input (consume, as the user gave it) → the stages before the stateful ones → the repartition topic, each
 *      record placed by Java's partitioner on its group key and otherwise written as it was (key, value, time,
 *      headers), with a header naming its input partition (its upstream task);
 *   2. the repartition topic, in the same group → the stateful stages as tasks, one per partition, each key's
 *      state in exactly one of them → the stages after → the user's sink.
 *
 * Both are ordinary runs of the one runner, each with its own run context (its own transactions under
 * --exactly-once: the first commits its input offsets with its writes to the repartition topic, the second its
 * repartition offsets with its output and state). Several processes in one group split both topics' partitions.
 * With --exit the second run ends at the repartition topic's end offsets once the first has ended. An input of
 * one partition is one task holding every key: it runs as one run, tasked, with no repartition topic.
 */
import { assemble, contextFor, type Repartition, type Segment } from '../pipeline/assemble.js';
import { collectCounters, runPipeline } from '../pipeline/runner.js';
import { RunContext } from '../pipeline/run-context.js';
import { parseOnError, RecordErrors } from '../pipeline/onerror.js';
import { RuntimeError, UsageError } from '../pipeline/errors.js';
import type { PartMetrics, Sink, Source, Stage } from '../pipeline/stage.js';
import type { RunMetrics } from '../report/run-metrics.js';
import { compileExpr } from '../operators/expr.js';
import { openKafka } from './client/open.js';
import { KafkaSource } from './connect/source.js';
import { KafkaSink } from './connect/sink.js';
import { installKafkaLetters, installMaterialize, kafkaRun } from './connect/run.js';

export interface RepartitionRun {
  segments: Segment[];
  /** The run as assembled: its source (a group's consume) and the stages before `plan.at` are the first run's. */
  source: Source;
  stages: Stage[];
  plan: Repartition;
  run: RunContext;
  stop: Promise<void>;
  metrics?: RunMetrics;
  quiet: boolean;
  log(line: string): void;
}

/** The group key as one expression: the value to place a record by (none: one group, partition 0). */
function placement(by: readonly string[]): string {
  if (by.length === 0) return 'null';
  return by.length === 1 ? by[0] : `[${by.join(', ')}]`;
}

export async function runRepartitioned(o: RepartitionRun): Promise<{ stopped: boolean; counters: [string, Record<string, number>][] }> {
  const first = o.segments[0];
  if (!(o.source instanceof KafkaSource)) throw new RuntimeError('a repartition needs a Kafka source');
  if (first.opts.format === 'envelope') {
    throw new UsageError(
      `\`${o.plan.stage}\` groups by \`${o.plan.by.join('`, `')}\`, not by the record key, and \`consume --format envelope\` records cannot go through a repartition topic as they are`,
      'read values (drop --format envelope), or add --no-repartition when the input is partitioned by that key already',
    );
  }
  const group = String(first.opts.group);
  const topic = `${group}-${o.plan.stage}-repartition`;
  const partitions = await o.source.inputPartitions();
  if (partitions === 1) {
    // one input partition is one task, which holds every key: the run needs no repartition topic
    const only = o.source;
    only.keyedAsIs = true;
    const whole = assemble(o.segments.slice(1), o.run, only);
    const how = await runPipeline({ source: only, stages: whole.stages, sink: whole.sink, stop: o.stop, metrics: o.metrics });
    return { stopped: how === 'stopped', counters: collectCounters([only, ...whole.stages, whole.sink]) };
  }
  // The first run is always transactional: its writes to the repartition topic commit with its input offsets, so
  // a crash never writes a record there twice — the second run's state, whose positions are repartition offsets,
  // would count such a copy again even under at-least-once.
  const source = o.source.exactlyOnce ? o.source : (first.spec.source!(first.args, { ...first.opts, exactlyOnce: true, transactionalId: `kstream-${String(first.opts.group)}-repartition` }, contextFor(first, true, 0, undefined, o.run)) as KafkaSource);
  const client = await openKafka(source.cfg);
  await client.connect();
  try {
    if (!(await client.topicExists(topic))) {
      await client.createTopic(topic, { partitions, configs: { 'cleanup.policy': 'delete' } });
    } else {
      const [meta] = await client.topics([topic]);
      if (meta.partitions.length !== partitions) {
        throw new RuntimeError(
          `repartition topic \`${topic}\` has ${meta.partitions.length} partitions, the input ${partitions}`,
          `the input changed since it was made: finish the job, delete \`${topic}\` and the group's state topic, and start again`,
        );
      }
    }
  } finally {
    await client.close();
  }
  const by = placement(o.plan.by);
  if (!o.quiet) o.log(`kstream: \`${o.plan.stage}\` groups by \`${o.plan.by.join('`, `') || '(one group)'}\`, not by the record key: records go through \`${topic}\` (${partitions} partitions) so that each key's state lives in one task (consume --no-repartition: the input is partitioned by it already)`);

  // 1. input → the stages before the state → the repartition topic
  const run1 = o.run;
  const pre = o.stages.slice(0, o.plan.at);
  // the first run keeps no state: its source checkpoints nothing (the second run's source has the changelog)
  source.state = undefined;
  const sink1 = new KafkaSink(source.cfg, {
    topic,
    mode: 'json',
    headers: [],
    placeBy: { expr: compileExpr(by, '--by expression', { key: true, ts: true, headers: true }, true), partitions },
    acks: -1,
    compression: 'none',
    batchBytes: 1_000_000,
    batchRecords: 50_000,
    // each batch is a fetch's worth of records, written whole and acknowledged before the next: nothing to wait for
    lingerMs: 0,
    quiet: true,
    log: o.log,
    errors: new RecordErrors(parseOnError('fail'), 'repartition', run1),
  }, kafkaRun(run1));

  // 2. the repartition topic → the stateful stages as tasks → the rest → the user's sink
  const run2 = new RunContext();
  if (o.segments.some((s) => String(s.opts.onError ?? '').startsWith('dlq=kafka:'))) installKafkaLetters(run2);
  if (o.segments.some((s) => s.opts.materialize !== undefined)) installMaterialize(run2);
  // from the start of the repartition topic where the group has committed nothing (the first run may have written already)
  // its own static member id (two members of one group cannot share one), read_committed: the first run is transactional
  const opts2 = {
    ...first.opts, offset: undefined, exit: undefined, count: undefined, partition: undefined, regex: undefined, repartition: undefined,
    instanceId: first.opts.instanceId === undefined ? undefined : `${String(first.opts.instanceId)}-repartition`,
    isolation: 'read_committed', exactlyOnce: first.opts.exactlyOnce,
  };
  const source2 = first.spec.source!([topic], opts2, contextFor(first, true, 0, undefined, run2)) as KafkaSource;
  source2.useUpstreams(partitions);
  source2.keyedAsIs = true;
  const rest = assemble(o.segments.slice(1 + o.plan.at), run2, source2);
  await run2.ready();

  let stopBoth = () => {};
  const failed = new Promise<void>((r) => (stopBoth = r));
  const stop = Promise.race([o.stop, failed]);
  const exits = !!first.opts.exit || first.opts.count !== undefined;
  const one = (async () => {
    let ended = false;
    try {
      const how = await runPipeline({ source, stages: pre, sink: sink1, stop });
      // the input ended (--exit): the second run reads what the first wrote, then ends too
      if (how === 'ended' && exits) {
        await source2.finishAtEnd();
        ended = true;
      }
      return how;
    } finally {
      if (!ended) stopBoth();
    }
  })();
  // --metrics: the second run's records, stages and output; the lag, bytes and reconnects of both topics
  const meteredSource = {
    name: 'consume',
    counters: () => {
      const c: Record<string, number> = { ...source.counters?.() };
      for (const [k, v] of Object.entries(source2.counters?.() ?? {})) c[k] = (c[k] ?? 0) + v;
      return c;
    },
    metrics: (): PartMetrics => {
      const a = source.metrics();
      const b = source2.metrics();
      return { bytes: a.bytes, reconnects: (a.reconnects ?? 0) + (b.reconnects ?? 0), lag: [...(a.lag ?? []), ...(b.lag ?? [])], restore: b.restore };
    },
  };
  const two = runPipeline({ source: source2, stages: rest.stages, sink: rest.sink, stop, metrics: o.metrics, meteredSource }).catch((e: unknown) => {
    stopBoth();
    throw e;
  });
  const [r1, r2] = await Promise.allSettled([one, two]);
  try {
    await run2.close();
  } catch (e) {
    if (r1.status === 'fulfilled' && r2.status === 'fulfilled') throw e;
  }
  if (r1.status === 'rejected') throw r1.reason;
  if (r2.status === 'rejected') throw r2.reason;
  // one `consume` line for both sources (the input's and the repartition topic's counters added up)
  const parts: { name: string; counters?(): Record<string, number> }[] = [meteredSource, ...pre, ...rest.stages, rest.sink as Sink];
  return { stopped: r1.value === 'stopped' || r2.value === 'stopped', counters: collectCounters(parts) };
}
