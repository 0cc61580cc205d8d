/**
 * `kstream bench --http <url>`: an open-loop load generator for `kstream serve` (DESIGN.md §4, issue 15 item 8).
 *
 * N streams are started (POST /stream/start), each with one subscriber (SSE by default, a WebSocket with --ws);
 * then requests go out on a fixed schedule: request i is due at `t0 + i / rate`, to stream `i mod N`, carrying
 * `--batch` records `{"seq":…,"t":…}` (seq numbers the records of the run, t is the intended send time in epoch
 * ms). The schedule never waits for answers (open loop): a request that leaves late because this process was
 * busy, or that waits for a free connection, still counts from its intended time, so a stall of the gateway shows
 * in every request it delayed (coordinated omission corrected, as wrk2 and the in-process bench do).
 *
 * Two latencies, both from the request's intended send time, in HDR histograms (report/hdr.ts):
 *  - ack: until the 202 (Kafka acknowledged the records) — or the WebSocket's `ack` frame;
 *  - result: until each record comes back on its stream's subscriber, found by the seq in the result (the
 *    gateway's default pipeline returns records as sent; a --pipeline that keeps the field works too).
 * A warm-up (--warmup) runs the same schedule first and is left out of every figure.
 *
 * Cheap per request: a body is a few string concatenations, and the response and error listeners are shared
 * functions that find their request's number on the request object, so no closure is made per request.
 */
import http, { type ClientRequest } from 'node:http';
import https from 'node:https';
import fs from 'node:fs';
import process from 'node:process';
import { Buffer } from 'node:buffer';
import { RuntimeError, UsageError } from '../../pipeline/errors.js';
import { Hdr, round3, type HdrSummary } from '../../report/hdr.js';
import { PLOT_PERCENTILES } from '../../report/plot.js';
import { parseCount, parseDuration } from '../../time/duration.js';
import { eventLoopDelay, now } from '../../runtime.js';
import { Pacer, Schedule, systemClock, LATE_MS } from '../rate.js';
import { SseParser, seqOf } from './sse.js';
import { cpuOfStat, memOfStatus, procOfMetrics, type ProcSample } from './procstats.js';
import { Pool } from './conn.js';

export interface HttpBenchSettings {
  /** The gateway's base URL (http: or https:), ending in `/`. */
  url: URL;
  apiKey: string;
  streams: number;
  /** Most sockets the sends use at once (the subscribers have one each besides). */
  connections: number;
  /** Requests per second, all streams together. */
  rate: number;
  /** Records per request (an NDJSON body when more than one). */
  batch: number;
  durationMs: number;
  warmupMs: number;
  ws: boolean;
  gatewayPid: number | undefined;
  /** A request still unanswered this long after the schedule ended counts as a timeout. */
  timeoutMs: number;
  /** After the last answer, how long results may take to stop arriving before the missing ones are counted. */
  drainMs: number;
}

export const HTTP_DEFAULTS = { rate: 1000, streams: 100, durationMs: 10_000, warmupMs: 2000, batch: 1, timeoutMs: 10_000, drainMs: 5000 } as const;

/** `localhost:8080`, `:8080`, `8080` or a full http(s) URL → the base URL. */
export function gatewayUrl(text: string): URL {
  let t = text.trim();
  if (/^\d+$/.test(t)) t = `127.0.0.1:${t}`;
  if (t.startsWith(':')) t = `127.0.0.1${t}`;
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(t)) t = `http://${t}`;
  let u: URL;
  try {
    u = new URL(t);
  } catch {
    throw new UsageError(`invalid --http \`${text}\``, 'use the gateway\'s address: http://127.0.0.1:8080, or host:port');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`invalid --http \`${text}\`: ${u.protocol} is not http or https`, 'use http://host:port or https://host:port');
  if (u.search || u.hash) throw new UsageError(`invalid --http \`${text}\`: the gateway's base URL has no query or fragment`, 'use http://host:port');
  if (!u.pathname.endsWith('/')) u.pathname += '/';
  return u;
}

