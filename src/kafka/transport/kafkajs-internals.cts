/**
 * The modules of kafkajs's src/ that kafkajs.ts uses (it says why), required with literal paths: a bundler
 * (`bun build --compile`, npm run build:bin) embeds only the modules it can see, and from a CommonJS file these load
 * as plain requires — cheaper than an ES import of each (measured: 20-60 ms more to load the transport that way).
 * The ones only some runs need load on first use.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
const internals = {
  apiKeys: require('kafkajs/src/protocol/requests/apiKeys.js') as Record<string, number>,
  requests: require('kafkajs/src/protocol/requests/index.js').requests as Record<string, unknown>,
  Cluster: require('kafkajs/src/cluster/index.js') as new (opts: object) => unknown,
  loggers: require('kafkajs/src/loggers/index.js') as { createLogger(o: { level: number; logCreator: unknown }): unknown; LEVELS: { NOTHING: number; INFO: number } },
  errorCodes: (): { code: number; type: string; message: string; retriable: boolean }[] => require('kafkajs/src/protocol/error.js').errorCodes,
  assignerProtocol: (): unknown => require('kafkajs/src/consumer/assignerProtocol.js'),
  socketFactory: (): (() => (args: unknown) => any) => require('kafkajs/src/network/socketFactory.js'),
  RequestQueue: (): { prototype: any } => require('kafkajs/src/network/requestQueue/index.js'),
  /** The whole library, for its admin client. */
  library: (): { Kafka: new (o: object) => unknown } => require('kafkajs'),
};
export = internals;
