import process from 'node:process';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import { Buffer } from 'node:buffer';
import { WebSocketServer, type WebSocket } from 'ws';
import type { KafkaClient, KafkaProducer, OutBatch } from '../kafka/types.js';
import { kafkaError } from '../kafka/errors.js';
import { Registry, type Scalar, type Histogram, CONTENT_TYPE, LATENCY_SECONDS } from '../report/metrics.js';
import { ApiKeys, type ApiKey } from './keys.js';
import { RateLimits } from './ratelimit.js';
import { HttpError, parseRecords, readBody, sendError, sendJson } from './http.js';
import { Busy, END_HEADER, END_VALUE, Hub, type HubEvent, type Subscriber } from './hub.js';
import { PAGE } from './page.js';
import type { LiveTable } from './tables.js';

/**
 * The HTTP side of `kstream serve` (DESIGN.md §4): streams started by API keys, records sent over REST or a
 * WebSocket into the input topic (202 only once Kafka acknowledged them), results fanned out from the output
 * topic over SSE or the WebSocket, materialised tables, metrics, health, and the live page at `/`.
 *
 * Nothing a client sends reaches another key's stream: a stream id carries its owner (keys.ts), every stream
 * route checks it (403), and every failure is a JSON reason with its status — never a stack, never a key.
 */
export interface GatewayOptions {
  keys: ApiKeys;
  client: KafkaClient;
  inTopic: string;
  outTopic: string;
  hub: Hub;
  registry: Registry;
  rate: number;
  burst: number;
  maxStreams: number;
  maxSubscribers: number;
  maxBody: number;
  /** Bytes a subscriber may have waiting to be written before it is disconnected as slow. */
  maxBuffer: number;
  cors: string[];
  tables: Map<string, LiveTable>;
  tls?: { cert: Buffer; key: Buffer };
  /** Whether the pipeline is up (for /readyz). */
  ready(): string | undefined;
  log(line: string): void;
}

const STREAM = /^\/stream\/([^/]+)\/(send|results|ws|end)$/;
const TABLE = /^\/tables\/([^/]+)\/(.+)$/;
const PING_MS = 15_000;
/** A send Kafka has not acknowledged after this long is answered 503 (the client retries; it may then be written twice). */
const SEND_TIMEOUT_MS = 5000;

interface Metrics {
  requests: Scalar;
  recordsSent: Scalar;
  ackSeconds: Histogram;
  subscribers: Scalar;
  results: Scalar;
  slow: Scalar;
  limited: Scalar;
  streams: Scalar;
}

export class Gateway {
  private readonly server: http.Server | https.Server;
  private readonly wss: WebSocketServer;
  private readonly producer: KafkaProducer;
  private readonly limits: RateLimits;
  /** Streams started through this process and not ended, per key name (the --max-streams cap). */
  private readonly started = new Map<string, Set<string>>();
  private readonly subsPerKey = new Map<string, number>();
  private readonly m: Metrics;
  private readonly sockets = new Set<Duplex>();

  constructor(private readonly o: GatewayOptions) {
    this.producer = o.client.producer({ acks: -1, compression: 'none', batchBytes: 1 << 20, batchRecords: 10_000, lingerMs: 1, timeoutMs: 5000, deliveryTimeoutMs: SEND_TIMEOUT_MS });
    this.limits = new RateLimits(o.rate, o.burst);
    // a frame past --max-body closes the socket (1009) as its header is read, before any of it is buffered
    this.wss = new WebSocketServer({ noServer: true, maxPayload: o.maxBody });
    o.hub.onEnd = (id) => {
      for (const mine of this.started.values()) mine.delete(id);
    };
    const r = o.registry;
    this.m = {
      requests: r.counter('kstream_http_requests_total', 'HTTP requests answered, by route and status'),
      recordsSent: r.counter('kstream_gateway_records_sent_total', 'Records clients sent that Kafka acknowledged'),
      ackSeconds: r.histogram('kstream_gateway_ack_seconds', 'Time from a send request to Kafka acknowledging its records', LATENCY_SECONDS),
      subscribers: r.gauge('kstream_gateway_subscribers', 'SSE and WebSocket subscribers connected to this process'),
      results: r.counter('kstream_gateway_results_total', 'Results handed to subscribers'),
      slow: r.counter('kstream_gateway_slow_disconnects_total', 'Subscribers disconnected because their buffer overflowed'),
      limited: r.counter('kstream_gateway_rate_limited_total', 'Requests refused with 429 by the per-key rate limit'),
      streams: r.gauge('kstream_gateway_streams', 'Streams started through this process and not ended'),
    };
    r.collect(() => {
      this.m.subscribers.set(this.o.hub.subscribers());
      let n = 0;
      for (const s of this.started.values()) n += s.size;
      this.m.streams.set(n);
    });
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      this.route(req, res).catch((e) => this.fail(req, res, e));
    };
    this.server = o.tls ? https.createServer({ cert: o.tls.cert, key: o.tls.key }, handler) : http.createServer(handler);
    this.server.keepAliveTimeout = 65_000;
    this.server.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
    this.server.on('connection', (s: Duplex) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    // a client that sends garbage gets a 400 and its socket closed, never an exception
    this.server.on('clientError', (_e, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      else socket.destroy();
    });
  }

