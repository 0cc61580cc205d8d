/**
 * The sends of `bench --http`: HTTP/1.1 keep-alive connections written and read by hand, one request in flight on
 * each (no pipelining, as browsers and most clients do), at most `max` of them, made as the load needs them and
 * reused most-recent first, with the requests that find none free waiting in order.
 *
 * Why not node:http's Agent: at 5000 requests/s the Agent and ClientRequest cost this process about 70% of a core
 * (measured: the Agent's socket lists are arrays searched on every request and free, and each request builds a
 * ClientRequest with its listeners, header objects and a writev of head and body). On a 2-core machine that also runs
 * the gateway and the broker, that CPU comes out of what is measured. Here a request is one string — the
 * connection's prebuilt head, the length, the body — and one write; a response is read as far as its status line
 * and Content-Length. Requests are numbered; the owner's callback gets the number and the status (or the error).
 */
import net from 'node:net';
import tls from 'node:tls';
import { Buffer } from 'node:buffer';

/** A request's end: its status (0 when there was none) and, for a connection failure, its code. */
export type Answer = (i: number, status: number, failure?: string) => void;

/**
 * Reads HTTP/1.1 responses from a byte stream, one after another: status and body length (Content-Length, or a
 * chunked body read to its end). Pure over the bytes, so tests feed it split anywhere.
 */
export class ResponseReader {
  private buf: Buffer | undefined;
  /** Bytes of the current response's body still to skip; -1 while reading its head; -2 while in a chunked body. */
  private body = -1;
  private status = 0;
  private close = false;

  /** Feeds bytes; calls `done(status, close)` for each whole response. Throws on bytes that are not HTTP. */
  push(chunk: Buffer, done: (status: number, close: boolean) => void): void {
    const b = this.buf ? Buffer.concat([this.buf, chunk]) : chunk;
    this.buf = undefined;
    let at = 0;
    for (;;) {
      if (this.body === -1) {
        const end = b.indexOf('\r\n\r\n', at, 'latin1');
        if (end < 0) break;
        const head = b.toString('latin1', at, end);
        if (!head.startsWith('HTTP/1.')) throw new Error(`not an HTTP response: ${JSON.stringify(head.slice(0, 40))}`);
        this.status = Number(head.slice(9, 12));
        const lower = head.toLowerCase();
        this.close = /\r\nconnection:\s*close/.test(lower);
        const cl = /\r\ncontent-length:\s*(\d+)/.exec(lower);
        at = end + 4;
        if (cl) this.body = Number(cl[1]);
        else if (/\r\ntransfer-encoding:[^\r]*chunked/.test(lower)) this.body = -2;
        else this.body = 0;
      }
      if (this.body === -2) {
        // chunked: size line, data, CRLF … up to the 0-size chunk and the blank line after it
        const eol = b.indexOf('\r\n', at, 'latin1');
        if (eol < 0) break;
        const size = parseInt(b.toString('latin1', at, eol), 16);
        if (!Number.isFinite(size)) throw new Error('bad chunk size in an HTTP response');
        const need = size === 0 ? eol + 4 : eol + 2 + size + 2;
        if (b.length < need) break;
        at = need;
        if (size !== 0) continue;
        this.body = 0;
      }
      if (this.body > 0) {
        const have = b.length - at;
        if (have < this.body) {
          this.body -= have;
          at = b.length;
          break;
        }
        at += this.body;
        this.body = 0;
      }
      // body === 0: the response is whole
      this.body = -1;
      done(this.status, this.close);
      if (at >= b.length) break;
    }
    if (at < b.length) this.buf = b.subarray(at);
  }
}

export interface PoolOptions {
  host: string;
  port: number;
  tls: boolean;
  /** Most connections open at once. */
  max: number;
  answer: Answer;
}

class Conn {
  readonly socket: net.Socket;
  /** The request in flight, or -1. */
  inFlight = -1;
  private readonly reader = new ResponseReader();
  dead = false;

