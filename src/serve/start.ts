import type { Commands } from '../pipeline/registry.js';
import { assemble, parseSegment, type Segment } from '../pipeline/assemble.js';
import { RunContext } from '../pipeline/run-context.js';
import { runPipeline } from '../pipeline/runner.js';
import { UsageError, errorMessage } from '../pipeline/errors.js';
import { splitPipeline } from '../pipeline/words.js';
import type { KafkaConfig } from '../kafka/config.js';
import { openKafka } from '../kafka/client/open.js';
import { kafkaError } from '../kafka/errors.js';
import { TopicSide } from '../kafka/connect/side.js';
import { installKafkaLetters } from '../kafka/connect/run.js';
import type { Stage } from '../pipeline/stage.js';
import type { KafkaClient } from '../kafka/types.js';
import { RunMetrics } from '../report/run-metrics.js';
import type { ApiKeys } from './keys.js';
import { Gateway } from './gateway.js';
import { Hub } from './hub.js';
import { EndMarkers } from './pipeline.js';
import { LiveTable } from './tables.js';

export interface StartOptions {
  keys: ApiKeys;
  cfg: KafkaConfig;
  tls?: { cert: Buffer; key: Buffer };
  port: number;
  host: string;
  topic: string;
  partitions: number;
  pipeline: string;
  /** Connection options as words, for the pipeline's consume and produce segments. */
  connection: string[];
  rate: number;
  burst: number;
  maxStreams: number;
  maxSubscribers: number;
  maxBody: number;
  maxBuffer: number;
  tables: string[];
  cors: string[];
  commands: Commands;
  log(line: string): void;
  quiet: boolean;
  /** A worker of `serve --workers`: the primary says where it serves. */
  worker?: boolean;
}

export interface RunningGateway {
  url: string;
  /** Resolves when a part failed for good (the pipeline's stages, the output tail); `failure` says what. */
  failed: Promise<void>;
  failure: unknown;
  close(): Promise<void>;
}

/** How long the pipeline waits before it starts again after a failure of its Kafka connection. */
const RESTART_MS = 1000;

/** The pipeline's segments: consume the input topic in the group, the user's stages, produce to the output topic. */
async function segmentsOf(o: StartOptions, inTopic: string, outTopic: string): Promise<Segment[]> {
  const stages = o.pipeline.trim() === '' ? [] : splitPipeline(o.pipeline);
  const segs: Segment[] = [];
  // A record a stage fails on must not stop every stream behind it (the group would retry it for ever): unless
  // the stage says otherwise, it is set aside in <prefix>-dead-letters, counted in kstream_errors_total.
  const letters = ['--on-error', `dlq=kafka:${o.topic}-dead-letters`];
  const withLetters = stages.map((w) => (w.some((x) => x === '--on-error' || x.startsWith('--on-error=')) ? w : [...w, ...letters]));
  const words = [['consume', inTopic, '--group', `${o.topic}-pipeline`, '--max-wait', '100ms', '-q', ...o.connection], ...withLetters, ['produce', outTopic, '-q', ...o.connection]];
  for (let i = 0; i < words.length; i++) {
    const seg = await parseSegment(words[i], o.commands);
    if (!seg) throw new UsageError('--help inside --pipeline', 'run `kstream <command> --help` on its own');
    if (i > 0 && i < words.length - 1 && !seg.spec.stage) {
      throw new UsageError(`\`${seg.spec.name}\` cannot run inside --pipeline`, 'the gateway consumes and produces itself: give stages such as filter, map, window, aggregate, join');
    }
    segs.push(seg);
  }
  return segs;
}

/** The gateway routes results to streams by their key, the stream id: a stage that gives records keys of its own cannot run in it. */
function checkKeys(stages: Stage[]): void {
  const rekeys = stages.find((st) => st.gives?.key);
  if (rekeys) {
    throw new UsageError(
      `\`${rekeys.name}\` gives its results keys of its own, and the gateway sends results to streams by their key (the stream id)`,
      `keep --pipeline to stages that keep the key (filter, map, flatmap, dedupe, join); aggregate the output topic in a job of its own (kstream consume <topic>-out + aggregate … --materialize <table>) and serve the table with --tables`,
    );
  }
}

async function ensureTopic(client: KafkaClient, topic: string, partitions: number): Promise<void> {
  if (await client.topicExists(topic)) return;
  try {
    await client.createTopic(topic, { partitions });
  } catch (e) {
    // another gateway created it meanwhile
    if (!(await client.topicExists(topic))) throw e;
  }
}