  listen(port: number, host: string): Promise<string> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        const a = this.server.address() as { port: number; address: string };
        const h = a.address.includes(':') ? `[${a.address}]` : a.address;
        resolve(`${this.o.tls ? 'https' : 'http'}://${h}:${a.port}`);
      });
    });
  }

  async close(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    const closing = new Promise<void>((r) => this.server.close(() => r()));
    for (const s of this.sockets) s.destroy();
    await closing;
    await this.producer.close().catch(() => undefined);
  }

  /** The request counter's series by route and status, kept: a label set is spelled once, not per request. */
  private readonly counted = new Map<string, { n: number }>();

  private count(route: string, status: number): void {
    const k = `${route} ${status}`;
    let series = this.counted.get(k);
    if (!series) this.counted.set(k, (series = this.m.requests.at({ route, status: String(status) })));
    series.n++;
  }

  private fail(req: IncomingMessage, res: ServerResponse, e: unknown): void {
    const err = e instanceof HttpError ? e : new HttpError(500, `internal error: ${(e as Error)?.message ?? String(e)}`);
    if (!(e instanceof HttpError)) this.o.log(`kstream: serve: ${req.method} ${routeOf(req)}: ${err.message}`);
    this.count(routeOf(req), err.status);
    sendError(res, err);
  }

  private cors(req: IncomingMessage, res: ServerResponse): void {
    const origin = req.headers.origin;
    if (!origin || this.o.cors.length === 0) return;
    if (this.o.cors.includes('*') || this.o.cors.includes(origin)) {
      res.setHeader('access-control-allow-origin', this.o.cors.includes('*') ? '*' : origin);
      res.setHeader('vary', 'origin');
      res.setHeader('access-control-allow-headers', 'authorization, x-api-key, content-type, last-event-id');
      res.setHeader('access-control-allow-methods', 'GET, POST, OPTIONS');
      res.setHeader('access-control-expose-headers', 'retry-after, ratelimit, ratelimit-policy');
    }
  }

  /** The key a request presents, or 401. `?access_token=` only where a browser cannot send headers (SSE, WebSocket). */
  private auth(req: IncomingMessage, url: Target, tokenInQuery: boolean): ApiKey {
    const h = req.headers.authorization;
    let presented: string | undefined;
    if (h !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
      if (!m) throw unauthorized('the Authorization header is not `Bearer <key>`');
      presented = m[1];
    } else if (typeof req.headers['x-api-key'] === 'string') {
      presented = req.headers['x-api-key'];
    } else if (url.searchParams.has('access_token')) {
      if (!tokenInQuery) throw unauthorized('?access_token= is taken only on the results and ws routes; send `Authorization: Bearer <key>`');
      presented = url.searchParams.get('access_token')!;
    }
    if (presented === undefined) throw unauthorized('no API key: send `Authorization: Bearer <key>` or `X-API-Key: <key>`');
    const key = this.o.keys.find(presented);
    if (!key) throw unauthorized('the API key is not valid');
    return key;
  }

  /** Takes a token of the key's bucket: 429 with Retry-After and the RateLimit headers when it is empty. */
  private limit(key: ApiKey): void {
    const now = Date.now();
    const b = this.limits.bucket(key.name, now);
    const wait = b.take(now);
    if (wait > 0) {
      const policy = `${this.o.burst};w=${Math.max(1, Math.round(this.o.burst / this.o.rate))}`;
      this.m.limited.inc(1, { key: key.name });
      const retry = String(Math.max(1, Math.ceil(wait)));
      throw new HttpError(429, `rate limit: ${this.o.rate} requests/s with bursts of ${this.o.burst} for this key; retry in ${wait.toFixed(2)} s`, {
        'retry-after': retry, ratelimit: `limit=${this.o.burst}, remaining=0, reset=${retry}`, 'ratelimit-policy': policy,
      });
    }
  }

  /** The stream a route names, checked against the key: 404 for no such id, 403 for another key's. */
  private stream(id: string, key: ApiKey): string {
    if (!ApiKeys.wellFormed(id)) throw new HttpError(404, `no stream \`${id.slice(0, 80)}\`: stream ids come from POST /stream/start`);
    if (!this.o.keys.owns(key, id)) throw new HttpError(403, 'this stream belongs to another API key');
    return id;
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = targetOf(req.url ?? '/');
    const path = url.pathname;
    this.cors(req, res);
    if (req.method === 'OPTIONS') {
      res.writeHead(204).end();
      return;
    }
    if (path === '/' || path === '/index.html') {
      onlyGet(req);
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(PAGE), 'cache-control': 'no-cache' });
      res.end(PAGE);
      this.count('/', 200);
      return;
    }
    if (path === '/healthz') {
      onlyGet(req);
      sendJson(res, 200, { ok: true });
      return;
    }
    if (path === '/readyz') {
      onlyGet(req);
      const why = this.o.ready() ?? this.kafkaDown();
      if (why) sendJson(res, 503, { ready: false, reason: why });
      else sendJson(res, 200, { ready: true });
      return;
    }
    if (path === '/metrics') {
      onlyGet(req);
      const body = this.o.registry.expose();
      res.writeHead(200, { 'content-type': CONTENT_TYPE, 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    if (path === '/stream/start') {
      onlyPost(req);
      const key = this.auth(req, url, false);
      this.limit(key);
      const mine = this.started.get(key.name) ?? new Set<string>();
      if (mine.size >= this.o.maxStreams) throw new HttpError(429, `this key has ${mine.size} open streams on this gateway, the most --max-streams allows: end some with POST /stream/{id}/end`);
      const id = this.o.keys.mint(key);
      mine.add(id);
      this.started.set(key.name, mine);
      const base = `/stream/${id}`;
      sendJson(res, 201, { stream_id: id, send_url: `${base}/send`, results_url: `${base}/results`, ws_url: `${base}/ws`, end_url: `${base}/end` });
      this.count('/stream/start', 201);
      return;
    }
    const sm = STREAM.exec(path);
    if (sm) {
      const [, rawId, action] = sm;
      const route = `/stream/{id}/${action}`;
      if (action === 'ws') throw new HttpError(426, 'this route is a WebSocket: connect with `Upgrade: websocket`', { upgrade: 'websocket' });
      if (action === 'results') {
        onlyGet(req);
        const key = this.auth(req, url, true);
        const id = this.stream(rawId, key);
        this.results(req, res, url, key, id);
        this.count(route, 200);
        return;
      }
      onlyPost(req);
      const key = this.auth(req, url, false);
      const id = this.stream(rawId, key);
      this.limit(key);
      if (this.o.hub.isEnded(id)) throw new HttpError(409, 'the stream has ended: start a new one');
      if (action === 'end') {
        await this.end(id);
        this.started.get(key.name)?.delete(id);
        sendJson(res, 200, { stream_id: id, ended: true });
        this.count(route, 200);
        return;
      }
      const body = await readBody(req, this.o.maxBody);
      const records = parseRecords(body, req.headers['content-type']);
      const t0 = performance.now();
      await this.produce(id, records, false);
      this.m.ackSeconds.observe((performance.now() - t0) / 1000);
      this.m.recordsSent.inc(records.length);
      sendJson(res, 202, { accepted: records.length });
      this.count(route, 202);
      return;
    }
    const tm = TABLE.exec(path);
    if (tm) {
      onlyGet(req);
      const key = this.auth(req, url, false);
      this.limit(key);
      const name = decoded(tm[1]);
      const table = this.o.tables.get(name);
      if (!table) throw new HttpError(404, `no table \`${name.slice(0, 80)}\` on this gateway: it serves ${[...this.o.tables.keys()].map((t) => `\`${t}\``).join(', ') || 'none'} (--tables)`);
      if (!table.ready) throw new HttpError(503, `the table \`${name}\` is still loading`, { 'retry-after': '1' });
      const k = decoded(tm[2]);
      const v = table.get(k);
      if (v === undefined) throw new HttpError(404, `the table \`${name}\` has no key \`${k.slice(0, 80)}\``);
      const text = typeof v === 'string' ? v : JSON.stringify(v);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
      this.count('/tables/{name}/{key}', 200);
      return;
    }
    throw new HttpError(404, `no route ${path.slice(0, 120)}: see GET / for the endpoints`);
  }

  /**
   * Why Kafka is not usable now: the client (the output tail's consumer and the send producer share it) is in an
   * outage. The tail fetches all the time, so this turns and clears within a fetch of the brokers going and coming.
   */
  private kafkaDown(): string | undefined {
    const down = this.o.client.unreachable?.();
    return down && `Kafka is unreachable: ${down}`;
  }

  /** Sends records (or the end marker) to the input topic keyed by the stream id; resolves once Kafka acknowledged. */
  private async produce(id: string, records: string[], end: boolean): Promise<void> {
    const n = end ? 1 : records.length;
    const key = Buffer.from(id);
    const now = Date.now();
    const batch: OutBatch = {
      count: n,
      keys: new Array(n).fill(key),
      values: end ? [null] : records,
      timestamps: new Array(n).fill(now),
      partitions: undefined,
      headers: end ? [[{ key: END_HEADER, value: END_VALUE }]] : undefined,
    };
    try {
      await this.producer.send(this.o.inTopic, batch);
    } catch (e) {
      const err = kafkaError(e, { topic: this.o.inTopic });
      throw new HttpError(503, `Kafka did not acknowledge the records: ${err.message}`, { 'retry-after': '1' });
    }
  }

  /** Ends a stream: marked at once (a second end is a 409, not a second marker), then its marker sent through the pipeline. */
  private async end(id: string): Promise<void> {
    this.o.hub.markEnded(id);
    try {
      await this.produce(id, [], true);
    } catch (e) {
      this.o.hub.unmarkEnded(id);
      throw e;
    }
  }

  /** The subscriber cap per key (this process): 429 when it is reached. */
  private checkSubscribers(key: ApiKey): void {
    const n = this.subsPerKey.get(key.name) ?? 0;
    if (n >= this.o.maxSubscribers) throw new HttpError(429, `this key has ${n} subscribers on this gateway, the most --max-subscribers allows`);
  }

  /** A resume the hub cannot read back now (too many read-backs running) is a 503 to retry, checked before answering. */
  private checkResume(id: string, after: number | undefined): void {
    try {
      this.o.hub.checkResume(id, after);
    } catch (e) {
      if (e instanceof Busy) throw new HttpError(503, `cannot resume now: ${e.message}; retry shortly`, { 'retry-after': '1' });
      throw e;
    }
  }

  private subscribe(id: string, after: number | undefined, sub: Subscriber): () => void {
    return this.o.hub.subscribe(id, after, sub);
  }

  /** The subscriber cap per key (this process); returns the release function. */
  private holdSubscriber(key: ApiKey): () => void {
    this.checkSubscribers(key);
    this.subsPerKey.set(key.name, (this.subsPerKey.get(key.name) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.subsPerKey.set(key.name, (this.subsPerKey.get(key.name) ?? 1) - 1);
    };
  }

  /** Where a subscription resumes: Last-Event-ID or ?from= (the last id the client saw), else live from now. */
  private resumeAt(req: IncomingMessage, url: Target): number | undefined {
    const v = req.headers['last-event-id'] ?? url.searchParams.get('from') ?? undefined;
    if (v === undefined || v === '') return undefined;
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < -1) throw new HttpError(400, `the resume point \`${String(v).slice(0, 40)}\` is not an event id (an output offset, or -1 for the stream's start)`);
    return n;
  }

  private results(req: IncomingMessage, res: ServerResponse, url: Target, key: ApiKey, id: string): void {
    const after = this.resumeAt(req, url);
    this.limit(key);
    this.checkResume(id, after);
    const release = this.holdSubscriber(key);
    res.on('error', () => undefined);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.socket?.setNoDelay(true);
    res.write('retry: 1000\n\n');
    const { maxBuffer } = this.o;
    const socket = res.socket;
    let corked = false;
    let off = () => {};
    const stop = () => {
      clearInterval(ping);
      off();
      release();
    };
    const sub: Subscriber = {
      deliver: (ev: HubEvent) => {
        if (res.writableEnded || res.destroyed) return;
        if (ev.kind === 'end') {
          res.end(`id: ${ev.offset}\nevent: end\ndata: {}\n\n`);
          stop();
          return;
        }
        // the results of one fetch go out in one write, not a syscall each
        if (socket && !corked) {
          corked = true;
          socket.cork();
          process.nextTick(() => {
            corked = false;
            socket.uncork();
          });
        }
        res.write(`id: ${ev.offset}\ndata: ${/[\r\n]/.test(ev.data) ? ev.data.replace(/\r\n|\r|\n/g, '\ndata: ') : ev.data}\n\n`);
        this.m.results.inc();
        if (res.writableLength > maxBuffer) {
          // a slow reader: cut it off rather than buffer for it; it resumes by its last event id
          this.m.slow.inc();
          res.destroy();
          stop();
        }
      },
      drop: (reason) => {
        if (!res.writableEnded && !res.destroyed) res.end(`event: error\ndata: ${JSON.stringify({ error: reason })}\n\n`);
        stop();
      },
    };
    const ping = setInterval(() => !res.writableEnded && res.write(': ping\n\n'), PING_MS);
    ping.unref();
    res.on('close', stop);
    try {
      off = this.subscribe(id, after, sub);
    } catch (e) {
      stop();
      throw e;
    }
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Node leaves an upgraded socket's errors to us: a client that resets it must not be an unhandled 'error'
    socket.on('error', () => socket.destroy());
    const url = targetOf(req.url ?? '/');
    const refuse = (e: HttpError) => {
      this.count('/stream/{id}/ws', e.status);
      const body = JSON.stringify({ error: e.message, status: e.status });
      const extra = Object.entries(e.headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
      socket.end(`HTTP/1.1 ${e.status} ${http.STATUS_CODES[e.status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}connection: close\r\n\r\n${body}`);
    };
    let key: ApiKey;
    let id: string;
    let after: number | undefined;
    try {
      const sm = STREAM.exec(url.pathname);
      if (!sm || sm[2] !== 'ws') throw new HttpError(404, `no WebSocket route ${url.pathname.slice(0, 120)}: use /stream/{id}/ws`);
      key = this.auth(req, url, true);
      id = this.stream(sm[1], key);
      after = this.resumeAt(req, url);
      this.limit(key);
      this.checkSubscribers(key);
      this.checkResume(id, after);
    } catch (e) {
      refuse(e instanceof HttpError ? e : new HttpError(500, 'internal error'));
      return;
    }
    // the subscriber's place is taken once the handshake succeeded (ws answers a bad one itself, and never calls back)
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.count('/stream/{id}/ws', 101);
      this.websocket(ws, key, id, after, this.holdSubscriber(key));
    });
  }

  private websocket(ws: WebSocket, key: ApiKey, id: string, after: number | undefined, release: () => void): void {
    const { maxBuffer, maxBody } = this.o;
    const sub: Subscriber = {
      deliver: (ev) => {
        if (ws.readyState !== ws.OPEN) return;
        if (ev.kind === 'end') {
          ws.send(`{"type":"end","id":${ev.offset}}`);
          ws.close(1000, 'stream ended');
          return;
        }
        ws.send(`{"type":"result","id":${ev.offset},"data":${ev.data}}`);
        this.m.results.inc();
        if (ws.bufferedAmount > maxBuffer) {
          this.m.slow.inc();
          ws.terminate();
        }
      },
      drop: (reason) => {
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type: 'error', status: 500, error: reason }));
        ws.close(1011, 'dropped');
      },
    };
    let off: () => void;
    try {
      off = this.subscribe(id, after, sub);
    } catch {
      release();
      ws.close(1013, 'try again later');
      return;
    }
    ws.on('close', () => {
      off();
      release();
    });
    ws.on('error', () => ws.terminate());
    ws.on('message', (data, isBinary) => {
      const reply = (m: Record<string, unknown>) => {
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(m));
      };
      let ref: unknown;
      (async () => {
        const size = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : (data as Buffer).byteLength;
        if (isBinary) throw new HttpError(400, 'frames are JSON text: {"type":"send","data":…}');
        if (size > maxBody) throw new HttpError(413, `the frame is ${size} bytes, more than the ${maxBody} this gateway takes (--max-body)`);
        let msg: { type?: unknown; data?: unknown; records?: unknown; ref?: unknown };
        try {
          msg = JSON.parse(data.toString());
        } catch (e) {
          throw new HttpError(400, `line 1: not JSON (${(e as Error).message})`);
        }
        if (msg === null || typeof msg !== 'object') throw new HttpError(400, 'a frame is an object: {"type":"send","data":…}');
        ref = msg.ref;
        if (msg.type === 'end') {
          this.limit(key);
          if (this.o.hub.isEnded(id)) throw new HttpError(409, 'the stream has ended: start a new one');
          await this.end(id);
          this.started.get(key.name)?.delete(id);
          reply({ type: 'ack', ref, ended: true });
          return;
        }
        if (msg.type !== 'send') throw new HttpError(400, `unknown frame type ${JSON.stringify(msg.type)}: use "send" (with data or records) or "end"`);
        const recs = msg.records !== undefined ? msg.records : [msg.data];
        if (!Array.isArray(recs) || recs.length === 0 || recs.some((r) => r === undefined)) throw new HttpError(400, 'a send frame has `data` (one record) or `records` (a non-empty array)');
        this.limit(key);
        if (this.o.hub.isEnded(id)) throw new HttpError(409, 'the stream has ended: start a new one');
        const t0 = performance.now();
        await this.produce(id, recs.map((r) => JSON.stringify(r)), false);
        this.m.ackSeconds.observe((performance.now() - t0) / 1000);
        this.m.recordsSent.inc(recs.length);
        reply({ type: 'ack', ref, accepted: recs.length });
      })().catch((e) => {
        const err = e instanceof HttpError ? e : new HttpError(500, 'internal error');
        reply({ type: 'error', ref, status: err.status, error: err.message, ...(err.headers['retry-after'] ? { retry_after: Number(err.headers['retry-after']) } : {}) });
      });
    });
  }
}

