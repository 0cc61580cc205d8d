import fs from 'node:fs';
import process from 'node:process';
import type { CommandSpec, Opts } from '../src/pipeline/command.js';
import { RuntimeError, UsageError } from '../src/pipeline/errors.js';
import { CONNECTION_OPTIONS, connectionConfig } from '../src/kafka/config.js';
import { kafkaLog } from './consume.js';

/** The Kafka connection options serve passes on to its pipeline; its own --tls-cert/--tls-key are the HTTPS server's. */
const KAFKA_OPTIONS = CONNECTION_OPTIONS.filter((o) => !/--tls-(cert|key)\b/.test(o.flags));
const FORWARDED = ['brokers', 'profile', 'clientId', 'saslMechanism', 'saslUsername', 'saslPasswordFile', 'tls', 'tlsCa', 'tlsInsecure'];

/** `clientId` → `--client-id`. */
const flagOf = (name: string) => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** The connection options given to serve, as words for the consume and produce segments of its pipeline. */
function connectionWords(opts: Opts): string[] {
  const words: string[] = [];
  for (const name of FORWARDED) {
    const v = opts[name];
    if (v === undefined || v === false) continue;
    if (v === true) words.push(flagOf(name));
    else words.push(flagOf(name), String(v));
  }
  for (const x of [opts.X ?? []].flat()) words.push('-X', String(x));
  return words;
}

