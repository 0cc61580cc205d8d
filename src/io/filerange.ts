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
  /** File position just after the last line read (past its newline), or where the range ended without one. */
  end: number;
  /**
   * The range's last line is longer than the limit: `bytes` holds only the lines before it, and the long line
   * is the one after them.
   */
  tooLong: boolean;
}

const NL = 10;
/** Read size while finishing a range's last line past the range's end. */
const TAIL_READ = 64 * 1024;
const EMPTY = new Uint8Array(0);

export class RangeReader {
  private buf: Buffer = Buffer.allocUnsafeSlow(1 << 20);

  constructor(private readonly fd: number, readonly maxLine: number) {}

  /** `lead`: the range is not the first, so a line starts at p only after a newline at p − 1. */
  read(p: number, q: number, lead: boolean): RangeLines {
    const from = lead ? p - 1 : p;
    const want = q - from;
    let n = this.fill(0, from, want);
    let a = 0;
    if (lead) {
      // a line starts in [p, q) after a newline at index 0 … n − 2
      const k = n > 1 ? this.buf.indexOf(NL, 0) : -1;
      if (k < 0 || k > n - 2) return { bytes: EMPTY, any: false, end: from + n, tooLong: false };
      a = k + 1;
    } else if (n === 0) {
      return { bytes: EMPTY, any: false, end: from, tooLong: false };
    }
    // The range's last line starts after the last newline before index n − 1 …
    const k = n - 2 >= a ? this.buf.lastIndexOf(NL, n - 2) : -1;
    const lastStart = k >= a ? k + 1 : a;
    // … and ends at the first newline from index n − 1 on (one at n − 1 means the next range starts a line).
    let e = -1;
    if (this.buf[n - 1] === NL) e = n - 1;
    else if (n === want) {
      for (;;) {
        if (n - lastStart > this.maxLine) return this.tooLong(a, lastStart, from + n);
        const got = this.fill(n, from + n, TAIL_READ);
        if (got === 0) break; // end of file: the last line ends there
        const f = this.buf.indexOf(NL, n);
        n += got;
        if (f >= 0 && f < n) { e = f; break; }
      }
    }
    const end = e < 0 ? n : e + 1;
    if (e < 0) e = n;
    if (e - lastStart > this.maxLine) return this.tooLong(a, lastStart, from + end);
    return { bytes: this.buf.subarray(a, e), any: true, end: from + end, tooLong: false };
  }

  private tooLong(a: number, lastStart: number, end: number): RangeLines {
    return { bytes: lastStart > a ? this.buf.subarray(a, lastStart - 1) : EMPTY, any: lastStart > a, end, tooLong: true };
  }

  /** Reads up to `len` bytes at file position `pos` into buf[at…]; fewer only at the end of the file. */
  private fill(at: number, pos: number, len: number): number {
    while (at + len > this.buf.length) this.grow();
    let done = 0;
    while (done < len) {
      const r = fs.readSync(this.fd, this.buf, at + done, len - done, pos + done);
      if (r === 0) break;
      done += r;
    }
    return done;
  }

  private grow(): void {
    const bigger = Buffer.allocUnsafeSlow(this.buf.length * 2);
    this.buf.copy(bigger);
    this.buf = bigger;
  }
}

/**
 * Where fd 0 reads next and how large it is, when it is a regular file whose position can be known (Linux
 * fdinfo); undefined otherwise (pipes, terminals, other systems), for which reading goes front to back.
 */
export function stdinFile(): { pos: number; size: number } | undefined {
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
