/**
 * The one way to get a KafkaClient: its implementation (kafka/client/client.ts, over the transport — the only
 * code that knows the client library) loads on first use, so commands that need no Kafka never load it. Apart from kafka/types.ts, whose interfaces
 * the client implements, so the two do not import each other.
 */
import type { KafkaClient } from '../types.js';
import type { KafkaConfig } from '../config.js';

/** Opens a client for this configuration (not yet connected). */
export async function openKafka(cfg: KafkaConfig): Promise<KafkaClient> {
  const { KafkajsClient } = await import('./client.js');
  return new KafkajsClient(cfg);
}