const serve: CommandSpec = {
  name: 'serve',
  args: '',
  summary: 'An HTTP gateway in front of a pipeline: clients start streams, send records over REST or WebSocket, get results over SSE or WebSocket',
  examples: [
    'kstream serve --api-keys keys.txt --port 8080',
    `kstream serve --api-keys keys.txt --pipeline "filter 'r.ok' + map '({...r, seen: Date.now()})'"`,
    'kstream serve --api-keys keys.txt --tables page-counts --rate 100 --burst 200',
  ],
  notes: [
    'Endpoints: POST /stream/start → {stream_id, send_url, results_url, ws_url, end_url}; POST /stream/{id}/send (a JSON record, or NDJSON lines: 202 once Kafka acknowledged them); GET /stream/{id}/results (Server-Sent Events, the event id is the output offset: Last-Event-ID or ?from=<id> resumes with no gap, ?from=-1 from the stream\'s start); GET /stream/{id}/ws (WebSocket both ways: send {"type":"send","data":…} or {"type":"send","records":[…]}, get {"type":"ack"}, {"type":"result","id","data"}, {"type":"end"}); POST /stream/{id}/end; GET /tables/{name}/{key}; GET /metrics, /healthz, /readyz; and a live page at /.',
    'Keys file: one key per line, `[name] key` or `[name] sha256:<hex>` (the key\'s SHA-256, e.g. `printf %s "$KEY" | sha256sum`); keys are kept hashed, compared in constant time and never logged. Clients send `Authorization: Bearer <key>` or `X-API-Key: <key>`; EventSource and WebSocket clients may use ?access_token=<key> on the results and ws routes only. A stream belongs to the key that started it (403 for any other).',
    'Records of a stream go to <topic>-in keyed by the stream id (so one stream is one partition, in order), through the pipeline (a consumer group <topic>-pipeline: run several gateways and they share the work), to <topic>-out; every gateway reads <topic>-out whole and hands each stream\'s results to its own subscribers, so any gateway serves any stream.',
    'Limits: --rate/--burst is a token bucket per key over requests (429 with Retry-After and RateLimit headers); --max-streams and --max-subscribers are per key on this process; a body over --max-body is 413; a subscriber whose unsent results pass --max-buffer is disconnected (it resumes by its last event id).',
  ],
  options: [
    { flags: '--port <n>', kind: 'int', default: 8080, description: 'Port to listen on (0: a free one, shown on stderr)' },
    { flags: '--workers <n>', kind: 'int', default: 1, description: 'Gateway processes sharing the port (node:cluster; Node only): each a whole gateway, so rate limits and caps are per worker' },
    { flags: '--host <addr>', default: '127.0.0.1', description: 'Address to listen on (0.0.0.0: every interface)' },
    { flags: '--api-keys <file>', kind: 'file', description: 'The API keys, one per line (required)' },
    { flags: '--pipeline <stages>', description: 'Stages every record goes through, joined with + or | (default: none, records come back as sent)' },
    { flags: '--topic <prefix>', default: 'kstream-serve', description: 'Topics <prefix>-in and <prefix>-out (created when missing), consumer group <prefix>-pipeline' },
    { flags: '--partitions <n>', kind: 'int', default: 6, description: 'Partitions of the topics when serve creates them' },
    { flags: '--rate <n>', kind: 'rate', default: '1000/s', description: 'Requests per second per API key' },
    { flags: '--burst <n>', kind: 'int', default: 2000, description: 'Requests a key may make at once above its rate' },
    { flags: '--max-streams <n>', kind: 'int', default: 10000, description: 'Open streams per key on this process' },
    { flags: '--max-subscribers <n>', kind: 'int', default: 10000, description: 'SSE and WebSocket subscribers per key on this process' },
    { flags: '--max-body <size>', kind: 'size', default: '1m', description: 'Largest request body (or WebSocket frame)' },
    { flags: '--max-buffer <size>', kind: 'size', default: '1m', description: 'Unsent results a subscriber may have waiting before it is disconnected' },
    { flags: '--tables <list>', kind: 'list', description: 'Topics served at GET /tables/{name}/{key} (materialised tables, `aggregate --materialize` outputs)' },
    { flags: '--cors <origins>', kind: 'list', description: 'Origins allowed to call the API from a browser (comma list, * for any)' },
    { flags: '--tls-cert <file>', kind: 'file', description: 'PEM certificate: serve HTTPS (with --tls-key)' },
    { flags: '--tls-key <file>', kind: 'file', description: 'PEM key of --tls-cert' },
    ...KAFKA_OPTIONS,
  ],
  async run(args, opts, ctx) {
    if (args.length) throw new UsageError(`serve takes no arguments, got \`${args[0]}\``, 'kstream serve --api-keys keys.txt --port 8080');
    if (opts.apiKeys === undefined) throw new UsageError('serve needs --api-keys <file>', 'one key per line, e.g. `openssl rand -hex 24 > keys.txt`');
    if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) throw new UsageError('HTTPS needs both --tls-cert and --tls-key');
    const port = Number(opts.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`invalid --port \`${opts.port}\``, 'use 0–65535');
    const read = (file: string, what: string) => {
      try {
        return fs.readFileSync(file);
      } catch (e) {
        throw new UsageError(`cannot read ${what} \`${file}\`: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    };
    const [{ ApiKeys }, { startGateway }] = await Promise.all([import('../src/serve/keys.js'), import('../src/serve/start.js')]);
    const keys = ApiKeys.parse(read(opts.apiKeys, '--api-keys').toString('utf8'), opts.apiKeys);
    const tls = opts.tlsCert !== undefined ? { cert: read(opts.tlsCert, '--tls-cert'), key: read(opts.tlsKey, '--tls-key') } : undefined;
    const cfg = connectionConfig(opts, process.env, kafkaLog(opts, ctx));
    for (const [flag, v] of [['--burst', opts.burst], ['--max-streams', opts.maxStreams], ['--max-subscribers', opts.maxSubscribers], ['--partitions', opts.partitions]] as const) {
      if (!Number.isInteger(Number(v)) || Number(v) < 1) throw new UsageError(`invalid ${flag} \`${v}\``, 'use a whole number of 1 or more');
    }
    const workers = Number(opts.workers);
    if (!Number.isInteger(workers) || workers < 1) throw new UsageError(`invalid --workers \`${opts.workers}\``, 'use 1 or more processes (about one per core)');
    const cluster = await import('../src/serve/cluster.js');
    if (workers > 1 && !cluster.isWorker()) return cluster.runWorkers(workers, ctx.stop, ctx.log, ctx.quiet);
    const gw = await startGateway({
      keys, cfg, tls, port, host: String(opts.host), topic: String(opts.topic), partitions: Number(opts.partitions),
      pipeline: opts.pipeline === undefined ? '' : String(opts.pipeline), connection: connectionWords(opts),
      rate: Number(opts.rate), burst: Number(opts.burst), maxStreams: Number(opts.maxStreams), maxSubscribers: Number(opts.maxSubscribers),
      maxBody: Number(opts.maxBody), maxBuffer: Number(opts.maxBuffer), tables: [opts.tables ?? []].flat().map(String), cors: [opts.cors ?? []].flat().map(String),
      commands: ctx.commands, log: ctx.log, quiet: ctx.quiet, worker: cluster.isWorker(),
    });
    if (cluster.isWorker()) cluster.reportServing(gw.url);
    await new Promise<void>((resolve) => {
      if (ctx.stop?.aborted) resolve();
      ctx.stop?.addEventListener('abort', () => resolve(), { once: true });
      gw.failed.then(resolve);
    });
    const failure = gw.failure;
    await gw.close();
    if (failure) throw failure instanceof RuntimeError || failure instanceof UsageError ? failure : new RuntimeError(`serve: ${(failure as Error).message ?? String(failure)}`);
    return 130;
  },
};

export default serve;
