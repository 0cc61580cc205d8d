/**
 * The wire under KafkaClient: kafkajs's cluster and broker objects as kstream uses them, the Fetch/Produce/
 * OffsetFetch requests kstream encodes itself (kafka-protocol.ts), protocol errors, and the connection deadline.
 * Split from kafka-client.ts so the consumer, producer and transactions can use it without importing the client
 * that builds them (no import cycle).
 */
import { Buffer } from 'node:buffer';
import { createRequire } from 'node:module';
import type { KafkaConfig } from './kafka-options.js';
import { kafkaError, MissingTopic, Outage } from './kafka-errors.js';
import {
  decodeFetch, decodeProduceResponse, produceRequestParts,
  type FetchContext, type FetchedPartition, type ProducePartitionResult, type ProduceTopicData,
} from './kafka-protocol.js';
import type { Isolation, TopicMeta } from './kafka.js';

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
const UNSTABLE_OFFSET_COMMIT = 88;

export const EARLIEST = -2;
export const LATEST = -1;

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
export const kafkajsRequire = createRequire(import.meta.url);
const API_KEYS: Record<string, number> = kafkajsRequire('kafkajs/src/protocol/requests/apiKeys.js');
const REQUESTS: Record<string, unknown> = kafkajsRequire('kafkajs/src/protocol/requests/index.js').requests;
const ClusterClass: new (opts: object) => Cluster = kafkajsRequire('kafkajs/src/cluster/index.js');
export const LOGGERS: { createLogger(o: { level: number; logCreator: unknown }): unknown; LEVELS: { NOTHING: number; INFO: number } } = kafkajsRequire('kafkajs/src/loggers/index.js');

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
      const { createRequire } = await import('node:module');
      const req = createRequire(import.meta.url);
      errorTable = req('kafkajs/src/protocol/error.js').errorCodes;
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
  return kafkajsRequire('kafkajs/src/consumer/assignerProtocol.js');
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

export interface FetchPartitionRequest {
  topic: string;
  partition: number;
  offset: number;
  maxBytes: number;
}

/** The Fetch request body for versions 4..11. */
function encodeFetchRequest(v: number, isolation: Isolation, maxWaitMs: number, minBytes: number, maxBytes: number, parts: FetchPartitionRequest[]): Buffer {
  const byTopic = new Map<string, FetchPartitionRequest[]>();
  for (const p of parts) {
    let l = byTopic.get(p.topic);
    if (!l) byTopic.set(p.topic, (l = []));
    l.push(p);
  }
  let size = 4 + 4 + 4 + 4 + 1 + (v >= 7 ? 8 : 0) + 4 + (v >= 7 ? 4 : 0) + (v >= 11 ? 2 : 0);
  const perPartition = 4 + (v >= 9 ? 4 : 0) + 8 + (v >= 5 ? 8 : 0) + 4;
  for (const [topic, l] of byTopic) size += 2 + Buffer.byteLength(topic) + 4 + l.length * perPartition;
  const b = Buffer.alloc(size);
  let p = 0;
  b.writeInt32BE(-1, p); // replica id
  b.writeInt32BE(maxWaitMs, p + 4);
  b.writeInt32BE(minBytes, p + 8);
  b.writeInt32BE(maxBytes, p + 12);
  b.writeInt8(isolation === 'read_committed' ? 1 : 0, p + 16);
  p += 17;
  if (v >= 7) {
    b.writeInt32BE(0, p); // session id: no fetch session
    b.writeInt32BE(-1, p + 4); // session epoch: full fetch, no session
    p += 8;
  }
  b.writeInt32BE(byTopic.size, p);
  p += 4;
  for (const [topic, l] of byTopic) {
    const tl = Buffer.byteLength(topic);
    b.writeInt16BE(tl, p);
    p += 2;
    p += b.write(topic, p, tl, 'utf8');
    b.writeInt32BE(l.length, p);
    p += 4;
    for (const part of l) {
      b.writeInt32BE(part.partition, p);
      p += 4;
      if (v >= 9) {
        b.writeInt32BE(-1, p); // current leader epoch: unknown
        p += 4;
      }
      const hi = Math.floor(part.offset / 4294967296);
      b.writeInt32BE(hi, p);
      b.writeUInt32BE(part.offset - hi * 4294967296, p + 4);
      p += 8;
      if (v >= 5) {
        b.writeInt32BE(-1, p); // log start offset (followers only)
        b.writeInt32BE(-1, p + 4);
        p += 8;
      }
      b.writeInt32BE(part.maxBytes, p);
      p += 4;
    }
  }
  if (v >= 7) {
    b.writeInt32BE(0, p); // forgotten topics
    p += 4;
  }
  if (v >= 11) b.writeInt16BE(0, p); // rack id ""
  return b;
}

