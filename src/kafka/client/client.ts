/**
 * KafkaClient over the transport (kafka/transport/kafkajs.ts, the only code that knows the client library): metadata,
 * offsets, admin requests and groups, and the consumer, producer and transactional producer built on the transport's
 * Wire. The Fetch response and the Produce request — the two messages that carry records — are kstream's own
 * (kafka/protocol/records.ts).
 */
import type { KafkaConfig } from '../config.js';
import { kafkaError, MissingTopic } from '../errors.js';
import { RuntimeError } from '../../pipeline/errors.js';
import type {
  BrokerMeta, ConfigAlteration, ConfigEntry, ConsumerOptions, CreateTopicOptions, GroupDescription, GroupListing, Isolation, KafkaClient,
  KafkaConsumer, KafkaProducer, PartitionOffsets, ProducerOptions, TopicMeta, TopicPartitionOffset, TransactionalProducer,
} from '../types.js';
import { sameConfigValue } from '../types.js';
import { assignerProtocol, EARLIEST, kafkajsOptions, LATEST, openAdmin, protocolError, Wire, type Admin, type KafkajsOptions } from '../transport/kafkajs.js';
import { WireConsumer } from './consumer.js';
import { WireProducer } from './producer.js';
import { TxnProducer } from './transactions.js';


/** DescribeConfigs' config source of a config set on the topic itself. */
const TOPIC_CONFIG_SOURCE = 1;
/** How long a change may take to show in what the broker answers (KRaft brokers apply the controller's log after it answers). */
const SETTLE_MS = 10_000;
/** kafkajs error types of a partition whose leader is not there yet (or moved): worth asking again. */
const LEADER_MOVING = /^(NOT_LEADER_FOR_PARTITION|NOT_LEADER_OR_FOLLOWER|LEADER_NOT_AVAILABLE|UNKNOWN_TOPIC_OR_PARTITION)$/;

/** Asks `read` until `done` holds of its answer (or SETTLE_MS passed); the last answer. */
async function settled<T>(read: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + SETTLE_MS;
  let v = await read();
  while (!done(v) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    v = await read();
  }
  return v;
}

export class KafkajsClient implements KafkaClient {
  private readonly options: KafkajsOptions;
  private wireInstance: Wire | undefined;
  private adminInstance: Promise<Admin> | undefined;

  constructor(readonly config: KafkaConfig) {
    this.options = kafkajsOptions(config);
  }

  reconnects(): number {
    return this.wireInstance?.outage.reconnects ?? 0;
  }

  unreachable(): string | undefined {
    return this.wireInstance?.outage.reason;
  }

  get wire(): Wire {
    if (!this.wireInstance) this.wireInstance = new Wire(this.options, this.config);
    return this.wireInstance;
  }

  private admin(): Promise<Admin> {
    this.adminInstance ??= openAdmin(this.options, this.config);
    return this.adminInstance;
  }

  private fail(e: unknown, topic?: string, group?: string): never {
    throw kafkaError(e, { cfg: this.config, topic, group });
  }

  async connect(): Promise<void> {
    await this.wire.connect();
  }

  async topics(names?: string[]): Promise<TopicMeta[]> {
    const admin = await this.admin();
    if (names) {
      const existing = new Set(await admin.listTopics().catch((e) => this.fail(e)));
      for (const n of names) if (!existing.has(n)) throw new MissingTopic(n);
    }
    const md = await admin.fetchTopicMetadata(names ? { topics: names } : undefined).catch((e) => this.fail(e, names?.[0]));
    return md.topics
      .map((t) => ({
        topic: t.name,
        partitions: t.partitions
          .map((p) => ({ partition: p.partitionId, leader: p.leader, replicas: p.replicas, isr: p.isr }))
          .sort((a, b) => a.partition - b.partition),
      }))
      .sort((a, b) => a.topic.localeCompare(b.topic));
  }