/** Starts the pipeline, the output tail, the tables and the HTTP server. */
export async function startGateway(o: StartOptions): Promise<RunningGateway> {
  const inTopic = `${o.topic}-in`;
  const outTopic = `${o.topic}-out`;
  // the pipeline is built first: a bad --pipeline is a usage error before anything connects
  checkKeys(assemble(await segmentsOf(o, inTopic, outTopic), new RunContext(), undefined, { repartition: false }).stages);
  const client = await openKafka(o.cfg);
  try {
    await client.connect();
    await ensureTopic(client, inTopic, o.partitions);
    await ensureTopic(client, outTopic, o.partitions);
    await ensureTopic(client, `${o.topic}-dead-letters`, 1);
  } catch (e) {
    await client.close().catch(() => undefined);
    throw kafkaError(e, { cfg: o.cfg, topic: inTopic });
  }

  let failure: unknown;
  let fail: () => void = () => {};
  const failed = new Promise<void>((r) => (fail = r));
  const failWith = (e: unknown) => {
    failure ??= e;
    fail();
  };

  const metrics = new RunMetrics();
  metrics.processMetrics();

  // the pipeline: run by the usual runner; a failure of its Kafka connection restarts it, a bad stage ends serve
  let stopping = false;
  let stopPipeline: () => void = () => {};
  const stopped = new Promise<void>((r) => (stopPipeline = r));
  let pipelineDown: string | undefined = 'the pipeline is starting';
  const pipelineDone = (async () => {
    let first = true;
    while (!stopping) {
      const run = new RunContext();
      try {
        const segs = await segmentsOf(o, inTopic, outTopic);
        installKafkaLetters(run);
        const { source, stages, sink } = assemble(segs, run, undefined, { repartition: false });
        checkKeys(stages);
        const markers = new EndMarkers();
        await run.ready();
        pipelineDown = undefined;
        await runPipeline({ source, stages: [markers.before(), ...stages, markers.after()], sink, stop: stopped, metrics: first ? metrics : undefined });
        first = false;
        await run.close();
      } catch (e) {
        first = false;
        await run.close().catch(() => undefined);
        if (stopping) break;
        if (e instanceof UsageError) {
          failWith(e);
          break;
        }
        pipelineDown = `the pipeline stopped: ${errorMessage(e)}`;
        o.log(`kstream: serve: ${pipelineDown}; starting it again in ${RESTART_MS / 1000} s`);
        await new Promise((r) => setTimeout(r, RESTART_MS));
      }
    }
  })();

  const hub = new Hub(client, outTopic);
  try {
    await hub.start((e) => o.log(`kstream: serve: reading the results stopped: ${errorMessage(kafkaError(e, { cfg: o.cfg, topic: outTopic }))}; reading on in a second`));
  } catch (e) {
    stopping = true;
    stopPipeline();
    await pipelineDone;
    await client.close().catch(() => undefined);
    throw kafkaError(e, { cfg: o.cfg, topic: outTopic });
  }

  const tables = new Map<string, LiveTable>();
  for (const name of o.tables) {
    const t = new LiveTable(name, () => new TopicSide(o.cfg, name, name, true));
    t.start((e) => o.log(`kstream: serve: reading the table \`${name}\` stopped: ${errorMessage(kafkaError(e, { cfg: o.cfg, topic: name }))}; reading it again in a second`));
    tables.set(name, t);
  }

  const gateway = new Gateway({
    keys: o.keys, client, inTopic, outTopic, hub, registry: metrics.registry,
    rate: o.rate, burst: o.burst, maxStreams: o.maxStreams, maxSubscribers: o.maxSubscribers, maxBody: o.maxBody, maxBuffer: o.maxBuffer,
    cors: o.cors, tables, tls: o.tls, log: o.log,
    ready: () => pipelineDown ?? ([...tables.values()].some((t) => !t.ready) ? 'tables are loading' : undefined),
  });
  let url: string;
  try {
    url = await gateway.listen(o.port, o.host);
  } catch (e) {
    stopping = true;
    stopPipeline();
    await Promise.all([pipelineDone, hub.close()]);
    await client.close().catch(() => undefined);
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot listen on ${o.host}:${o.port}: ${code === 'EADDRINUSE' ? 'the address is in use' : (e as Error).message}`, 'pick another --port, or 0 for a free one');
  }
  if (!o.worker) o.log(`kstream: serving at ${url} — topics ${inTopic} → ${o.pipeline.trim() || '(no stages)'} → ${outTopic}`);

  return {
    url,
    failed,
    get failure() {
      return failure;
    },
    async close() {
      stopping = true;
      stopPipeline();
      await gateway.close();
      await pipelineDone;
      await Promise.all([hub.close(), ...[...tables.values()].map((t) => t.close().catch(() => undefined))]);
      await client.close().catch(() => undefined);
      metrics.close();
    },
  };
}
