/**
 * The transport: the only code that knows the client library (kafkajs 2.2.4, its final release, so what is used of it
 * does not move). It makes kafkajs's cluster and broker objects as kafkajs's own client makes them — from its cluster
 * module, without loading the whole library (its index loads admin, consumer and producer too: 143 modules, 80-140 ms
 * of CPU on a small machine, against about half that for the cluster, and that load is most of what `produce` needs
 * before its first send while `gen` before it in the pipe has started its clock) — and writes the requests kstream
 * encodes itself (kafka/protocol/) through their connections. The admin client (the whole library) loads only when an
 * admin request is made.
 *
 * What is not kafkajs's public API, and why: kafkajs has no public way to send a request to a given broker, so the
 * cluster module, its request definitions and the connection's request queue are used directly; and its request queue
 * is patched (patchRequestQueue) so an idle connection stops waking the process 1000 times a second. A change of
 * library touches this folder (docs/decisions/).
 */
import { Buffer } from 'node:buffer';
import type { Admin, Kafka, LogEntry } from 'kafkajs';
import internals from './kafkajs-load.cjs';
import type { KafkaConfig } from '../config.js';
import { scrubSecrets } from '../config.js';
import { kafkaError, MissingTopic, Outage } from '../errors.js';
import {
  decodeFetch, decodeProduceResponse, produceRequestParts,
  type FetchContext, type FetchedPartition, type ProducePartitionResult, type ProduceTopicData,
} from '../protocol/records.js';
import {
  decodeIncrementalAlterConfigs, decodeOffsetFetchV7, encodeFetchRequest, encodeIncrementalAlterConfigs, encodeOffsetFetchV7,
  type AlterConfigsResource, type AlterConfigsResult, type FetchPartitionRequest, type OffsetFetchResult,
} from '../protocol/requests.js';
export type { FetchPartitionRequest };
import type { Isolation, TopicMeta } from '../types.js';

/** How long the first connection may take in total before kstream gives up with one line. */
export const CONNECT_DEADLINE_MS = 8000;

export type KafkajsOptions = {
  clientId: string;
  brokers: string[];
  ssl: object | undefined;
  sasl: object | undefined;
  connectionTimeout: number;
  authenticationTimeout: number;
  socketFactory: (args: any) => any;
  requestTimeout: number;
  retry: { retries: number; initialRetryTime: number; maxRetryTime: number };
  logLevel: number;
  logCreator: unknown;
};

const API_PRODUCE = 0;
const API_FETCH = 1;
const API_OFFSET_FETCH = 9;
const API_INCREMENTAL_ALTER_CONFIGS = 44;
const UNSTABLE_OFFSET_COMMIT = 88;

export const EARLIEST = -2;
export const LATEST = -1;

function kafkajsLogger(cfg: KafkaConfig) {
  return () => ({ namespace, label, log }: LogEntry) => {
    if (!cfg.log) return;
    const extra = log.error ? `: ${log.error}` : '';
    cfg.log(scrubSecrets(`kafkajs ${label} [${namespace}] ${log.message}${extra}`, cfg));
  };
}

/**
 * kafkajs 2.2.4's request queue arms `setTimeout(check, throttledUntil - Date.now())` with throttledUntil = -1 when
 * nothing is throttled: a negative delay, which Bun, Deno and newer Node versions warn about on stderr, and which
 * timers run after 1 ms. The check then arms the timer again, even with nothing pending: from its first response on,
 * every connection woke its process about 1000 times a second for good (an idle `consume` made 1660 event-loop
 * turns a second, measured with strace) — CPU a busy machine's other processes wait for. Now the check is armed
 * only while requests wait (throttled or over the in-flight limit), as kafkajs's comment intends; a request pushed
 * later is sent at once or arms it itself; the delay is never negative.
 */