  async brokers(): Promise<{ brokers: BrokerMeta[]; controller: number; clusterId: string }> {
    const admin = await this.admin();
    const c = await admin.describeCluster().catch((e) => this.fail(e));
    return { brokers: c.brokers.map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port })), controller: c.controller ?? -1, clusterId: c.clusterId };
  }

  /**
   * One Metadata request for the topic on the client's own connection (not the admin's list of every topic, on a
   * second connection): produce starts sending one or two round trips sooner, with the partitions its first
   * request needs already known. A name the broker refuses as invalid counts as missing (creating it then says why).
   */
  async topicExists(name: string): Promise<boolean> {
    try {
      await this.wire.partitions(name);
      return true;
    } catch (e) {
      if (e instanceof MissingTopic) return false;
      if ((e as { type?: string }).type === 'INVALID_TOPIC_EXCEPTION' || /INVALID_TOPIC/.test(String((e as Error).message))) return false;
      throw e;
    }
  }

  async offsets(topic: string, isolation: Isolation = 'read_uncommitted'): Promise<PartitionOffsets[]> {
    const deadline = Date.now() + SETTLE_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        const meta = await this.wire.partitions(topic, attempt > 0);
        const parts = meta.partitions.map((p) => p.partition);
        const [start, end] = await Promise.all([
          this.wire.listOffsets(topic, parts, EARLIEST, isolation),
          this.wire.listOffsets(topic, parts, LATEST, isolation),
        ]);
        return parts.map((partition) => ({ partition, start: start.get(partition) ?? 0, end: end.get(partition) ?? 0 }));
      } catch (e) {
        // a topic created a moment ago has no leaders yet (NOT_LEADER…, LEADER_NOT_AVAILABLE): ask again
        if (!LEADER_MOVING.test(String((e as { type?: string }).type ?? '')) || Date.now() > deadline) this.fail(e, topic);
        await new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** attempt)));
      }
    }
  }

  async offsetsForTime(topic: string, ts: number, isolation: Isolation = 'read_uncommitted'): Promise<Map<number, number>> {
    try {
      const meta = await this.wire.partitions(topic);
      const parts = meta.partitions.map((p) => p.partition);
      const [at, end] = await Promise.all([
        this.wire.listOffsets(topic, parts, ts, isolation),
        this.wire.listOffsets(topic, parts, LATEST, isolation),
      ]);
      const out = new Map<number, number>();
      for (const p of parts) {
        const o = at.get(p) ?? -1;
        out.set(p, o < 0 ? end.get(p) ?? 0 : o);
      }
      return out;
    } catch (e) {
      this.fail(e, topic);
    }
  }

  async createTopic(topic: string, opts: CreateTopicOptions): Promise<void> {
    const admin = await this.admin();
    try {
      await admin.createTopics({
        waitForLeaders: true,
        topics: [{
          topic,
          numPartitions: opts.partitions ?? -1,
          replicationFactor: opts.replicationFactor ?? -1,
          configEntries: opts.configs ? Object.entries(opts.configs).map(([name, value]) => ({ name, value })) : undefined,
        }],
      });
    } catch (e) {
      const err = e as { errors?: { type?: string; message?: string }[] };
      const inner = err.errors?.[0];
      if (inner?.type === 'TOPIC_ALREADY_EXISTS') return;
      if (inner) {
        // the broker says what is wrong ("Unknown topic config name: x"); kafkajs keeps only the code's text
        const why = await this.refusal(topic, 'CreateTopics', {
          topics: [{ topic, numPartitions: opts.partitions ?? -1, replicationFactor: opts.replicationFactor ?? -1, configEntries: opts.configs ? Object.entries(opts.configs).map(([name, value]) => ({ name, value })) : [] }],
        }).catch(() => undefined);
        this.fail(Object.assign(new Error(why ?? inner.message ?? String(e)), { type: inner.type }), topic);
      }
      this.fail(e, topic);
    }
  }

  /** The broker's own words for refusing this topic: the same CreateTopics, validate-only (changes nothing). */
  /**
   * The broker's own words for refusing a topic request (kafkajs keeps only the error code's text): the same request
   * again, validate-only, to the controller.
   */
  private async refusal(topic: string, apiName: 'CreateTopics' | 'CreatePartitions', body: object): Promise<string | undefined> {
    await this.wire.connect();
    await this.wire.refresh();
    const md = this.wire.cluster.brokerPool.metadata!;
    const broker = await this.wire.broker(md.controllerId >= 0 ? md.controllerId : md.brokers[0].nodeId);
    const res = await this.wire.callDecoded(broker, apiName, { validateOnly: true, timeout: 5000, ...body });
    const t = (res.topicErrors ?? res.topics ?? []).find((x: { topic?: string; name?: string }) => (x.topic ?? x.name) === topic);
    return t?.errorMessage || undefined;
  }

  async deleteTopics(topics: string[]): Promise<void> {
    const admin = await this.admin();
    const existing = new Set(await admin.listTopics().catch((e) => this.fail(e)));
    for (const t of topics) if (!existing.has(t)) throw new MissingTopic(t);
    await admin.deleteTopics({ topics }).catch((e) => this.fail(e, topics[0]));
  }

  async topicConfigs(topic: string): Promise<ConfigEntry[]> {
    const admin = await this.admin();
    const res = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2 /* TOPIC */, name: topic }] }).catch((e) => this.fail(e, topic));
    const r = res.resources[0];
    if (r.errorCode) this.fail(await protocolError(r.errorCode), topic);
    return r.configEntries
      .map((c) => ({
        name: c.configName,
        value: c.isSensitive ? null : c.configValue,
        isDefault: c.isDefault,
        isSensitive: c.isSensitive,
        // DescribeConfigs v0 (before Kafka 1.1) has no source: there, "not a default" is the nearest
        fromTopic: c.configSource === undefined ? !c.isDefault : c.configSource === TOPIC_CONFIG_SOURCE,
      }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  async alterTopicConfigs(topic: string, changes: ConfigAlteration[], validateOnly: boolean): Promise<ConfigEntry[] | undefined> {
    try {
      const meta = await this.wire.partitions(topic);
      const broker = await this.wire.broker(meta.partitions[0].leader);
      const [r] = await this.wire.incrementalAlterConfigs(broker, [{ type: 2 /* TOPIC */, name: topic, configs: changes }], validateOnly);
      if (r?.errorCode) {
        const why = await protocolError(r.errorCode, topic);
        // the broker's own words ("Unknown topic config name: x"), not the code's generic text
        throw Object.assign(new Error(r.errorMessage || why.message), { type: why.type });
      }
    } catch (e) {
      this.fail(e, topic);
    }
    if (validateOnly) return undefined;
    // so that what runs next (a describe, a producer) sees the change
    return settled(() => this.topicConfigs(topic), (entries) => changes.every((c) => {
      const e = entries.find((x) => x.name === c.name);
      if (!e) return true;
      return c.op === 'delete' ? !e.fromTopic : e.isSensitive || sameConfigValue(e.value, c.value);
    }));
  }

  async createPartitions(topic: string, count: number, validateOnly: boolean): Promise<void> {
    const admin = await this.admin();
    try {
      await admin.createPartitions({ validateOnly, topicPartitions: [{ topic, count }] });
    } catch (e) {
      const type = (e as { type?: string }).type ?? ((e as { cause?: { type?: string } }).cause)?.type;
      if (type) {
        // as for createTopic: kafkajs keeps only the code's text ("Number of partitions is invalid")
        const why = await this.refusal(topic, 'CreatePartitions', { topicPartitions: [{ topic, count }] }).catch(() => undefined);
        this.fail(Object.assign(new Error(why ?? (e as Error).message), { type }), topic);
      }
      this.fail(e, topic);
    }
    if (validateOnly) return;
    await settled(() => this.wire.partitions(topic, true), (meta) => meta.partitions.length >= count && meta.partitions.every((p) => p.leader >= 0));
  }

  async topicConfig(topic: string, name: string): Promise<string | null> {
    try {
      const meta = await this.wire.partitions(topic);
      const broker = await this.wire.broker(meta.partitions[0].leader);
      const res = await this.wire.call(broker, 'DescribeConfigs', { includeSynonyms: false, resources: [{ type: 2 /* TOPIC */, name: topic, configNames: [name] }] });
      const entry = (res.resources[0]?.configEntries ?? []).find((c: { configName: string }) => c.configName === name);
      return entry && !entry.isSensitive ? entry.configValue : null;
    } catch (e) {
      this.fail(e, topic);
    }
  }

  async brokerConfig(name: string): Promise<string | null> {
    try {
      await this.wire.connect();
      await this.wire.refresh();
      const id = this.wire.cluster.brokerPool.metadata!.brokers[0].nodeId;
      const res = await this.wire.call(await this.wire.broker(id), 'DescribeConfigs', { includeSynonyms: false, resources: [{ type: 4 /* BROKER */, name: String(id), configNames: [name] }] });
      const entry = (res.resources[0]?.configEntries ?? []).find((c: { configName: string }) => c.configName === name);
      return entry && !entry.isSensitive ? entry.configValue : null;
    } catch (e) {
      this.fail(e);
    }
  }

  async listGroups(): Promise<GroupListing[]> {
    const admin = await this.admin();
    const res = await admin.listGroups().catch((e) => this.fail(e));
    return res.groups.map((g) => ({ groupId: g.groupId, protocolType: g.protocolType })).sort((a, b) => a.groupId.localeCompare(b.groupId));
  }

  async describeGroups(groupIds: string[]): Promise<GroupDescription[]> {
    const admin = await this.admin();
    const AssignerProtocol = assignerProtocol();
    const res = await admin.describeGroups(groupIds).catch((e) => this.fail(e, undefined, groupIds[0]));
    return res.groups.map((g) => ({
      groupId: g.groupId,
      state: g.state,
      protocol: g.protocol,
      members: g.members.map((m) => {
        let assignment: { topic: string; partition: number }[] = [];
        try {
          const a = m.memberAssignment?.length ? AssignerProtocol.MemberAssignment.decode(m.memberAssignment) : null;
          if (a) assignment = Object.entries(a.assignment).flatMap(([topic, ps]) => (ps as number[]).map((partition) => ({ topic, partition })));
        } catch {
          // another client's assignment format: leave it out
        }
        return { memberId: m.memberId, clientId: m.clientId, host: m.clientHost, assignment };
      }),
    }));
  }

  async committedOffsets(group: string, topics?: string[]): Promise<TopicPartitionOffset[]> {
    const admin = await this.admin();
    const res = await admin.fetchOffsets({ groupId: group, topics }).catch((e) => this.fail(e, topics?.[0], group));
    return res.flatMap((t) => t.partitions.map((p) => ({ topic: t.topic, partition: p.partition, offset: Number(p.offset) })));
  }

  async setCommittedOffsets(group: string, offsets: TopicPartitionOffset[]): Promise<void> {
    // A commit outside any generation (-1, no member id): what an admin reset does, accepted only while the group
    // has no members. (kafkajs's admin.setOffsets joins the group with a consumer instead, which takes seconds.)
    const byTopic = new Map<string, { partition: number; offset: string }[]>();
    for (const o of offsets) {
      let l = byTopic.get(o.topic);
      if (!l) byTopic.set(o.topic, (l = []));
      l.push({ partition: o.partition, offset: String(o.offset) });
    }
    try {
      await this.wire.connect();
      const coordinator = await this.wire.coordinator(group);
      await coordinator.offsetCommit({
        groupId: group,
        groupGenerationId: -1,
        memberId: '',
        topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
      });
    } catch (e) {
      const type = (e as { type?: string }).type;
      if (type === 'UNKNOWN_MEMBER_ID' || type === 'ILLEGAL_GENERATION' || type === 'REBALANCE_IN_PROGRESS') {
        throw new RuntimeError(`group \`${group}\` is active`, 'stop its consumers first: offsets can only be reset while the group is empty');
      }
      this.fail(e, offsets[0]?.topic, group);
    }
  }

  async deleteGroups(groupIds: string[]): Promise<void> {
    const admin = await this.admin();
    await admin.deleteGroups(groupIds).catch((e) => this.fail(e, undefined, groupIds[0]));
  }

  consumer(opts: ConsumerOptions): KafkaConsumer {
    return new WireConsumer(this.wire, opts);
  }

  producer(opts: ProducerOptions): KafkaProducer {
    return new WireProducer(this.wire, opts);
  }

  transactionalProducer(transactionalId: string, opts: ProducerOptions, what: string): TransactionalProducer {
    return new TxnProducer(this.wire, transactionalId, opts, what);
  }

  async close(): Promise<void> {
    const tasks: Promise<unknown>[] = [];
    if (this.wireInstance) tasks.push(this.wireInstance.disconnect());
    if (this.adminInstance) tasks.push(this.adminInstance.then((a) => a.disconnect(), () => undefined));
    await Promise.allSettled(tasks);
  }
}