/** The bench's settings from its options (typed by the command's spec) and the environment (KSTREAM_API_KEY). */
export function httpSettings(opts: Record<string, any>, env: Record<string, string | undefined>): HttpBenchSettings {
  for (const [flag, key] of [['--brokers', 'brokers'], ['--count', 'count']] as const) {
    if (opts[key] !== undefined) throw new UsageError(`${flag} does not go with --http`, 'bench --http loads a gateway for --duration at --rate requests/s');
  }
  const url = gatewayUrl(String(opts.http));
  const apiKey = opts.apiKey !== undefined ? String(opts.apiKey) : env.KSTREAM_API_KEY;
  if (apiKey === undefined || apiKey.trim() === '') throw new UsageError('bench --http needs an API key', 'give --api-key <key>, or set KSTREAM_API_KEY');
  const rate = opts.rate === undefined ? HTTP_DEFAULTS.rate : parseCount(opts.rate, '--rate');
  if (!(rate > 0)) throw new UsageError(`invalid --rate \`${opts.rate}\``, 'bench --http is open loop: give the requests/s to keep, e.g. --rate 5000');
  const whole = (v: unknown, flag: string, dflt: number): number => {
    const n = v === undefined ? dflt : parseCount(v as string, flag);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`invalid ${flag} \`${v}\``, 'use a whole number of 1 or more');
    return n;
  };
  const streams = whole(opts.streams, '--streams', HTTP_DEFAULTS.streams);
  const connections = whole(opts.connections, '--connections', streams);
  const batch = whole(opts.batch, '--batch', HTTP_DEFAULTS.batch);
  const durationMs = opts.duration === undefined ? HTTP_DEFAULTS.durationMs : parseDuration(opts.duration, '--duration');
  const warmupMs = opts.warmup === undefined ? HTTP_DEFAULTS.warmupMs : parseDuration(opts.warmup, '--warmup');
  if (Math.floor((durationMs * rate) / 1000) < 1) throw new UsageError('nothing to send', 'use a --duration long enough for one request at --rate');
  let gatewayPid: number | undefined;
  if (opts.gatewayPid !== undefined) {
    gatewayPid = Number(opts.gatewayPid);
    if (!Number.isInteger(gatewayPid) || gatewayPid < 1) throw new UsageError(`invalid --gateway-pid \`${opts.gatewayPid}\``, 'use the process id of `kstream serve` (e.g. from `pgrep -f "kstream serve"`)');
    if (!fs.existsSync(`/proc/${gatewayPid}/stat`)) throw new UsageError(`no process ${gatewayPid} to measure (--gateway-pid)`, 'the gateway must run on this machine (Linux /proc); leave --gateway-pid out to read its /metrics instead');
  }
  return { url, apiKey, streams, connections, rate, batch, durationMs, warmupMs, ws: !!opts.ws, gatewayPid, timeoutMs: HTTP_DEFAULTS.timeoutMs, drainMs: HTTP_DEFAULTS.drainMs };
}

export interface GatewayUsage {
  /** Where the figures come from: /proc/<pid>, or the gateway's /metrics. */
  source: 'proc' | 'metrics';
  pid: number | null;
  /** CPU seconds the gateway used while measured (warm-up excluded), and as a share of one core. */
  cpu_seconds: number;
  cpu_percent: number;
  rss_mb_start: number;
  rss_mb_end: number;
  /** Highest RSS sampled (once a second) while measured. */
  rss_mb_max: number;
  /** The kernel's peak RSS of the process's whole life (VmHWM), where read from /proc. */
  rss_mb_peak_life?: number;
}

