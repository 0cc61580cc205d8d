/**
 * The HTTP side of `--metrics <host:port>`: `GET /metrics` answers with the registry's text exposition, anything
 * else with 404. The server never keeps a finished run alive (unref'd; closed at the end of the run), and an
 * address it cannot listen on is one readable line, not a stack.
 */
import http from 'node:http';
import { RuntimeError, UsageError } from '../pipeline/errors.js';
import { CONTENT_TYPE, type Registry } from './metrics.js';

export interface MetricsAddress {
  host: string;
  port: number;
}

/**
 * `host:port`, `:port` (127.0.0.1: a run's metrics are not published beyond the machine unless asked for) or
 * `[v6]:port`; `0.0.0.0:port` listens on every interface. Port 0 takes a free port (printed on stderr).
 */
export function parseMetricsAddress(text: string): MetricsAddress {
  const at = hostPort(text);
  if (!at) throw new UsageError(`invalid --metrics \`${text}\``, 'use host:port, e.g. --metrics 127.0.0.1:9464 (:9464 is 127.0.0.1; 0.0.0.0:9464 listens on every interface)');
  return at;
}

/** `host:port`, `:port` (127.0.0.1) or `[v6]:port` as a host and a port; undefined for anything else. */
export function hostPort(text: string): MetricsAddress | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) return undefined;
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

/** `host:port` as a URL writes it: an IPv6 host in brackets. */
export function hostPortText(at: MetricsAddress): string {
  return `${at.host.includes(':') ? `[${at.host}]` : at.host}:${at.port}`;
}

export class MetricsServer {
  private constructor(private readonly server: http.Server, readonly address: MetricsAddress) {}

  /** Listens at `at`; resolves once listening, with the port bound (port 0 → the one the system chose). */
  static listen(registry: Registry, at: MetricsAddress): Promise<MetricsServer> {
    const server = http.createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: metrics are at /metrics\n');
        return;
      }
      let body: string;
      try {
        body = registry.expose();
      } catch (e) {
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`${(e as Error).message}\n`);
        return;
      }
      res.writeHead(200, { 'content-type': CONTENT_TYPE, 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
    return new Promise((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => {
        const where = hostPortText(at);
        if (e.code === 'EADDRINUSE') reject(new RuntimeError(`--metrics ${where}: the address is in use`, 'pick another port, or :0 for a free one'));
        else if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') reject(new RuntimeError(`--metrics ${where}: no such local address`, 'use an address of this machine, e.g. 127.0.0.1 or 0.0.0.0'));
        else if (e.code === 'EACCES') reject(new RuntimeError(`--metrics ${where}: not allowed to listen there`, 'ports below 1024 need privileges: use e.g. 9464'));
        else reject(new RuntimeError(`--metrics ${where}: cannot listen (${e.message})`));
      });
      server.listen(at.port, at.host, () => {
        // a run that is done must exit even while someone keeps a connection to its metrics open; and a scraper's
        // kept-alive socket must not hold the event loop of a run that is stuck waiting (the entry point's check for
        // an emptied loop would never come)
        server.unref();
        server.on('connection', (socket) => socket.unref());
        const a = server.address();
        resolve(new MetricsServer(server, { host: at.host, port: typeof a === 'object' && a ? a.port : at.port }));
      });
    });
  }

  get url(): string {
    return `http://${hostPortText(this.address)}/metrics`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      (this.server as { closeAllConnections?: () => void }).closeAllConnections?.();
    });
  }
}