let queuePatched = false;
function patchRequestQueue(): void {
  if (queuePatched) return;
  queuePatched = true;
  try {
    const proto = internals.RequestQueue()?.prototype;
    if (!proto || typeof proto.scheduleCheckPendingRequests !== 'function') return;
    proto.scheduleCheckPendingRequests = function (this: { throttledUntil: number; throttleCheckTimeoutId: unknown; pending: unknown[]; checkPendingRequests(): void }) {
      if (this.pending.length === 0) return;
      let scheduleAt = this.throttledUntil - Date.now();
      if (!this.throttleCheckTimeoutId) {
        scheduleAt = scheduleAt > 0 ? scheduleAt : 10;
        this.throttleCheckTimeoutId = setTimeout(() => {
          this.throttleCheckTimeoutId = null;
          this.checkPendingRequests();
        }, scheduleAt);
      }
    };
  } catch {
    // not fatal: only a warning on some runtimes
  }
}

/**
 * kafkajs's sockets, allowed more than 10 'connect' listeners: while a broker is down kafkajs disconnects the same
 * connecting socket again on every retry (each adds a listener), and Node would print a leak warning on stderr.
 */
function quietSockets(): (args: any) => any {
  const make = internals.socketFactory()();
  return (args) => {
    const socket = make(args);
    socket.setMaxListeners(0);
    return socket;
  };
}

export type { Admin };

/** The options of a kafkajs client (`new Kafka(…)`), which its clusters and its admin are made with. */
export function kafkajsOptions(config: KafkaConfig): KafkajsOptions {
  const { tls, sasl } = config;
  return {
    clientId: config.clientId,
    brokers: config.brokers,
    ssl: tls ? { ca: tls.ca ? [tls.ca] : undefined, cert: tls.cert, key: tls.key, rejectUnauthorized: tls.rejectUnauthorized } : undefined,
    sasl: sasl ? ({ mechanism: sasl.mechanism, username: sasl.username, password: sasl.password } as any) : undefined,
    connectionTimeout: 3000,
    authenticationTimeout: 5000,
    socketFactory: quietSockets(),
    requestTimeout: 30_000,
    // A handful of quick retries: an unreachable broker fails in about a second, a leader move still recovers.
    retry: { retries: 3, initialRetryTime: 150, maxRetryTime: 1500 },
    logLevel: config.log ? LOGGERS.LEVELS.INFO : LOGGERS.LEVELS.NOTHING,
    logCreator: kafkajsLogger(config),
  };
}

/** kafkajs's admin client: the whole library, loaded only now (see the header). */
export async function openAdmin(options: KafkajsOptions, cfg: KafkaConfig): Promise<Admin> {
  patchRequestQueue();
  const KafkaClass = internals.library().Kafka as new (o: object) => Kafka;
  const admin = new KafkaClass(options).admin({ retry: { retries: 3, initialRetryTime: 150, maxRetryTime: 1500 } });
  await withDeadline(admin.connect(), CONNECT_DEADLINE_MS, cfg);
  return admin;
}

/** kafkajs's broker object, as far as kstream uses it. */
export interface Broker {
  nodeId: number;
  versions: Record<number, { minVersion: number; maxVersion: number }> | null;
  connectionPool: { send(req: unknown): Promise<any>; getConnectionByRequest(req: { request: { apiKey: number } }): Promise<Connection> };
  listOffsets(req: unknown): Promise<any>;
  joinGroup(req: unknown): Promise<any>;
  syncGroup(req: unknown): Promise<any>;
  heartbeat(req: unknown): Promise<any>;
  leaveGroup(req: unknown): Promise<any>;
  offsetCommit(req: unknown): Promise<any>;
  offsetFetch(req: unknown): Promise<any>;
  lookupRequest(apiKey: number, definitions: unknown): (args: object) => unknown;
  disconnect(): Promise<void>;
}

/** kafkajs's connection object, as far as kstream writes requests to it itself (see Wire.sendParts). */
export interface Connection {
  clientId: string | null;
  socket: { cork(): void; uncork(): void; write(b: Uint8Array): boolean };
  requestQueue: { push(r: { entry: object; expectResponse: boolean; requestTimeout: number; sendRequest(): void }): void };
  nextCorrelationId(): number;
  sasl: unknown;
  isAuthenticated(): boolean;
  authenticate(): Promise<void>;
  failIfNotConnected(): void;
}

