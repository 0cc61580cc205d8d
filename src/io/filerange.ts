import fs from 'node:fs';
import { Buffer } from 'node:buffer';

/**
 * Reads the lines of a regular file that start inside a byte range, by position (pread), so several threads can
 * each take ranges of one large input without anyone reading it for them. A line belongs to the range its first
 * byte is in: a range skips the line cut at its start (the previous range finishes it) and reads past its own end
 * to finish its last line.
 */
export interface RangeLines {
  /** The complete lines that start in the range, without the last line's newline; empty when none starts there. */
  bytes: Uint8Array;
  /** Whether any line starts in the range (an empty `bytes` may still be one blank line). */
  any: boolean;
  /** File position just past the last line taken (past its newline); undefined when the range took none. */
  end: number | undefined;
  /**
   * The range's last line is longer than the limit: `bytes` holds only the lines before it, and the long line
   * is the one after them.
   */
  tooLong: boolean;
}

const NL = 10;
const EMPTY = new Uint8Array(0);

const NONE: RangeLines = { bytes: EMPTY, any: false, end: undefined, tooLong: false };
/** Read size while finishing a range's last line past the range's end. */
const TAIL_READ = 64 * 1024;

export class RangeReader {
  private buf: Buffer = Buffer.allocUnsafeSlow(1 << 20);

  constructor(private readonly fd: number, readonly maxLine: number) {}

  /**
   * `lead`: the range is not the first, so a line starts at p only after a newline at p − 1. A last line that the
   * end of the file cuts off without a newline is left out, for whoever reads on to take whole (the file may
   * still be growing): `end` then stays at its start.
   */
  read(p: number, q: number, lead: boolean): RangeLines {
    const from = lead ? p - 1 : p;
    const want = q - from;
    let n = this.fill(0, from, want);
    let a = 0;
    if (lead) {
      // a line starts in [p, q) after a newline at index 0 … n − 2
      const k = this.find(0, n - 1);
      if (k < 0) return NONE;
      a = k + 1;
    } else if (n === 0) {
      return NONE;
    }
    // The range's last line starts after the last newline before index n − 1 …
    const k = n - 2 >= a ? this.buf.lastIndexOf(NL, n - 2) : -1;
    const lastStart = k >= a ? k + 1 : a;
    // … and ends at the first newline from index n − 1 on (one at n − 1 means the next range starts a line).
    let e = -1;
    if (this.buf[n - 1] === NL) e = n - 1;
    else if (n === want) {
      for (;;) {
        if (n - lastStart > this.maxLine) return this.tooLong(a, lastStart);
        const got = this.fill(n, from + n, TAIL_READ);
        if (got === 0) break;
        const f = this.find(n, n + got);
        n += got;
        if (f >= 0) { e = f; break; }
      }
    }
    if (e < 0) return lastStart > a ? { bytes: this.buf.subarray(a, lastStart - 1), any: true, end: from + lastStart, tooLong: false } : NONE;
    if (e - lastStart > this.maxLine) return this.tooLong(a, lastStart);
    return { bytes: this.buf.subarray(a, e), any: true, end: from + e + 1, tooLong: false };
  }

  /** The first newline in buf[from, to), or -1; never looks past `to` (the rest of the buffer is stale). */
  private find(from: number, to: number): number {
    if (to <= from) return -1;
    const k = this.buf.subarray(from, to).indexOf(NL);
    return k < 0 ? -1 : from + k;
  }

  private tooLong(a: number, lastStart: number): RangeLines {
    return { bytes: lastStart > a ? this.buf.subarray(a, lastStart - 1) : EMPTY, any: lastStart > a, end: undefined, tooLong: true };
  }

  /** Reads up to `len` bytes at file position `pos` into buf[at…]; fewer only at the end of the file. */
  private fill(at: number, pos: number, len: number): number {
    while (at + len > this.buf.length) this.grow();
    return pread(this.fd, this.buf, at, len, pos);
  }

  private grow(): void {
    const bigger = Buffer.allocUnsafeSlow(this.buf.length * 2);
    this.buf.copy(bigger);
    this.buf = bigger;
  }
}

/**
 * Moves fd 0's own position `bytes` further by reading and dropping them: reads by position leave it where it
 * was, and a command after kstream in `(kstream …; cat) < file` must find the file read, as it would have been
 * front to back. Reads on libuv's thread pool, meant to run while the ranges are processed.
 */
export async function advanceStdin(bytes: number): Promise<void> {
  const buf = Buffer.allocUnsafe(Math.min(bytes, 4 << 20));
  while (bytes > 0) {
    const r = await new Promise<number>((resolve, reject) => fs.read(0, buf, 0, Math.min(buf.length, bytes), null, (e, n) => (e ? reject(e) : resolve(n))));
    if (r === 0) return;
    bytes -= r;
  }
}

/** `len` bytes at file position `pos` into buf[at…]; returns how many (fewer only at the end of the file). */
function pread(fd: number, buf: Buffer, at: number, len: number, pos: number): number {
  let done = 0;
  while (done < len) {
    const r = fs.readSync(fd, buf, at + done, len - done, pos + done);
    if (r === 0) break;
    done += r;
  }
  return done;
}

/** Exactly the bytes [pos, pos + len) of fd 0 (fewer at its end), by position. */
export function stdinBytes(pos: number, len: number): Buffer {
  const buf = Buffer.allocUnsafe(len);
  return buf.subarray(0, pread(0, buf, 0, len, pos));
}

export interface StdinFile {
  /** Where fd 0 reads next. */
  pos: number;
  size: number;
}

/**
 * Where fd 0 reads next and how large it is, when it is a regular file whose position can be known (Linux
 * fdinfo); undefined otherwise (pipes, terminals, other systems), for which reading goes front to back.
 */
export function stdinFile(): StdinFile | undefined {
  try {
    const st = fs.fstatSync(0);
    if (!st.isFile()) return undefined;
    const info = fs.readFileSync('/proc/self/fdinfo/0', 'latin1');
    const m = /^pos:\s*(\d+)/m.exec(info);
    if (!m) return undefined;
    return { pos: Number(m[1]), size: st.size };
  } catch {
    return undefined;
  }
}