  constructor(private readonly pool: Pool, o: PoolOptions) {
    this.socket = o.tls ? tls.connect({ host: o.host, port: o.port, servername: net.isIP(o.host) ? undefined : o.host, rejectUnauthorized: false }) : net.connect({ host: o.host, port: o.port, noDelay: true });
    this.socket.setNoDelay(true);
    this.socket.on('data', (c: Buffer) => {
      try {
        this.reader.push(c, (status, close) => {
          const i = this.inFlight;
          this.inFlight = -1;
          if (close) this.kill();
          if (i >= 0) this.pool.done(this, i, status);
        });
      } catch {
        this.fail('bad response');
      }
    });
    this.socket.on('error', (e: NodeJS.ErrnoException) => this.fail(e.code ?? e.message));
    this.socket.on('close', () => this.fail('connection closed'));
  }

  private kill(): void {
    if (this.dead) return;
    this.dead = true;
    this.socket.destroy();
    this.pool.gone(this);
  }

  private fail(why: string): void {
    const i = this.inFlight;
    this.inFlight = -1;
    this.kill();
    if (i >= 0) this.pool.failed(i, why);
  }
}

/** Keep-alive connections to one server, one request at a time on each. */
export class Pool {
  private readonly conns = new Set<Conn>();
  private readonly idle: Conn[] = [];
  /** Requests waiting for a connection: their numbers and texts, in order. */
  private waitI: number[] = [];
  private waitText: string[] = [];
  private waitHead = 0;
  /** Requests that waited for a free connection (the load wanted more than --connections). */
  queued = 0;
  opened = 0;
  private closed = false;

  constructor(private readonly o: PoolOptions) {}

  get inFlight(): number {
    let n = 0;
    for (const c of this.conns) if (c.inFlight >= 0) n++;
    return n + this.waitI.length - this.waitHead;
  }

  /** Sends request `i` (its whole text: head and body) on a free connection, a new one, or when one frees up. */
  send(i: number, text: string): void {
    let c = this.idle.pop();
    while (c && c.dead) c = this.idle.pop();
    if (!c && this.conns.size < this.o.max) {
      c = new Conn(this, this.o);
      this.conns.add(c);
      this.opened++;
    }
    if (!c) {
      this.queued++;
      this.waitI.push(i);
      this.waitText.push(text);
      return;
    }
    c.inFlight = i;
    c.socket.write(text);
  }

  done(c: Conn, i: number, status: number): void {
    this.o.answer(i, status);
    this.next(c);
  }

  failed(i: number, why: string): void {
    this.o.answer(i, 0, why);
  }

  gone(c: Conn): void {
    this.conns.delete(c);
    // a waiting request goes out on a new connection
    if (!this.closed && this.waitHead < this.waitI.length) {
      const n = new Conn(this, this.o);
      this.conns.add(n);
      this.opened++;
      this.next(n);
    }
  }

  private next(c: Conn): void {
    if (c.dead) return;
    if (this.waitHead < this.waitI.length) {
      const i = this.waitI[this.waitHead];
      const text = this.waitText[this.waitHead];
      this.waitText[this.waitHead] = '';
      this.waitHead++;
      if (this.waitHead > 4096 && this.waitHead * 2 > this.waitI.length) {
        this.waitI = this.waitI.slice(this.waitHead);
        this.waitText = this.waitText.slice(this.waitHead);
        this.waitHead = 0;
      }
      c.inFlight = i;
      c.socket.write(text);
      return;
    }
    this.idle.push(c);
  }

  /** Fails what is still in flight with `why` and what still waits for a connection with `waiting`, and closes every connection. */
  close(why: string, waiting = why): void {
    this.closed = true;
    for (let k = this.waitHead; k < this.waitI.length; k++) this.o.answer(this.waitI[k], 0, waiting);
    this.waitI = [];
    this.waitText = [];
    this.waitHead = 0;
    for (const c of [...this.conns]) {
      const i = c.inFlight;
      c.inFlight = -1;
      c.socket.destroy();
      if (i >= 0) this.o.answer(i, 0, why);
    }
    this.conns.clear();
    this.idle.length = 0;
  }
}