// ---------------------------------------------------------------------------------------------------------------
// OffsetFetch v7 (flexible: compact strings and arrays, tagged fields). kafkajs writes request header v1; the v2
// header of a flexible request only adds empty tagged fields after the client id, so the body starts with them.

function uvarint(out: number[], v: number): void {
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
}

function compactString(out: number[], s: string): void {
  const b = Buffer.from(s, 'utf8');
  uvarint(out, b.length + 1);
  for (const x of b) out.push(x);
}

function int32(out: number[], v: number): void {
  out.push((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
}

export function encodeOffsetFetchV7(groupId: string, tps: { topic: string; partition: number }[]): Buffer {
  const byTopic = new Map<string, number[]>();
  for (const tp of tps) {
    let l = byTopic.get(tp.topic);
    if (!l) byTopic.set(tp.topic, (l = []));
    l.push(tp.partition);
  }
  const out: number[] = [0]; // request header tagged fields
  compactString(out, groupId);
  uvarint(out, byTopic.size + 1);
  for (const [topic, parts] of byTopic) {
    compactString(out, topic);
    uvarint(out, parts.length + 1);
    for (const p of parts) int32(out, p);
    out.push(0); // tagged fields
  }
  out.push(1); // require_stable
  out.push(0); // tagged fields
  return Buffer.from(out);
}

export interface OffsetFetchResult {
  errorCode: number;
  partitions: { topic: string; partition: number; offset: number; errorCode: number }[];
}

export function decodeOffsetFetchV7(b: Buffer): OffsetFetchResult {
  let p = 0;
  const readUvarint = (): number => {
    let v = 0;
    let shift = 0;
    for (;;) {
      const x = b[p++];
      v += (x & 0x7f) * 2 ** shift;
      if (x < 0x80) return v;
      shift += 7;
    }
  };
  const skipTags = (): void => {
    const n = readUvarint();
    for (let i = 0; i < n; i++) {
      readUvarint();
      p += readUvarint();
    }
  };
  const readCompactString = (): string | null => {
    const n = readUvarint();
    if (n === 0) return null;
    const s = b.toString('utf8', p, p + n - 1);
    p += n - 1;
    return s;
  };
  skipTags(); // response header
  p += 4; // throttle time
  const partitions: OffsetFetchResult['partitions'] = [];
  const ntopics = readUvarint() - 1;
  for (let t = 0; t < ntopics; t++) {
    const topic = readCompactString() ?? '';
    const nparts = readUvarint() - 1;
    for (let i = 0; i < nparts; i++) {
      const partition = b.readInt32BE(p);
      const offset = b.readInt32BE(p + 4) * 4294967296 + b.readUInt32BE(p + 8);
      p += 4 + 8 + 4; // partition, committed offset, leader epoch
      readCompactString(); // metadata
      const errorCode = b.readInt16BE(p);
      p += 2;
      skipTags();
      partitions.push({ topic, partition, offset, errorCode });
    }
    skipTags();
  }
  const errorCode = b.readInt16BE(p);
  return { errorCode, partitions };
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