/** The request target: its path as sent (no dot-segment resolving: `/stream/../x` is no route) and its query, parsed when asked. */
interface Target {
  pathname: string;
  readonly searchParams: URLSearchParams;
}

function targetOf(raw: string): Target {
  const q = raw.indexOf('?');
  let params: URLSearchParams | undefined;
  return {
    pathname: q < 0 ? raw : raw.slice(0, q),
    get searchParams() {
      return (params ??= new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)));
    },
  };
}

/** A path segment, %-decoded; a malformed escape is the client's mistake (400), not ours. */
function decoded(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, `the path segment \`${segment.slice(0, 80)}\` is not valid %-encoding`);
  }
}

function unauthorized(why: string): HttpError {
  return new HttpError(401, why, { 'www-authenticate': 'Bearer realm="kstream"' });
}

function onlyGet(req: IncomingMessage): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, `${req.method} is not allowed here: use GET`, { allow: 'GET, HEAD' });
}

function onlyPost(req: IncomingMessage): void {
  if (req.method !== 'POST') throw new HttpError(405, `${req.method} is not allowed here: use POST`, { allow: 'POST' });
}

/** A route's name for metrics and logs: ids and keys never appear in either. */
function routeOf(req: IncomingMessage): string {
  const p = (req.url ?? '/').split('?')[0];
  if (STREAM.test(p)) return p.replace(STREAM, '/stream/{id}/$2');
  if (TABLE.test(p)) return '/tables/{name}/{key}';
  return ['/', '/healthz', '/readyz', '/metrics', '/stream/start'].includes(p) ? p : 'other';
}
