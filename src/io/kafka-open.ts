/**
 * The one way to get a KafkaClient: its implementation (kafka-client.ts, the only module that knows the client
 * library) loads on first use, so commands that need no Kafka never load it. Apart from kafka.ts, whose interfaces
 * the client implements, so the two do not import each other.
 */
import type { KafkaClient } from './kafka.js';
import type { KafkaConfig } from './kafka-options.js';

/** Opens a client for this configuration (not yet connected). */
export async function openKafka(cfg: KafkaConfig): Promise<KafkaClient> {
  const { KafkajsClient, patchRequestQueue } = await import('./kafka-client.js');
  await patchRequestQueue();
  return new KafkajsClient(cfg);
}