// kafkajs's request definitions, for requests its Broker methods do not expose with every field kstream needs
// (JoinGroup with a group instance id) or at all.
const API_KEYS = internals.apiKeys;
const REQUESTS = internals.requests;
const ClusterClass = internals.Cluster as new (opts: object) => Cluster;
export const LOGGERS = internals.loggers;

export interface Cluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  refreshMetadata(): Promise<void>;
  addMultipleTargetTopics(topics: string[]): Promise<void>;
  findTopicPartitionMetadata(topic: string): { partitionId: number; leader: number; replicas: number[]; isr: number[]; partitionErrorCode: number }[];
  findBroker(q: { nodeId: number | string }): Promise<Broker>;
  findGroupCoordinator(q: { groupId: string; coordinatorType?: number }): Promise<Broker>;
  brokerPool: { metadata?: { brokers: { nodeId: number; host: string; port: number }[]; controllerId: number; clusterId: string } };
}

/** A kafkajs protocol error name for a code ("NOT_LEADER_OR_FOLLOWER"), best effort. */
let errorTable: { code: number; type: string; message: string; retriable: boolean }[] | undefined;
export async function errorInfo(code: number): Promise<{ type: string; message: string; retriable: boolean }> {
  if (!errorTable) {
    try {
      errorTable = internals.errorCodes();
    } catch {
      errorTable = [];
    }
  }
  return errorTable!.find((e) => e.code === code) ?? { type: `ERROR_${code}`, message: `broker error code ${code}`, retriable: false };
}

export class ProtocolError extends Error {
  constructor(readonly code: number, readonly type: string, message: string, readonly retriable: boolean, readonly topic?: string, readonly partition?: number) {
    super(message);
    this.name = 'KafkaJSProtocolError';
  }
}

export async function protocolError(code: number, topic?: string, partition?: number): Promise<ProtocolError> {
  const info = await errorInfo(code);
  return new ProtocolError(code, info.type, info.message, info.retriable, topic, partition);
}

/** kafkajs's group member metadata and assignment codecs (its AssignerProtocol export), without its index. */
export function assignerProtocol(): {
  MemberMetadata: { encode(m: object): Buffer; decode(b: Buffer): any };
  MemberAssignment: { encode(a: object): Buffer; decode(b: Buffer): any };
} {
  return internals.assignerProtocol() as ReturnType<typeof assignerProtocol>;
}

/** A payload in the shape kafkajs's request framing accepts from an encoder. */
function encoded(buf: Buffer): { buf: Buffer; buffer: Buffer } {
  return { buf, buffer: buf };
}

function version(broker: Broker, apiKey: number, ours: number, min: number, name: string): number {
  const v = broker.versions?.[apiKey];
  if (!v) throw new Error(`broker ${broker.nodeId} does not support ${name}`);
  const best = Math.min(ours, v.maxVersion);
  if (best < min || best < v.minVersion) throw new Error(`broker ${broker.nodeId} is too old for ${name} (needs version ${min}+, Kafka 0.11 or later)`);
  return best;
}

/**
 * The request-level access the consumer and producer need: leaders, fetch, produce, offsets and the group
 * coordinator, over one kafkajs cluster.
 */
export class Wire {
  readonly cluster: Cluster;
  /** A lost connection of this client, shared by its consumer and producers (one notice per outage). */
  readonly outage: Outage;
  private connected: Promise<void> | undefined;
  private readonly targets = new Set<string>();

  constructor(options: KafkajsOptions, readonly cfg: KafkaConfig) {
    patchRequestQueue();
    this.outage = new Outage(cfg);
    // what kafkajs's Kafka#[createCluster] makes of the client's options (kafkajs/src/index.js)
    const { logLevel, logCreator, retry, ...rest } = options;
    this.cluster = new ClusterClass({
      ...rest,
      logger: LOGGERS.createLogger({ level: logLevel, logCreator }),
      retry,
      offsets: new Map(),
      enforceRequestTimeout: true,
      instrumentationEmitter: null,
      metadataMaxAge: 300_000,
      allowAutoTopicCreation: false,
      maxInFlightRequests: null,
      isolationLevel: 0,
    });
  }

