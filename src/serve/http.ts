import type { IncomingMessage, ServerResponse } from 'node:http';
import { Buffer } from 'node:buffer';
import { validateJson } from '../codec/scan.js';

/** An answer with a status and a JSON reason: what every failed request gets (never a stack, never a key). */
export class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

/** The request body, refused with 413 past `limit` bytes (it stops reading there rather than buffering on). */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (declared > limit) {
      reject(new HttpError(413, `the body is ${declared} bytes, more than the ${limit} this gateway takes (--max-body)`));
      req.resume();
      return;
    }
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new HttpError(413, `the body is more than the ${limit} bytes this gateway takes (--max-body)`));
        req.removeAllListeners('data');
        req.resume();
        return;
      }
      parts.push(c);
    });
    req.on('end', () => resolve(parts.length === 1 ? parts[0] : Buffer.concat(parts)));
    req.on('error', reject);
  });
}

/**
 * The records of a send's body, each as one line of JSON text: one JSON document (which may span lines), or NDJSON
 * (one per line; `Content-Type: application/x-ndjson`, or a body of several lines that is not one document).
 * A line that is not JSON fails the whole body with its line number and reason: nothing of it is sent.
 */
export function parseRecords(body: Buffer, contentType: string | undefined): string[] {
  const text = body.toString('utf8');
  if (text.trim() === '') throw new HttpError(400, 'the body is empty: send a JSON record or NDJSON lines');
  const ndjson = /ndjson|jsonl|json-seq/i.test(contentType ?? '');
  if (!ndjson) {
    try {
      const v = JSON.parse(text);
      const t = text.trim();
      // a record is one line of the input topic: a document over several lines is written again on one
      return [t.includes('\n') ? JSON.stringify(v) : t];
    } catch (e) {
      if (!/\n\s*\S/.test(text.trim())) throw new HttpError(400, `line 1: not JSON (${(e as Error).message})`);
    }
  }
  // each line validated where it lies (the project's scanner: no objects built), then cut out once
  const out: string[] = [];
  let line = 0;
  for (let at = 0; at <= text.length; ) {
    let nl = text.indexOf('\n', at);
    if (nl < 0) nl = text.length;
    line++;
    let a = at;
    let b = nl;
    while (a < b && isSpace(text.charCodeAt(a))) a++;
    while (b > a && isSpace(text.charCodeAt(b - 1))) b--;
    if (a < b) {
      try {
        validateJson(text, a, b);
      } catch (e) {
        throw new HttpError(400, `line ${line}: not JSON (${(e as Error).message})`);
      }
      out.push(text.slice(a, b));
    }
    at = nl + 1;
  }
  return out;
}

const isSpace = (c: number): boolean => c === 32 || c === 9 || c === 13 || c === 10;

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, e: HttpError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, e.status, { error: e.message, status: e.status }, e.headers);
}
