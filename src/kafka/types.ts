/**
 * The Kafka client as kstream sees it: connect, metadata and admin operations, a consumer that yields fetched
 * batches, a producer that sends batches and resolves on ack. Commands and the Kafka source/sink use only this
 * interface; kafka/client/client.ts implements it over the transport (kafka/transport/, the only code that imports
 * a client library), so another library can be swapped in behind `openKafka`.
 *
 * Offsets are JS numbers (exact to 2^53). Record data travels as columns (see kafka/protocol/records.ts) so a fetch of
 * 50 000 records is not 50 000 objects before kstream turns them into records.
 */
import type { LineSpans } from '../pipeline/spans.js';
import type { KafkaConfig } from './config.js';
import type { Bytes, CompressionName, FetchedPartition, OutHeader } from './protocol/records.js';
import type { ConfigAlteration, Isolation } from './protocol/requests.js';

export type { FetchedPartition, RecordColumns, RawHeader, Bytes, OutHeader, CompressionName } from './protocol/records.js';
export type { Isolation };

export interface TopicPartition {
  topic: string;
  partition: number;
}

export interface TopicPartitionOffset extends TopicPartition {
  offset: number;
}

export interface PartitionMeta {
  partition: number;
  leader: number;
  replicas: number[];
  isr: number[];
}

export interface TopicMeta {
  topic: string;
  partitions: PartitionMeta[];
}

export interface BrokerMeta {
  nodeId: number;
  host: string;
  port: number;
}

/** Earliest and end offsets of a partition; `end` is the high watermark (last stable offset under read_committed). */
export interface PartitionOffsets {
  partition: number;
  start: number;
  end: number;
}

export interface ConfigEntry {
  name: string;
  value: string | null;
  isDefault: boolean;
  isSensitive: boolean;
  /** Set on the topic itself, not inherited from the broker's settings or Kafka's defaults. */
  fromTopic: boolean;
}

export type { ConfigAlteration };

export interface GroupListing {
  groupId: string;
  protocolType: string;
}

export interface GroupDescription {
  groupId: string;
  state: string;
  protocol: string;
  members: { memberId: string; clientId: string; host: string; assignment: TopicPartition[] }[];
}

export interface ConsumerOptions {
  topics: string[];
  /** Only these partitions (every partition when absent). */
  partitions?: number[];
  /** Join this consumer group: partitions are assigned by the group, offsets can be committed. */
  group?: string;
  /**
   * Static group membership (KIP-345, group.instance.id): a member restarted with the same id takes its place
   * back at once, without waiting for the old session to time out and without a rebalance.
   */
  instanceId?: string;
  isolation: Isolation;
  /**
   * Where to start in newly assigned partitions. `committed` holds the group's committed offsets (group mode only;
   * partitions without one are absent). Returns the next offset to read per partition, keyed by `tpKey`.
   */
  start(partitions: TopicPartition[], committed: Map<string, number> | undefined): Promise<Map<string, number>>;
  /** Stop reading a partition at this offset (exclusive), keyed by `tpKey`; the consumer ends when all are reached. */
  stopAt?: Map<string, number>;
  /** Bytes per fetch response and per partition in it; longest wait of the broker for data. */
  maxBytes?: number;
  maxPartitionBytes?: number;
  maxWaitMs?: number;
  /** Called with newly assigned partitions before their committed offsets are read (exactly-once fencing). */
  onAssign?(partitions: TopicPartition[]): Promise<void>;
  /** Read committed offsets with require_stable: wait for transactions still committing offsets (exactly-once). */
  stableOffsets?: boolean;
  /**
   * Group mode, around a rejoin while partitions are assigned: `before` (awaited before the JoinGroup) finishes
   * what is in flight for them; `after` gets the partitions the group took away (none when the rejoin failed),
   * before the fetch loops start again. Exactly-once commits its open transaction in between, so a rebalance
   * never fences a live member.
   */
  rebalance?: { before(): Promise<void>; after(revoked: TopicPartition[]): void };
}

export interface KafkaConsumer {
  /** One array per fetch response (partitions with records only). Ends when every partition reached `stopAt`. */
  batches(): AsyncIterable<FetchedPartition[]>;
  /** Commits next-offsets to read (group mode); offsets of partitions no longer assigned are dropped. */
  commit(offsets: TopicPartitionOffset[]): Promise<void>;
  /** Partitions currently assigned (after the first batch or join). */
  assignment(): TopicPartition[];
  /**
   * Whether the partition of a fetched response is still assigned as it was when it was fetched: records fetched
   * before a rebalance took it away (and maybe gave it back) belong to an ownership that ended.
   */
  owns(fp: FetchedPartition): boolean;
  /** Per assigned partition: the next offset to fetch and the end of its log as of its last fetch (for lag). */
  progress?(): PartitionProgress[];
  /** From now on, reading ends at these offsets (`tpKey` → next offset), as with `stopAt` from the start. */
  stopAt?(ends: Map<string, number>): void;
  close(): Promise<void>;
}

export interface PartitionProgress extends TopicPartition {
  fetched: number;
  end: number | undefined;
}

/** Records for one topic, as columns. `partitions[i]` = -1 lets the producer choose (key hash, else sticky). */
export interface OutBatch {
  count: number;
  keys: Bytes[];
  values: Bytes[];
  /** When set, the values are these input lines, as they are, and `values` is unused. */
  lines?: LineSpans;
  /** Every string value is ASCII (written as Latin-1, which is faster than UTF-8 and gives the same bytes). */
  asciiValues?: boolean;
  timestamps: number[];
  partitions: number[] | undefined;
  headers: (OutHeader[] | undefined)[] | undefined;
  /** Value bytes of the batch, when the writer counted them already (what batch limits are compared with). */
  bytes?: number;
}