  connect(): Promise<void> {
    if (!this.connected) this.connected = withDeadline(this.cluster.connect(), CONNECT_DEADLINE_MS, this.cfg);
    return this.connected;
  }

  /** Partition metadata of a topic (loads it on first use); MissingTopic when the broker does not know it. */
  async partitions(topic: string, refresh = false): Promise<TopicMeta> {
    await this.connect();
    if (!this.targets.has(topic)) {
      try {
        await this.cluster.addMultipleTargetTopics([topic]);
      } catch (e) {
        throw kafkaError(e, { cfg: this.cfg, topic });
      }
      this.targets.add(topic);
    } else if (refresh) await this.cluster.refreshMetadata();
    const parts = this.cluster.findTopicPartitionMetadata(topic);
    if (parts.length === 0) throw new MissingTopic(topic);
    return {
      topic,
      partitions: parts
        .map((p) => ({ partition: p.partitionId, leader: p.leader, replicas: p.replicas, isr: p.isr }))
        .sort((a, b) => a.partition - b.partition),
    };
  }

  async refresh(): Promise<void> {
    await this.cluster.refreshMetadata();
  }

  broker(nodeId: number): Promise<Broker> {
    return this.cluster.findBroker({ nodeId });
  }

  coordinator(groupId: string): Promise<Broker> {
    return this.cluster.findGroupCoordinator({ groupId });
  }

  /** The transaction coordinator of a transactional id. */
  txnCoordinator(transactionalId: string): Promise<Broker> {
    return this.cluster.findGroupCoordinator({ groupId: transactionalId, coordinatorType: 1 });
  }