export interface HttpBenchResult {
  mode: 'http';
  url: string;
  transport: 'sse' | 'ws';
  streams: number;
  connections: number;
  /** Requests/s asked for, all streams together, and records per request. */
  rate: number;
  batch: number;
  duration_s: number;
  warmup_s: number;
  /** Measured requests (warm-up excluded): scheduled, sent, answered 202 (ack), failed (any other answer). */
  requests: { scheduled: number; sent: number; acked: number; failed: number };
  /** Measured records: acknowledged, came back as results, acknowledged but never came back, twice, on another stream. */
  records: { acked: number; results: number; missing: number; duplicates: number; misrouted: number };
  /** Results with no seq of this run (made by the pipeline, or not JSON with a seq). */
  foreign_results: number;
  /** Acknowledged requests/s and records/s over the measured span, and results/s. */
  requests_per_s: number;
  records_per_s: number;
  results_per_s: number;
  /** Failed requests by HTTP status, or by what ended them: a connection error's code (ECONNRESET), `timeout` (no answer within 10 s of the schedule's end), `never sent: no free connection` (still waiting for one of --connections then). */
  errors: Record<string, number>;
  /** Measured requests that left more than 1 ms after their intended time, and the largest lag: this process falling behind its schedule. */
  late: number;
  max_behind_ms: number;
  ack_ms: HdrSummary;
  result_ms: HdrSummary;
  subscriber_reconnects: number;
  /** Send connections opened over the run (warm-up included), and measured requests that waited for a free one. */
  connections_opened: number;
  requests_queued: number;
  gateway: GatewayUsage | null;
  /** Why the gateway's usage is missing, when it is. */
  gateway_note?: string;
  /** This process: CPU share of one core while measured, and its event loop's delay. */
  generator: { cpu_percent: number; event_loop_delay_ms: { p50: number; p99: number; max: number } | null };
  interrupted: boolean;
  /** [percentile, ms] for --plot (left out of --json). */
  plot: { ack: [number, number][]; result: [number, number][] };
}

interface Stream {
  id: string;
  sendPath: string;
  /** The send request's text up to the body's length: method, path, host, key, content type. */
  sendHead: string;
  resultsPath: string;
  wsPath: string;
  endPath: string;
}