export interface ProducerOptions {
  /** -1 = all in-sync replicas, 1 = leader only, 0 = no acknowledgement. */
  acks: -1 | 0 | 1;
  compression: CompressionName;
  /** Largest record batch in bytes (before compression). */
  batchBytes: number;
  /** Most records in one record batch. */
  batchRecords: number;
  timeoutMs?: number;
  /**
   * Longest a send waits for later ones to share its request (0 = every send is its own request). A send after a
   * quiet spell goes at once; a steady stream goes out about once per `lingerMs`.
   */
  lingerMs?: number;
  /**
   * Longest a send may take, retries included, before it fails (Java's delivery.timeout.ms); default: retried as
   * long as an outage is young. A send that failed this way may still have been written (a request in flight).
   */
  deliveryTimeoutMs?: number;
}

export interface KafkaProducer {
  /** Resolves once the broker acknowledged every record (or at once after writing, with acks 0). */
  send(topic: string, batch: OutBatch): Promise<void>;
  close(): Promise<void>;
}

/**
 * A transactional producer for one transactional id (exactly-once, kafka/connect/exactly-once.ts). `init` takes the id (fencing
 * earlier holders), `send` writes into the open transaction, `commit` adds a group's offsets and commits.
 */
export interface TransactionalProducer {
  init(): Promise<void>;
  send(topic: string, batch: OutBatch): Promise<void>;
  commit(group: string, offsets: TopicPartitionOffset[]): Promise<void>;
  abort(): Promise<void>;
}

export interface CreateTopicOptions {
  partitions?: number;
  replicationFactor?: number;
  configs?: Record<string, string>;
}

export interface KafkaClient {
  readonly config: KafkaConfig;
  /** Connections to the brokers restored after an outage, so far (its consumer's and producers' alike). */
  reconnects?(): number;
  /** While the brokers cannot be reached (an outage its consumer or producers are retrying through): why. */
  unreachable?(): string | undefined;
  /** Connects to the bootstrap brokers; fails within seconds with one clear line. */
  connect(): Promise<void>;
  /** Metadata of these topics (all topics when absent); a missing topic is a MissingTopic error. */
  topics(names?: string[]): Promise<TopicMeta[]>;
  brokers(): Promise<{ brokers: BrokerMeta[]; controller: number; clusterId: string }>;
  topicExists(name: string): Promise<boolean>;
  offsets(topic: string, isolation?: Isolation): Promise<PartitionOffsets[]>;
  /** First offset with a timestamp ≥ ts per partition; the end offset where there is none. */
  offsetsForTime(topic: string, ts: number, isolation?: Isolation): Promise<Map<number, number>>;
  createTopic(topic: string, opts: CreateTopicOptions): Promise<void>;
  deleteTopics(topics: string[]): Promise<void>;
  topicConfigs(topic: string): Promise<ConfigEntry[]>;
  /**
   * Sets or removes single configs of a topic, the others untouched (IncrementalAlterConfigs), and returns the
   * topic's configs once they show the change; `validateOnly`: the broker checks them, changes nothing, and nothing
   * is returned. Refusals keep the broker's words.
   */
  alterTopicConfigs(topic: string, changes: ConfigAlteration[], validateOnly: boolean): Promise<ConfigEntry[] | undefined>;
  /** Grows a topic to `count` partitions in total; `validateOnly`: the broker checks it and changes nothing. */
  createPartitions(topic: string, count: number, validateOnly: boolean): Promise<void>;
  /**
   * One setting of a topic (its value, or null when unset or sensitive), asked on the connection to the topic's
   * first leader — the one a producer opens anyway — without the admin client.
   */
  topicConfig(topic: string, name: string): Promise<string | null>;
  /** One setting of a broker the client is connected to (`num.partitions`: what a new topic gets by default). */
  brokerConfig(name: string): Promise<string | null>;
  listGroups(): Promise<GroupListing[]>;
  describeGroups(groupIds: string[]): Promise<GroupDescription[]>;
  /** Committed offsets of a group (-1 = none), for these topics or all the group has committed. */
  committedOffsets(group: string, topics?: string[]): Promise<TopicPartitionOffset[]>;
  /** Overwrites committed offsets; the group must have no active members. */
  setCommittedOffsets(group: string, offsets: TopicPartitionOffset[]): Promise<void>;
  deleteGroups(groupIds: string[]): Promise<void>;
  consumer(opts: ConsumerOptions): KafkaConsumer;
  producer(opts: ProducerOptions): KafkaProducer;
  /** `what` names the producer in errors ("input partition `in/3`"). */
  transactionalProducer(transactionalId: string, opts: ProducerOptions, what: string): TransactionalProducer;
  close(): Promise<void>;
}

/**
 * Whether a config value the broker reports is the one asked for: the broker stores its own spelling of some
 * (`+100` → `100`, `TRUE` → `true`, `delete, compact` → `delete,compact`).
 */
export function sameConfigValue(stored: string | null | undefined, asked: string | null | undefined): boolean {
  if (stored === asked) return true;
  if (stored == null || asked == null) return false;
  const norm = (v: string) => v.replace(/\s+/g, '').toLowerCase();
  if (norm(stored) === norm(asked)) return true;
  return asked.trim() !== '' && Number.isFinite(Number(asked)) && Number(stored) === Number(asked);
}

export function tpKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