  /**
   * Committed offsets of a group with require_stable (OffsetFetch v7, KIP-447): a partition whose offsets are
   * part of a transaction still being completed answers UNSTABLE_OFFSET_COMMIT, and this waits until it is
   * settled, so a new owner never starts from an offset an about-to-commit transaction moves past.
   * kafkajs stops at v4; v7 is a flexible version, encoded here.
   */
  async committedStable(broker: Broker, groupId: string, tps: { topic: string; partition: number }[]): Promise<Map<string, number>> {
    const v = broker.versions?.[API_OFFSET_FETCH];
    if (!v || v.maxVersion < 7) throw new Error(`broker ${broker.nodeId} is too old for --exactly-once (needs OffsetFetch v7, Kafka 2.5 or later)`);
    const body = encodeOffsetFetchV7(groupId, tps);
    for (let attempt = 0; ; attempt++) {
      const res: OffsetFetchResult = await this.send(broker, {
        request: { apiKey: API_OFFSET_FETCH, apiVersion: 7, apiName: 'OffsetFetch', encode: async () => encoded(body) },
        response: { decode: async (payload: Buffer) => decodeOffsetFetchV7(payload), parse: async (d: unknown) => d },
        requestTimeout: 30_000,
      });
      const unstable = res.errorCode === UNSTABLE_OFFSET_COMMIT || res.partitions.some((p) => p.errorCode === UNSTABLE_OFFSET_COMMIT);
      if (unstable && attempt < 100) {
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      const bad = res.errorCode || res.partitions.find((p) => p.errorCode)?.errorCode;
      if (bad) throw await protocolError(bad);
      const out = new Map<string, number>();
      for (const p of res.partitions) if (p.offset >= 0) out.set(`${p.topic}\u0000${p.partition}`, p.offset);
      return out;
    }
  }

  /**
   * IncrementalAlterConfigs to one broker (any broker takes a topic's; a KRaft broker passes it to the controller):
   * per-resource results with the broker's own error messages, for the caller to raise.
   */
  async incrementalAlterConfigs(broker: Broker, resources: AlterConfigsResource[], validateOnly: boolean): Promise<AlterConfigsResult[]> {
    const v = broker.versions?.[API_INCREMENTAL_ALTER_CONFIGS];
    if (!v) throw new Error(`broker ${broker.nodeId} cannot change single configs (IncrementalAlterConfigs needs Kafka 2.3 or later)`);
    const ver = Math.min(1, v.maxVersion) as 0 | 1;
    const body = encodeIncrementalAlterConfigs(ver, resources, validateOnly);
    return this.send(broker, {
      request: { apiKey: API_INCREMENTAL_ALTER_CONFIGS, apiVersion: ver, apiName: 'IncrementalAlterConfigs', encode: async () => encoded(body) },
      response: { decode: async (payload: Buffer) => decodeIncrementalAlterConfigs(ver, payload), parse: async (d: unknown) => d },
      requestTimeout: 30_000,
    });
  }

  /** ListOffsets for one topic: `at` is EARLIEST, LATEST or a timestamp. Missing partitions map to -1. */
  async listOffsets(topic: string, partitions: number[], at: number, isolation: Isolation): Promise<Map<number, number>> {
    const meta = await this.partitions(topic);
    const byLeader = new Map<number, number[]>();
    for (const p of meta.partitions) {
      if (!partitions.includes(p.partition)) continue;
      let l = byLeader.get(p.leader);
      if (!l) byLeader.set(p.leader, (l = []));
      l.push(p.partition);
    }
    const out = new Map<number, number>();
    await Promise.all([...byLeader].map(async ([leader, parts]) => {
      const broker = await this.broker(leader);
      const res = await broker.listOffsets({
        replicaId: -1,
        isolationLevel: isolation === 'read_committed' ? 1 : 0,
        topics: [{ topic, partitions: parts.map((partition) => ({ partition, timestamp: at })) }],
      });
      for (const t of res.responses) for (const p of t.partitions) out.set(p.partition, Number(p.offset));
    }));
    return out;
  }

  /** One Fetch request to one broker; partition errors are returned in the result for the caller to handle. */
  async fetch(nodeId: number, isolation: Isolation, maxWaitMs: number, minBytes: number, maxBytes: number, parts: FetchPartitionRequest[]): Promise<FetchedPartition[]> {
    const broker = await this.broker(nodeId);
    const v = version(broker, API_FETCH, 11, 4, 'Fetch');
    const offsets = new Map<string, number>();
    for (const p of parts) offsets.set(`${p.topic}\u0000${p.partition}`, p.offset);
    const ctx: FetchContext = {
      fetchOffset: (topic, partition) => offsets.get(`${topic}\u0000${partition}`) ?? 0,
      readCommitted: isolation === 'read_committed',
    };
    const body = encodeFetchRequest(v, isolation, maxWaitMs, minBytes, maxBytes, parts);
    const res = await this.send(broker, {
      request: { apiKey: API_FETCH, apiVersion: v, apiName: 'Fetch', encode: async () => encoded(body) },
      response: { decode: (payload: Buffer) => decodeFetch(payload, v, ctx), parse: async (d: unknown) => d },
      requestTimeout: maxWaitMs + 30_000,
    });
    if (res.errorCode) throw await protocolError(res.errorCode);
    return res.partitions;
  }

  /** One Produce request to one broker; resolves with per-partition results (none with acks 0). */
  async produce(nodeId: number, acks: number, timeoutMs: number, topics: ProduceTopicData[], transactionalId: string | null = null): Promise<ProducePartitionResult[]> {
    const broker = await this.broker(nodeId);
    const v = version(broker, API_PRODUCE, 7, 3, 'Produce');
    const payload = await this.sendParts(broker, API_PRODUCE, v, 'Produce', produceRequestParts(acks, timeoutMs, topics, transactionalId), acks !== 0, timeoutMs + 5_000);
    return payload === null ? [] : decodeProduceResponse(payload, v);
  }

  /**
   * Writes one request to the broker's connection as it is — header, then `body` part by part, corked into one
   * writev — through the connection's own request queue (correlation ids, in-flight limits, timeouts and the
   * response are kafkajs's). kafkajs's own send would copy the body twice, into zero-filled buffers grown by
   * doubling: for produce that was six bytes allocated and five copied per byte of records.
   * Resolves with the response body (null when none is expected).
   */
  private async sendParts(broker: Broker, apiKey: number, apiVersion: number, apiName: string, body: Uint8Array[], expectResponse: boolean, requestTimeout: number): Promise<Buffer | null> {
    try {
      const conn = await broker.connectionPool.getConnectionByRequest({ request: { apiKey } });
      // SASL first on a connection not used yet (or due to re-authenticate), as kafkajs's own send does
      if (conn.sasl && !conn.isAuthenticated()) await conn.authenticate();
      conn.failIfNotConnected();
      const correlationId = conn.nextCorrelationId();
      const client = conn.clientId === null ? -1 : Buffer.byteLength(conn.clientId, 'utf8');
      const header = Buffer.allocUnsafe(14 + Math.max(client, 0));
      let size = header.length - 4;
      for (const b of body) size += b.length;
      header.writeInt32BE(size, 0);
      header.writeInt16BE(apiKey, 4);
      header.writeInt16BE(apiVersion, 6);
      header.writeInt32BE(correlationId, 8);
      header.writeInt16BE(client, 12);
      if (client > 0) header.write(conn.clientId!, 14, client, 'utf8');
      const res = await new Promise<{ payload: Buffer | null }>((resolve, reject) => {
        const entry = { apiKey, apiName, apiVersion, correlationId, resolve, reject };
        conn.requestQueue.push({
          entry,
          expectResponse,
          requestTimeout,
          sendRequest: () => {
            const socket = conn.socket;
            socket.cork();
            socket.write(header);
            for (const b of body) socket.write(b);
            socket.uncork();
          },
        });
      });
      return expectResponse ? res.payload : null;
    } catch (e) {
      throw await afterFailure(broker, e);
    }
  }

  /**
   * Any request kafkajs knows, at the highest version both sides support (what its Broker methods do, without
   * their fixed argument lists). Protocol errors come back as kafkajs errors with `type`, like theirs.
   */
  async call(broker: Broker, api: string, args: object): Promise<any> {
    const make = broker.lookupRequest(API_KEYS[api], REQUESTS[api]);
    return this.send(broker, make(args));
  }

  /**
   * As `call`, but the response as the broker decoded it, unparsed: its errors are data, with the broker's own
   * messages (kafkajs's parse throws them as generic errors of their code: "Configuration is invalid").
   */
  async callDecoded(broker: Broker, api: string, args: object): Promise<any> {
    const req = broker.lookupRequest(API_KEYS[api], REQUESTS[api])(args) as { response: object };
    return this.send(broker, { ...req, response: { ...req.response, parse: async (d: unknown) => d } });
  }

  private async send(broker: Broker, req: unknown): Promise<any> {
    try {
      return await broker.connectionPool.send(req);
    } catch (e) {
      throw await afterFailure(broker, e);
    }
  }

  async disconnect(): Promise<void> {
    await this.cluster.disconnect();
  }
}

/**
 * A request failed: as kafkajs's own sends do, a closed connection makes the broker reconnect (and
 * re-authenticate) next time. Returns the error to throw.
 */
export async function afterFailure(broker: Broker, e: unknown): Promise<unknown> {
  if ((e as Error).name === 'KafkaJSConnectionClosedError') await broker.disconnect().catch(() => undefined);
  return e;
}

/** Rejects with the client's own error if it fails, or with a timeout error after `ms`. */
export async function withDeadline(p: Promise<void>, ms: number, cfg: KafkaConfig): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('Connection timeout'), { name: 'KafkaJSConnectionError', code: 'ETIMEDOUT' })), ms);
  });
  try {
    await Promise.race([p, deadline]);
  } catch (e) {
    throw kafkaError(e, { cfg });
  } finally {
    clearTimeout(timer);
  }
}

