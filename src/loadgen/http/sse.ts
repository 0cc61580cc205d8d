/**
 * The pure parts of `bench --http` that read what the gateway sends back: Server-Sent Events parsed from text
 * chunks (no EventSource in Node, and none needed), and the sequence number found in a result's JSON without
 * parsing all of it.
 */

/** One dispatched event: its `id:` (the output offset; '' when the event had none), `event:` name and `data:`. */
export type SseHandler = (id: string, data: string, event: string) => void;

/**
 * An event-stream parser as the HTML spec describes it (§9.2.6): lines end in LF, CR LF or CR; a blank line
 * dispatches the event; `data:` lines are joined with LF; one space after the colon is dropped; lines starting
 * with `:` are comments (the gateway's pings); `retry:` is read. An event with no data is not dispatched. Chunks
 * may split a line (or a CR LF) anywhere: the unfinished line waits for the next chunk.
 */
export class SseParser {
  /** The last event id seen (what a reconnect sends as Last-Event-ID). */
  lastId = '';
  /** The server's `retry:` in ms, if it sent one. */
  retry: number | undefined;
  private rest = '';
  private data: string | undefined;
  private event = '';
  private id: string | undefined;
  /** The previous chunk ended in CR: an LF at the start of the next one belongs to it. */
  private cr = false;

  constructor(private readonly onEvent: SseHandler) {}

  push(chunk: string): void {
    let text = chunk;
    if (this.cr && text.charCodeAt(0) === 10) text = text.slice(1);
    this.cr = false;
    let start = 0;
    const buf = this.rest === '' ? text : this.rest + text;
    this.rest = '';
    const n = buf.length;
    for (let i = 0; i < n; i++) {
      const c = buf.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      this.line(buf, start, i);
      if (c === 13) {
        if (i + 1 < n) {
          if (buf.charCodeAt(i + 1) === 10) i++;
        } else {
          this.cr = true;
        }
      }
      start = i + 1;
    }
    if (start < n) this.rest = buf.slice(start);
  }

  private line(buf: string, start: number, end: number): void {
    if (start === end) {
      this.dispatch();
      return;
    }
    if (buf.charCodeAt(start) === 58 /* : */) return;
    let colon = buf.indexOf(':', start);
    if (colon < 0 || colon > end) colon = end;
    const field = buf.slice(start, colon);
    let v = colon + 1;
    if (v < end && buf.charCodeAt(v) === 32) v++;
    const value = colon === end ? '' : buf.slice(v, end);
    switch (field) {
      case 'data':
        this.data = this.data === undefined ? value : this.data + '\n' + value;
        break;
      case 'id':
        if (!value.includes('\0')) this.id = value;
        break;
      case 'event':
        this.event = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retry = Number(value);
        break;
    }
  }

  private dispatch(): void {
    if (this.id !== undefined) this.lastId = this.id;
    const { data, event } = this;
    this.data = undefined;
    this.event = '';
    this.id = undefined;
    if (data === undefined) return;
    this.onEvent(this.lastId, data, event || 'message');
  }
}

const SEQ = '"seq":';

/**
 * The `seq` of a result the bench sent ({"seq":12,"t":…}), read from its JSON text without parsing it: the first
 * `"seq":` followed by a whole number (spaces allowed around the colon's value, as a pipeline's JSON.stringify or
 * a pretty-printer may write). −1 when there is none — a result the pipeline made up, or one without the field.
 */
export function seqOf(text: string, from = 0): number {
  let at = text.indexOf(SEQ, from);
  if (at < 0) {
    // `"seq" : 1` (spaced) is rare: look for it only when the compact form is absent
    const m = /"seq"\s*:\s*(\d+)/.exec(from ? text.slice(from) : text);
    return m ? Number(m[1]) : -1;
  }
  at += SEQ.length;
  while (text.charCodeAt(at) === 32) at++;
  let n = 0;
  let digits = 0;
  for (;;) {
    const c = text.charCodeAt(at) - 48;
    if (c < 0 || c > 9) break;
    n = n * 10 + c;
    digits++;
    at++;
  }
  return digits === 0 ? -1 : n;
}