interface Sub {
  close(): void;
  /** WebSocket mode: send one frame. */
  send?(frame: string, i: number): void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `f` over `items` with at most `n` at once. */
async function pool<T>(items: readonly T[], n: number, f: (x: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await f(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
}

class HttpLoad {
  private readonly mod: typeof http | typeof https;
  private readonly agent: http.Agent;
  private readonly subAgent: http.Agent;
  private readonly auth: string;
  private readonly pool: Pool;
  private readonly warmupReqs: number;
  readonly total: number;
  private readonly totalRecords: number;
  private t0 = 0;
  private readonly interval: number;
  private streams: Stream[] = [];
  private subs: Sub[] = [];
  private wsInflight = 0;
  private readonly ackedReq: Uint8Array;
  private readonly seen: Uint8Array;
  private readonly ackHdr = new Hdr();
  private readonly resultHdr = new Hdr();
  readonly errors = new Map<string, number>();
  sent = 0;
  measuredSent = 0;
  measuredAcked = 0;
  measuredFailed = 0;
  ackedAll = 0;
  seenAll = 0;
  measuredResults = 0;
  duplicates = 0;
  misrouted = 0;
  foreign = 0;
  late = 0;
  maxBehind = 0;
  reconnects = 0;
  private queuedBefore = 0;
  private get queuedMeasured(): number {
    return this.pool.queued - this.queuedBefore;
  }
  lastAck = 0;
  lastResult = 0;
  closing = false;

  constructor(readonly s: HttpBenchSettings) {
    this.mod = s.url.protocol === 'https:' ? https : http;
    const AgentOf = s.url.protocol === 'https:' ? https.Agent : http.Agent;
    this.agent = new AgentOf({ keepAlive: true, maxSockets: s.connections, scheduling: 'lifo', noDelay: true } as http.AgentOptions);
    this.subAgent = new AgentOf({ keepAlive: false, noDelay: true } as http.AgentOptions);
    this.auth = `Bearer ${s.apiKey}`;
    const port = Number(s.url.port || (s.url.protocol === 'https:' ? 443 : 80));
    this.pool = new Pool({ host: s.url.hostname.replace(/^\[|\]$/g, ''), port, tls: s.url.protocol === 'https:', max: s.connections, answer: (i, status, failure) => this.count(i, status, failure) });
    this.interval = 1000 / s.rate;
    this.warmupReqs = Math.floor((s.warmupMs * s.rate) / 1000);
    this.total = this.warmupReqs + Math.floor((s.durationMs * s.rate) / 1000);
    this.totalRecords = this.total * s.batch;
    this.ackedReq = new Uint8Array(this.total);
    this.seen = new Uint8Array(this.totalRecords);
  }

  private intended(i: number): number {
    return this.t0 + i * this.interval;
  }

  private path(rel: string): string {
    return new URL(rel.replace(/^\//, ''), this.s.url).pathname;
  }

  private error(what: string): void {
    this.errors.set(what, (this.errors.get(what) ?? 0) + 1);
  }

  /** One request of the setup (start, end): its status and JSON body. */
  private call(method: string, path: string): Promise<{ status: number; body: any }> {
    return new Promise((resolve, reject) => {
      const req = this.mod.request({ agent: this.agent, hostname: this.s.url.hostname, port: this.s.url.port, method, path, headers: { authorization: this.auth, 'content-length': '0' } }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => {
          const text = Buffer.concat(parts).toString('utf8');
          let body: any = text;
          try {
            body = JSON.parse(text);
          } catch {
            // not JSON: kept as text for the message
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
        res.on('error', reject);
      });
      req.setTimeout(this.s.timeoutMs, () => req.destroy(Object.assign(new Error(`no answer in ${this.s.timeoutMs / 1000} s`), { code: 'timeout' })));
      req.on('error', reject);
      req.end();
    });
  }

  private unreachable(e: unknown): RuntimeError {
    const err = e as NodeJS.ErrnoException;
    return new RuntimeError(`bench --http: cannot reach the gateway at ${this.s.url.origin}: ${err.code ?? err.message}`, 'is `kstream serve` running there? it prints its URL when it starts');
  }

  /** Waits (up to 30 s) for the gateway's /readyz: a gateway whose pipeline is still joining its group would charge its start to the first results. */
  async ready(): Promise<void> {
    const deadline = now() + 30_000;
    const path = this.path('readyz');
    for (;;) {
      let r: { status: number; body: any };
      try {
        r = await this.call('GET', path);
      } catch (e) {
        throw this.unreachable(e);
      }
      // only 503 says "not ready"; anything else (200, a 404 from a gateway without /readyz, a 401 that the start
      // will report with its hint) goes on
      if (r.status !== 503) return;
      if (now() > deadline) throw new RuntimeError(`bench --http: the gateway is not ready after 30 s: ${typeof r.body?.reason === 'string' ? r.body.reason : r.status}`);
      await sleep(200);
    }
  }

  async startStreams(): Promise<void> {
    const out: Stream[] = new Array(this.s.streams);
    const start = this.path('stream/start');
    await pool(out, 32, async (_x, k) => {
      let r: { status: number; body: any };
      try {
        r = await this.call('POST', start);
      } catch (e) {
        throw this.unreachable(e);
      }
      if (r.status !== 201 || typeof r.body?.stream_id !== 'string') {
        const why = typeof r.body?.error === 'string' ? r.body.error : String(r.body).slice(0, 200);
        const hint = r.status === 401 ? 'check --api-key (or KSTREAM_API_KEY) against the gateway\'s --api-keys file' : r.status === 429 ? 'raise the gateway\'s --rate/--burst (or --max-streams) for benches' : undefined;
        throw new RuntimeError(`bench --http: POST /stream/start answered ${r.status}: ${why}`, hint);
      }
      const b = r.body;
      const sendPath = this.path(b.send_url);
      const type = this.s.batch > 1 ? 'application/x-ndjson' : 'application/json';
      const sendHead = `POST ${sendPath} HTTP/1.1\r\nhost: ${this.s.url.host}\r\nauthorization: ${this.auth}\r\ncontent-type: ${type}\r\ncontent-length: `;
      out[k] = { id: b.stream_id, sendPath, sendHead, resultsPath: this.path(b.results_url), wsPath: this.path(b.ws_url), endPath: this.path(b.end_url) };
    });
    this.streams = out;
  }

  async subscribe(): Promise<void> {
    this.subs = new Array(this.s.streams);
    if (this.s.ws) {
      const { WebSocket } = await import('ws');
      await pool(this.streams, 32, async (st, k) => {
        this.subs[k] = await this.openWs(WebSocket, st, k);
      });
    } else {
      await pool(this.streams, 32, async (st, k) => {
        this.subs[k] = await this.openSse(st, k);
      });
    }
  }

  private openSse(st: Stream, k: number): Promise<Sub> {
    let current: ClientRequest | undefined;
    const parser = new SseParser((_id, data, event) => {
      if (event === 'message') this.result(k, data);
      else if (event === 'error') this.error('subscriber dropped');
    });
    const sub: Sub = { close: () => current?.destroy() };
    const connect = (first: boolean): Promise<void> =>
      new Promise((resolve, reject) => {
        const headers: Record<string, string> = { authorization: this.auth, accept: 'text/event-stream' };
        if (!first && parser.lastId !== '') headers['last-event-id'] = parser.lastId;
        const req = this.mod.request({ agent: this.subAgent, hostname: this.s.url.hostname, port: this.s.url.port, method: 'GET', path: st.resultsPath, headers });
        current = req;
        let settled = false;
        const again = () => {
          if (this.closing || !settled) return;
          settled = false;
          this.reconnects++;
          setTimeout(() => {
            if (!this.closing) connect(false).catch(() => undefined);
          }, 100);
        };
        req.on('response', (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            const e = new RuntimeError(`bench --http: GET results of a stream answered ${res.statusCode}`, res.statusCode === 429 ? 'raise the gateway\'s --max-subscribers' : undefined);
            if (first) reject(e);
            else setTimeout(() => again(), 500);
            settled = !first;
            return;
          }
          settled = true;
          res.setEncoding('utf8');
          res.on('data', (c: string) => parser.push(c));
          res.on('end', again);
          res.on('error', again);
          resolve();
        });
        req.on('error', (e) => {
          if (!settled && first) reject(this.unreachable(e));
          else again();
        });
        req.end();
      });
    return connect(true).then(() => sub);
  }

  private openWs(WebSocket: typeof import('ws').WebSocket, st: Stream, k: number): Promise<Sub> {
    const u = new URL(this.s.url);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    u.pathname = st.wsPath;
    const ws = new WebSocket(u, { headers: { authorization: this.auth }, perMessageDeflate: false });
    let pending = 0;
    return new Promise((resolve, reject) => {
      ws.once('unexpected-response', (_req, res) => {
        res.resume();
        reject(new RuntimeError(`bench --http --ws: the WebSocket of a stream answered ${res.statusCode}`));
      });
      ws.once('error', (e) => reject(this.unreachable(e)));
      ws.once('open', () => {
        ws.removeAllListeners('error');
        ws.on('error', () => undefined);
        ws.on('close', () => {
          if (this.closing) return;
          // requests this socket still owed an answer: failed with it
          for (; pending > 0; pending--) this.wsAnswered(-1, 0, 'ws closed');
        });
        ws.on('message', (data: Buffer, isBinary: boolean) => {
          if (isBinary) return;
          const text = data.toString('utf8');
          if (text.startsWith('{"type":"result"')) {
            this.result(k, text);
            return;
          }
          let m: { type?: string; ref?: unknown; status?: unknown };
          try {
            m = JSON.parse(text);
          } catch {
            return;
          }
          if (m.type === 'ack' || m.type === 'error') {
            pending--;
            this.wsAnswered(typeof m.ref === 'number' ? m.ref : -1, m.type === 'ack' ? 202 : Number(m.status) || 0);
          }
        });
        resolve({
          close: () => ws.terminate(),
          send: (frame, i) => {
            if (ws.readyState !== ws.OPEN) {
              this.wsInflight++;
              this.wsAnswered(i, 0, 'ws closed');
              return;
            }
            pending++;
            ws.send(frame);
          },
        });
      });
    });
  }

  /** The body (HTTP) or the frame's records (WebSocket) of request i: its batch of {"seq","t"} records. */
  private records(i: number, sep: string): string {
    const b = this.s.batch;
    const t = (performance.timeOrigin + this.intended(i)).toFixed(3);
    let seq = i * b;
    let out = `{"seq":${seq},"t":${t}}`;
    for (let j = 1; j < b; j++) out += `${sep}{"seq":${++seq},"t":${t}}`;
    return out;
  }

  private fire(i: number): void {
    const at = now();
    const behind = at - this.intended(i);
    if (i >= this.warmupReqs) {
      this.measuredSent++;
      if (behind > this.maxBehind) this.maxBehind = behind;
      if (behind > LATE_MS) this.late++;
    }
    this.sent++;
    const k = i % this.s.streams;
    if (this.s.ws) {
      const frame = this.s.batch === 1 ? `{"type":"send","ref":${i},"data":${this.records(i, '')}}` : `{"type":"send","ref":${i},"records":[${this.records(i, ',')}]}`;
      this.wsInflight++;
      this.subs[k].send!(frame, i);
      return;
    }
    const body = this.records(i, '\n');
    this.pool.send(i, `${this.streams[k].sendHead}${body.length}\r\n\r\n${body}`);
  }

  wsAnswered(i: number, status: number, failure?: string): void {
    this.wsInflight--;
    this.count(i, status, failure);
  }

  private count(i: number, status: number, failure?: string): void {
    const measured = i >= this.warmupReqs;
    if (status === 202) {
      const t = now();
      if (i >= 0 && !this.ackedReq[i]) {
        this.ackedReq[i] = 1;
        this.ackedAll += this.s.batch;
      }
      if (measured) {
        this.ackHdr.record(t - this.intended(i));
        this.measuredAcked++;
        this.lastAck = t;
      }
      return;
    }
    if (measured || i < 0) {
      this.measuredFailed++;
      this.error(failure ?? String(status));
    }
  }

  /** A result on the subscriber of stream k. */
  result(k: number, data: string): void {
    const seq = seqOf(data);
    if (seq < 0 || seq >= this.totalRecords) {
      this.foreign++;
      return;
    }
    const i = Math.floor(seq / this.s.batch);
    if (i % this.s.streams !== k) this.misrouted++;
    if (this.seen[seq]) {
      this.duplicates++;
      return;
    }
    this.seen[seq] = 1;
    this.seenAll++;
    if (i >= this.warmupReqs) {
      const t = now();
      this.resultHdr.record(t - this.intended(i));
      this.measuredResults++;
      this.lastResult = t;
    }
  }

  private outstanding(): number {
    return this.pool.inFlight + this.wsInflight;
  }

  /** Sends the schedule; resolves when the last request is out (or at `stop`). */
  async run(stop: AbortSignal | undefined, onMeasureStart: () => void, progress?: (line: string) => void): Promise<boolean> {
    this.t0 = now();
    const pacer = new Pacer(new Schedule(this.s.rate), systemClock, this.t0);
    let i = 0;
    let lastProgress = this.t0;
    let measuring = false;
    while (i < this.total) {
      const n = await pacer.due(i, Math.min(1024, this.total - i), stop);
      if (n === 0) return false;
      for (const end = i + n; i < end; i++) {
        if (!measuring && i >= this.warmupReqs) {
          measuring = true;
          this.queuedBefore = this.pool.queued;
          onMeasureStart();
        }
        this.fire(i);
      }
      if (progress && now() - lastProgress > 1000) {
        lastProgress = now();
        progress(`${i} sent, ${this.measuredAcked} acked, ${this.measuredResults} results, ${this.measuredFailed} failed`);
      }
    }
    return true;
  }

  measureStart(): number {
    return this.intended(this.warmupReqs);
  }

  /** Waits for the answers still owed (up to the timeout), then for the results (until they stop coming). */
  async drain(stop: AbortSignal | undefined): Promise<void> {
    const until = now() + this.s.timeoutMs;
    while (this.outstanding() > 0 && now() < until && !stop?.aborted) await sleep(5);
    this.pool.close('timeout', 'never sent: no free connection');
    for (; this.wsInflight > 0; ) this.wsAnswered(-1, 0, 'timeout');
    let seen = this.seenAll;
    let quietSince = now();
    while (this.seenAll < this.ackedAll && !stop?.aborted) {
      await sleep(10);
      if (this.seenAll !== seen) {
        seen = this.seenAll;
        quietSince = now();
      } else if (now() - quietSince > this.s.drainMs) {
        break;
      }
    }
  }

  /** Closes the subscribers and ends the streams (so the gateway's per-key stream count goes back). */
  async close(): Promise<void> {
    this.closing = true;
    this.pool.close('closed');
    for (const s of this.subs) s?.close();
    await pool(this.streams.filter(Boolean), 32, async (st) => {
      await this.call('POST', st.endPath).catch(() => undefined);
    });
    this.agent.destroy();
    this.subAgent.destroy();
  }

  summary(): Pick<HttpBenchResult, 'requests' | 'records' | 'foreign_results' | 'errors' | 'late' | 'max_behind_ms' | 'ack_ms' | 'result_ms' | 'subscriber_reconnects' | 'connections_opened' | 'requests_queued' | 'plot'> & { lastAck: number; lastResult: number } {
    const b = this.s.batch;
    let missing = 0;
    let acked = 0;
    for (let i = this.warmupReqs; i < this.total; i++) {
      if (!this.ackedReq[i]) continue;
      acked += b;
      for (let q = i * b; q < (i + 1) * b; q++) if (!this.seen[q]) missing++;
    }
    const errors: Record<string, number> = {};
    for (const [k, v] of [...this.errors].sort((x, y) => y[1] - x[1])) errors[k] = v;
    const points = (h: Hdr) => PLOT_PERCENTILES.map((q) => [q, h.percentile(q) ?? 0] as [number, number]);
    return {
      requests: { scheduled: this.total - this.warmupReqs, sent: this.measuredSent, acked: this.measuredAcked, failed: this.measuredFailed },
      records: { acked, results: this.measuredResults, missing, duplicates: this.duplicates, misrouted: this.misrouted },
      foreign_results: this.foreign,
      errors,
      late: this.late,
      max_behind_ms: +this.maxBehind.toFixed(3),
      ack_ms: this.ackHdr.summary(),
      result_ms: this.resultHdr.summary(),
      subscriber_reconnects: this.reconnects,
      connections_opened: this.pool.opened,
      requests_queued: this.queuedMeasured,
      plot: { ack: points(this.ackHdr), result: points(this.resultHdr) },
      lastAck: this.lastAck,
      lastResult: this.lastResult,
    };
  }
}

/** The child processes of `pid` (Linux: /proc/<pid>/task/<tid>/children); none when the kernel does not say. */
function childrenOf(pid: number): number[] {
  try {
    return fs.readdirSync(`/proc/${pid}/task`).flatMap((tid) => fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
  } catch {
    return [];
  }
}

/** Reads the gateway's CPU and RSS: /proc/<pid> (and its children) when given, else its /metrics. */
class GatewayWatch {
  private start: (ProcSample & { at: number }) | undefined;
  private maxRss = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  note: string | undefined;

  constructor(private readonly s: HttpBenchSettings) {}

  private async sample(): Promise<ProcSample | undefined> {
    const pid = this.s.gatewayPid;
    if (pid !== undefined) {
      try {
        // the gateway and its child processes (serve --workers: the primary and its workers), summed
        let cpuSeconds = 0;
        let rssBytes = 0;
        let peakRssBytes = 0;
        for (const p of [pid, ...childrenOf(pid)]) {
          cpuSeconds += cpuOfStat(fs.readFileSync(`/proc/${p}/stat`, 'utf8'));
          const mem = memOfStatus(fs.readFileSync(`/proc/${p}/status`, 'utf8'));
          rssBytes += mem.rssBytes;
          peakRssBytes += mem.peakRssBytes ?? mem.rssBytes;
        }
        return { cpuSeconds, rssBytes, peakRssBytes };
      } catch (e) {
        this.note = `could not read /proc/${pid}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
        return undefined;
      }
    }
    try {
      const res = await fetch(new URL('metrics', this.s.url), { signal: AbortSignal.timeout(2000) });
      const text = await res.text();
      const p = res.ok ? procOfMetrics(text) : undefined;
      if (!p) this.note = `the gateway's /metrics has no process_cpu_seconds_total and process_resident_memory_bytes (${res.status})`;
      return p;
    } catch (e) {
      this.note = `could not read the gateway's /metrics: ${(e as Error).message}`;
      return undefined;
    }
  }

  async begin(): Promise<void> {
    const p = await this.sample();
    if (!p) return;
    this.start = { ...p, at: now() };
    this.maxRss = p.rssBytes;
    this.timer = setInterval(() => {
      this.sample().then((q) => {
        if (q && q.rssBytes > this.maxRss) this.maxRss = q.rssBytes;
      });
    }, 1000);
    this.timer.unref();
  }

  async end(): Promise<GatewayUsage | null> {
    clearInterval(this.timer);
    if (!this.start) return null;
    const p = await this.sample();
    if (!p) return null;
    const mb = (b: number) => +(b / 1048576).toFixed(1);
    const cpu = p.cpuSeconds - this.start.cpuSeconds;
    const secs = (now() - this.start.at) / 1000;
    const u: GatewayUsage = {
      source: this.s.gatewayPid !== undefined ? 'proc' : 'metrics',
      pid: this.s.gatewayPid ?? null,
      cpu_seconds: +cpu.toFixed(2),
      cpu_percent: secs > 0 ? +((cpu / secs) * 100).toFixed(1) : 0,
      rss_mb_start: mb(this.start.rssBytes),
      rss_mb_end: mb(p.rssBytes),
      rss_mb_max: mb(Math.max(this.maxRss, p.rssBytes)),
    };
    if (p.peakRssBytes !== undefined) u.rss_mb_peak_life = mb(p.peakRssBytes);
    return u;
  }
}

/** The whole bench: start the streams and their subscribers, warm up, measure, drain, report. */
export async function runHttpBench(s: HttpBenchSettings, stop?: AbortSignal, progress?: (line: string) => void): Promise<HttpBenchResult> {
  const load = new HttpLoad(s);
  const watch = new GatewayWatch(s);
  let completed = false;
  let cpuStart = process.cpuUsage();
  let wallStart = now();
  const delay = eventLoopDelay(10);
  try {
    await load.ready();
    await load.startStreams();
    await load.subscribe();
    let begun: Promise<void> = Promise.resolve();
    completed = await load.run(stop, () => {
      cpuStart = process.cpuUsage();
      wallStart = now();
      delay?.reset();
      begun = watch.begin();
    }, progress);
    await load.drain(stop);
    await begun;
  } catch (e) {
    await load.close().catch(() => undefined);
    delay?.stop();
    throw e;
  }
  const cpu = process.cpuUsage(cpuStart);
  const wall = (now() - wallStart) / 1000;
  const d = delay?.read();
  delay?.stop();
  const gateway = await watch.end();
  await load.close();
  const sum = load.summary();
  const { lastAck, lastResult, ...rest } = sum;
  // the measured span: from the first measured request's intended time to the last answer (at least --duration)
  const from = load.measureStart();
  const spanOf = (last: number) => Math.max(s.durationMs, last - from) / 1000;
  const r: HttpBenchResult = {
    mode: 'http',
    url: s.url.origin,
    transport: s.ws ? 'ws' : 'sse',
    streams: s.streams,
    connections: s.connections,
    rate: s.rate,
    batch: s.batch,
    duration_s: s.durationMs / 1000,
    warmup_s: s.warmupMs / 1000,
    ...rest,
    requests_per_s: Math.round(rest.requests.acked / spanOf(lastAck)),
    records_per_s: Math.round((rest.requests.acked * s.batch) / spanOf(lastAck)),
    results_per_s: Math.round(rest.records.results / spanOf(lastResult)),
    gateway,
    generator: {
      cpu_percent: wall > 0 ? +(((cpu.user + cpu.system) / 1e6 / wall) * 100).toFixed(1) : 0,
      event_loop_delay_ms: d ? { p50: round3(d.p50), p99: round3(d.p99), max: round3(d.max) } : null,
    },
    interrupted: !completed,
  };
  if (!gateway) r.gateway_note = watch.note ?? 'not measured';
  return r;
}
