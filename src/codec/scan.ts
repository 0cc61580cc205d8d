/**
 * A validating JSON scanner that extracts only some top-level fields of an object.
 *
 * Why: `JSON.parse` builds every value of every record, but most stages read one or two fields (`r.latency_ms > 50`)
 * and forward the line untouched. The scanner walks the whole line — so a malformed line is still rejected — but
 * materialises only the wanted fields, into an object of a fixed shape generated once per field list. Values are
 * identical to what JSON.parse gives for them (numbers over the same grammar, strings without escapes sliced,
 * anything else handed to JSON.parse). Duplicate keys resolve to the last occurrence, as in JSON.parse.
 *
 * It works in place on a whole decoded chunk (positions are absolute; a line is [start, end)), so no per-line
 * string is cut unless a stage keeps it. When the chunk holds no backslash, tab or carriage return — checked
 * once per chunk with native indexOf — string bodies are skipped with indexOf too ("fast strings"). The one
 * leniency of that mode: raw control characters U+0000–U+001F other than tab/CR/LF inside strings are not
 * rejected (JSON.parse would); finding them would cost a per-character pass we avoid for speed.
 *
 * Errors are JsonSyntaxError with a column, worded the same on Node, Bun and Deno.
 */
export class JsonSyntaxError extends Error {
  constructor(readonly reason: string, readonly column: number) {
    super(`invalid JSON at column ${column}: ${reason}`);
  }
}

const enum C {
  TAB = 9, CR = 13, SPACE = 32, QUOTE = 34, PLUS = 43, COMMA = 44, MINUS = 45, DOT = 46, SLASH = 47,
  D0 = 48, D1 = 49, D9 = 57, COLON = 58, UPPER_E = 69, LBRACKET = 91, BACKSLASH = 92, RBRACKET = 93,
  LOWER_E = 101, LOWER_F = 102, LOWER_N = 110, LOWER_T = 116, LOWER_U = 117, LBRACE = 123, RBRACE = 125,
}

// Scanner state for the current line; module-level so the hot helpers take no extra arguments.
let lineStart = 0;
let lineEnd = 0;
let fastStrings = false;
let escaped = false;

function fail(s: string, i: number, reason?: string): never {
  let why = reason;
  if (!why) {
    if (i >= lineEnd) why = 'unexpected end of line';
    else {
      const ch = s[i];
      why = `unexpected ${ch < ' ' ? JSON.stringify(ch) : `'${ch}'`}`;
    }
  }
  // whitespace skipping may have stepped onto a stripped "\r" past the line: the column stays on the line
  throw new JsonSyntaxError(why, Math.min(i, lineEnd) - lineStart + 1);
}

// Line feed is not whitespace here: lines never contain one, and it bounds every scan to its line.
function skipWs(s: string, i: number): number {
  for (;;) {
    const c = s.charCodeAt(i);
    if (c === C.SPACE || c === C.TAB || c === C.CR) i++;
    else return i;
  }
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

/** Index just past the closing quote of the string opening at i. Sets `escaped` when it saw a backslash. */
function skipString(s: string, i: number): number {
  escaped = false;
  if (fastStrings) {
    const q = s.indexOf('"', i + 1);
    if (q < 0 || q >= lineEnd) fail(s, lineEnd, 'unterminated string');
    return q + 1;
  }
  i++;
  for (;;) {
    if (i >= lineEnd) fail(s, i, 'unterminated string');
    const c = s.charCodeAt(i);
    if (c === C.QUOTE) return i + 1;
    if (c === C.BACKSLASH) {
      escaped = true;
      const e = s.charCodeAt(i + 1);
      if (e === C.LOWER_U) {
        if (!(isHex(s.charCodeAt(i + 2)) && isHex(s.charCodeAt(i + 3)) && isHex(s.charCodeAt(i + 4)) && isHex(s.charCodeAt(i + 5))) || i + 6 > lineEnd) {
          fail(s, i, 'bad \\u escape in string');
        }
        i += 6;
      } else if (e === C.QUOTE || e === C.BACKSLASH || e === C.SLASH || e === 98 || e === C.LOWER_F || e === C.LOWER_N || e === 114 || e === C.LOWER_T) {
        i += 2;
      } else fail(s, i, 'bad escape in string');
    } else if (c < 0x20) fail(s, i, 'control character in string');
    else i++;
  }
}

function skipDigits(s: string, i: number): number {
  let c = s.charCodeAt(i);
  while (c >= C.D0 && c <= C.D9) c = s.charCodeAt(++i);
  return i;
}

function skipNumber(s: string, i: number): number {
  if (s.charCodeAt(i) === C.MINUS) i++;
  const c = s.charCodeAt(i);
  if (c === C.D0) i++;
  else if (c >= C.D1 && c <= C.D9) i = skipDigits(s, i + 1);
  else fail(s, i);
  if (s.charCodeAt(i) === C.DOT) {
    const j = skipDigits(s, i + 1);
    if (j === i + 1) fail(s, j);
    i = j;
  }
  const e = s.charCodeAt(i);
  if (e === C.LOWER_E || e === C.UPPER_E) {
    i++;
    const sign = s.charCodeAt(i);
    if (sign === C.PLUS || sign === C.MINUS) i++;
    const j = skipDigits(s, i);
    if (j === i) fail(s, j);
    i = j;
  }
  return i;
}

function skipLiteral(s: string, i: number, lit: string): number {
  if (!s.startsWith(lit, i) || i + lit.length > lineEnd) fail(s, i);
  return i + lit.length;
}

/** Validate one value starting at i (no leading whitespace) and return the index after it. */
function skipValue(s: string, i: number, depth: number): number {
  const c = s.charCodeAt(i);
  if (c === C.QUOTE) return skipString(s, i);
  if (c === C.MINUS || (c >= C.D0 && c <= C.D9)) return skipNumber(s, i);
  if (c === C.LBRACE) return skipObject(s, i, depth + 1);
  if (c === C.LBRACKET) return skipArray(s, i, depth + 1);
  if (c === C.LOWER_T) return skipLiteral(s, i, 'true');
  if (c === C.LOWER_F) return skipLiteral(s, i, 'false');
  if (c === C.LOWER_N) return skipLiteral(s, i, 'null');
  return fail(s, i);
}

const MAX_DEPTH = 1000;

function skipObject(s: string, i: number, depth: number): number {
  if (depth > MAX_DEPTH) fail(s, i, 'nesting too deep');
  i = skipWs(s, i + 1);
  if (s.charCodeAt(i) === C.RBRACE) return i + 1;
  for (;;) {
    if (s.charCodeAt(i) !== C.QUOTE) fail(s, i);
    i = skipWs(s, skipString(s, i));
    if (s.charCodeAt(i) !== C.COLON) fail(s, i);
    i = skipWs(s, skipValue(s, skipWs(s, i + 1), depth));
    const c = s.charCodeAt(i);
    if (c === C.RBRACE) return i + 1;
    if (c !== C.COMMA) fail(s, i);
    i = skipWs(s, i + 1);
  }
}

function skipArray(s: string, i: number, depth: number): number {
  if (depth > MAX_DEPTH) fail(s, i, 'nesting too deep');
  i = skipWs(s, i + 1);
  if (s.charCodeAt(i) === C.RBRACKET) return i + 1;
  for (;;) {
    i = skipWs(s, skipValue(s, i, depth));
    const c = s.charCodeAt(i);
    if (c === C.RBRACKET) return i + 1;
    if (c !== C.COMMA) fail(s, i);
    i = skipWs(s, i + 1);
  }
}

function setLine(start: number, end: number, fast: boolean): void {
  lineStart = start;
  lineEnd = end;
  fastStrings = fast;
}

/** A chunk's bytes for matching, when they line up with its decoded text (ASCII); see FieldScanner.scan. */
export interface ChunkBytes {
  b: Uint8Array;
  dv: DataView;
}

export function chunkBytes(buf: Uint8Array): ChunkBytes {
  // a plain Uint8Array (not a Buffer), so that indexOf is the typed array's own
  return { b: new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), dv: new DataView(buf.buffer, buf.byteOffset, buf.byteLength) };
}

/** Whether a decoded chunk allows fast strings: no escapes, tabs or carriage returns anywhere in it. */
export function chunkIsPlain(s: string): boolean {
  return s.indexOf('\\') < 0 && s.indexOf('\t') < 0 && s.indexOf('\r') < 0;
}

/** Throws JsonSyntaxError unless s[start, end) is exactly one JSON value (surrounding whitespace allowed). */
export function validateJson(s: string, start = 0, end = s.length): void {
  setLine(start, end, false);
  const i = skipWs(s, skipValue(s, skipWs(s, start), 0));
  if (i < end) fail(s, i);
}

// The grammar again, over the bytes of a line that may have no text (FieldScanner.matchBytes): each returns the
// index past the token, or -1 where the line stops being one ASCII JSON value on one line. -1 says only "not here":
// the caller then takes the general path, which gives the exact verdict (a byte ≥ 0x80 may be valid UTF-8 text).

// Not CR: a value with a carriage return is not copied as its line (see textRec); the general path decides.
function bSkipWs(b: Uint8Array, i: number): number {
  let c = b[i];
  while (c === C.SPACE || c === C.TAB) c = b[++i];
  return i;
}

function bSkipDigits(b: Uint8Array, i: number): number {
  let c = b[i];
  while (c >= C.D0 && c <= C.D9) c = b[++i];
  return i;
}

function bSkipNumber(b: Uint8Array, i: number, end: number): number {
  if (b[i] === C.MINUS) i++;
  const c = b[i];
  if (c === C.D0) i++;
  else if (c >= C.D1 && c <= C.D9) i = bSkipDigits(b, i + 1);
  else return -1;
  if (b[i] === C.DOT) {
    const j = bSkipDigits(b, i + 1);
    if (j === i + 1) return -1;
    i = j;
  }
  const e = b[i];
  if (e === C.LOWER_E || e === C.UPPER_E) {
    i++;
    const sign = b[i];
    if (sign === C.PLUS || sign === C.MINUS) i++;
    const j = bSkipDigits(b, i);
    if (j === i) return -1;
    i = j;
  }
  return i <= end ? i : -1;
}

function bSkipString(b: Uint8Array, i: number, end: number): number {
  i++;
  while (i < end) {
    const c = b[i];
    if (c === C.QUOTE) return i + 1;
    if (c < 0x20 || c >= 0x80) return -1;
    if (c === C.BACKSLASH) {
      const e = b[i + 1];
      if (e === C.LOWER_U) {
        if (i + 6 > end || !(isHex(b[i + 2]) && isHex(b[i + 3]) && isHex(b[i + 4]) && isHex(b[i + 5]))) return -1;
        i += 6;
      } else if (e === C.QUOTE || e === C.BACKSLASH || e === C.SLASH || e === 98 || e === C.LOWER_F || e === C.LOWER_N || e === 114 || e === C.LOWER_T) {
        i += 2;
      } else return -1;
    } else i++;
  }
  return -1;
}

function bSkipLiteral(b: Uint8Array, i: number, end: number, lit: string): number {
  if (i + lit.length > end) return -1;
  for (let k = 1; k < lit.length; k++) if (b[i + k] !== lit.charCodeAt(k)) return -1;
  return i + lit.length;
}

function bSkipValue(b: Uint8Array, i: number, end: number, depth: number): number {
  const c = b[i];
  if (c === C.QUOTE) return bSkipString(b, i, end);
  if (c === C.MINUS || (c >= C.D0 && c <= C.D9)) return bSkipNumber(b, i, end);
  if (c === C.LBRACE || c === C.LBRACKET) {
    if (depth >= MAX_DEPTH) return -1;
    const close = c === C.LBRACE ? C.RBRACE : C.RBRACKET;
    i = bSkipWs(b, i + 1);
    if (b[i] === close) return i + 1;
    for (;;) {
      if (c === C.LBRACE) {
        if (b[i] !== C.QUOTE) return -1;
        i = bSkipString(b, i, end);
        if (i < 0) return -1;
        i = bSkipWs(b, i);
        if (b[i] !== C.COLON) return -1;
        i = bSkipWs(b, i + 1);
      }
      i = bSkipValue(b, i, end, depth + 1);
      if (i < 0) return -1;
      i = bSkipWs(b, i);
      const d = b[i];
      if (d === close && i < end) return i + 1;
      if (d !== C.COMMA || i >= end) return -1;
      i = bSkipWs(b, i + 1);
    }
  }
  if (c === C.LOWER_T) return bSkipLiteral(b, i, end, 'true');
  if (c === C.LOWER_F) return bSkipLiteral(b, i, end, 'false');
  if (c === C.LOWER_N) return bSkipLiteral(b, i, end, 'null');
  return -1;
}

/** A constructor for views with exactly these fields, so every view shares one hidden class. */
function viewClass(fields: string[]): new () => Record<string, unknown> {
  const body = fields.map((f) => `this[${JSON.stringify(f)}] = undefined;`).join('\n');
  return new Function(body) as unknown as new () => Record<string, unknown>;
}

/**
 * Extracts `fields` from the top-level object of a line, validating the whole line. When the line is not an
 * object the complete parsed value is returned and `lastWasPartial` is false.
 *
 * Records of one stream nearly always share their keys, in the same order and written compactly. So after a
 * shape has been seen on two lines in a row, the scanner compiles a matcher for exactly that shape (compileShape
 * below): the key tokens become constant comparisons and only the values are scanned. A line of another shape
 * fails the matcher at its first difference and is scanned the general way — which learns its shape in turn.
 * A stream whose shapes keep changing stops trying after a while (the misses would cost more than they save).
 */
export class FieldScanner {
  private readonly fields: string[];
  private readonly View: new () => Record<string, unknown>;
  lastWasPartial = true;
  private shape: Shape | undefined;
  private readonly shapes = new Map<string, Shape>();
  private hits = 0;
  private misses = 0;
  private gaveUp = false;
  /** The key signature of the last line scanned the general way, not compiled yet. */
  private candidate: string | undefined;

  constructor(fields: readonly string[]) {
    this.fields = [...fields];
    this.View = viewClass(this.fields);
    this.empty = this.fields.length === 0 ? Object.freeze(new this.View()) : undefined;
  }

  /** With no fields wanted, every view is this one: nothing reads or writes a view then (see fieldsRead). */
  readonly empty: Record<string, unknown> | undefined;

  /**
   * Scans s[start, end); `plain` = chunkIsPlain() of the chunk the line belongs to, `bytes` = chunkBytes() of
   * it when the chunk is ASCII (then matching runs over bytes).
   */
  scan(s: string, start = 0, end = s.length, plain = false, bytes?: ChunkBytes): unknown {
    setLine(start, end, plain);
    const shape = this.shape;
    if (shape !== undefined) {
      const out = this.empty ?? new this.View();
      const m = bytes !== undefined ? (shape.bytes ??= compileShape(shape.keys, this.fields, 'bytes')) : (shape.string ??= compileShape(shape.keys, this.fields, 'string'));
      if (m(s, bytes?.b, bytes?.dv, start, end, out, plain)) {
        this.hits++;
        this.lastWasPartial = true;
        return out;
      }
    }
    const v = this.scanGeneral(s, start, end);
    if (this.lastWasPartial) this.learn(s, start, end, plain);
    return v;
  }

  /** Whether a shape is learned (matchBytes can say yes): not before two lines of one shape, nor after giving up. */
  get matching(): boolean {
    return this.shape !== undefined;
  }

  /**
   * Validates b[start, end) of an ASCII chunk with the learned shape alone, without the chunk's text: true when
   * the line is valid JSON of that shape. False says nothing — the line is then scanned with its text, which
   * also learns its shape. Only for a scanner that wants no fields (there is no view to fill).
   */
  matchBytes(bytes: ChunkBytes, start: number, end: number): boolean {
    const shape = this.shape;
    if (shape === undefined || this.empty === undefined) return false;
    const m = (shape.bytes ??= compileShape(shape.keys, this.fields, 'bytes'));
    if (!m(undefined, bytes.b, bytes.dv, start, end, this.empty!, false)) return false;
    this.hits++;
    this.lastWasPartial = true;
    return true;
  }

  /**
   * After a line scanned the general way: a shape seen on two lines in a row is matched from then on (one seen
   * once is not worth compiling), unless shapes change too often.
   */
  private learn(s: string, start: number, end: number, plain: boolean): void {
    if (this.gaveUp) return;
    if (++this.misses > 64 && this.misses * 8 > this.hits) {
      this.gaveUp = true;
      this.shape = undefined;
      this.candidate = undefined;
      this.shapes.clear();
      return;
    }
    const keys = compactKeys(s, start, end, plain);
    if (keys === undefined) return;
    const sig = keys.join('\u0000');
    let shape = this.shapes.get(sig);
    if (shape === undefined) {
      if (sig !== this.candidate) {
        this.candidate = sig;
        return;
      }
      if (this.shapes.size >= MAX_SHAPES) return;
      shape = { keys };
      this.shapes.set(sig, shape);
    }
    this.shape = shape;
  }

  private scanGeneral(s: string, start: number, end: number): unknown {
    const fields = this.fields;
    const nf = fields.length;
    let i = skipWs(s, start);
    if (s.charCodeAt(i) !== C.LBRACE || i >= end) {
      validateJson(s, start, end);
      this.lastWasPartial = false;
      return JSON.parse(s.slice(start, end));
    }
    this.lastWasPartial = true;
    const out = this.empty ?? new this.View();
    i = skipWs(s, i + 1);
    if (s.charCodeAt(i) === C.RBRACE) {
      i = skipWs(s, i + 1);
      if (i < end) fail(s, i);
      return out;
    }
    for (;;) {
      if (s.charCodeAt(i) !== C.QUOTE) fail(s, i);
      const keyStart = i + 1;
      const keyEnd = skipString(s, i);
      let want = -1;
      if (nf > 0) {
        if (escaped) {
          want = fields.indexOf(JSON.parse(s.slice(i, keyEnd)) as string);
        } else {
          const klen = keyEnd - 1 - keyStart;
          for (let f = 0; f < nf; f++) {
            const name = fields[f];
            if (name.length === klen && s.startsWith(name, keyStart)) { want = f; break; }
          }
        }
      }
      i = keyEnd;
      if (s.charCodeAt(i) !== C.COLON) {
        i = skipWs(s, i);
        if (s.charCodeAt(i) !== C.COLON) fail(s, i);
      }
      i++;
      let c = s.charCodeAt(i);
      if (c === C.SPACE || c === C.TAB || c === C.CR) { i = skipWs(s, i); c = s.charCodeAt(i); }
      if (want >= 0) {
        if (c === C.MINUS || (c >= C.D0 && c <= C.D9)) {
          const vEnd = skipNumber(s, i);
          out[fields[want]] = numberAt(s, i, vEnd);
          i = vEnd;
        } else {
          const vEnd = skipValue(s, i, 1);
          out[fields[want]] = decodeValue(s, i, vEnd);
          i = vEnd;
        }
      } else {
        i = skipValue(s, i, 1);
      }
      c = s.charCodeAt(i);
      if (c === C.SPACE || c === C.TAB || c === C.CR) { i = skipWs(s, i); c = s.charCodeAt(i); }
      if (c === C.COMMA) {
        i++;
        c = s.charCodeAt(i);
        if (c === C.SPACE || c === C.TAB || c === C.CR) i = skipWs(s, i);
        continue;
      }
      if (c === C.RBRACE && i < end) break;
      fail(s, i);
    }
    i = skipWs(s, i + 1);
    if (i < end) fail(s, i);
    return out;
  }
}

/** A validated JSON number; short plain integers are accumulated directly instead of sliced and converted. */
function numberAt(s: string, a: number, b: number): number {
  if (b - a <= 15) {
    let neg = false;
    let k = a;
    if (s.charCodeAt(k) === C.MINUS) { neg = true; k++; }
    let v = 0;
    for (; k < b; k++) {
      const d = s.charCodeAt(k) - C.D0;
      if (d < 0 || d > 9) return Number(s.slice(a, b));
      v = v * 10 + d;
    }
    return neg ? -v : v;
  }
  return Number(s.slice(a, b));
}

/** The value of an already-validated JSON slice, the way JSON.parse would give it. */
function decodeValue(s: string, a: number, b: number): unknown {
  const c = s.charCodeAt(a);
  if (c === C.QUOTE) {
    // skipString ran last over exactly this value, so `escaped` describes it.
    return escaped ? JSON.parse(s.slice(a, b)) : s.slice(a + 1, b - 1);
  }
  if (c === C.LOWER_T) return true;
  if (c === C.LOWER_F) return false;
  if (c === C.LOWER_N) return null;
  return JSON.parse(s.slice(a, b));
}

/**
 * A matcher for one shape of record: `{"k1":v1,"k2":v2,…}` with exactly these keys in this order, no whitespace
 * and no escapes in the keys. It validates the values as the general scanner does and assigns the wanted ones
 * to `out`. Returns false — having possibly assigned some fields — as soon as the line differs from the shape
 * or anything at all is wrong with it; the general scanner then rescans the line and words any error.
 */
type ShapeMatcher = (s: string | undefined, b: Uint8Array | undefined, dv: DataView | undefined, start: number, end: number, out: Record<string, unknown>, plain: boolean) => boolean;

/** A shape's matchers, compiled when first needed: over the string, and over the bytes of ASCII chunks. */
interface Shape {
  keys: string[];
  string?: ShapeMatcher;
  bytes?: ShapeMatcher;
}

const MAX_SHAPES = 16;
/** Wider records are scanned the general way: compiling a matcher grows with its keys (20k keys: over a second). */
const MAX_SHAPE_KEYS = 256;

/** The keys of an (already validated) object line written compactly, or undefined when it is not. */
function compactKeys(s: string, start: number, end: number, plain: boolean): string[] | undefined {
  if (s.charCodeAt(start) !== C.LBRACE || s.charCodeAt(end - 1) !== C.RBRACE) return undefined;
  const keys: string[] = [];
  let i = start + 1;
  if (i === end - 1) return keys;
  setLine(start, end, plain);
  for (;;) {
    if (s.charCodeAt(i) !== C.QUOTE || keys.length === MAX_SHAPE_KEYS) return undefined;
    const q = s.indexOf('"', i + 1);
    const key = s.slice(i + 1, q);
    if (key.includes('\\') || s.charCodeAt(q + 1) !== C.COLON) return undefined;
    keys.push(key);
    const c = s.charCodeAt(q + 2);
    if (c === C.SPACE || c === C.TAB || c === C.CR) return undefined;
    i = skipValue(s, q + 2, 1);
    const d = s.charCodeAt(i);
    if (d === C.RBRACE) return i + 1 === end ? keys : undefined;
    if (d !== C.COMMA) return undefined;
    i++;
  }
}

/**
 * Generated code reads the line either from the string (any chunk) or, much faster, from the chunk's bytes when
 * they sit at the same indices as the string's characters (an ASCII chunk): a byte array and a DataView on it,
 * which compares a key token four characters at a time.
 */
type Target = 'string' | 'bytes';

/** The code that checks `token` at position i and moves past it. */
function tokenCheck(token: string, target: Target): string {
  const parts: string[] = [];
  if (target === 'bytes' && token.length >= 4) {
    parts.push(`i + ${token.length} > end`);
    // little-endian words; the last one may overlap the one before
    for (let k = 0; k < token.length; k += 4) {
      const at = Math.min(k, token.length - 4);
      const word = (token.charCodeAt(at) | (token.charCodeAt(at + 1) << 8) | (token.charCodeAt(at + 2) << 16) | (token.charCodeAt(at + 3) << 24)) >>> 0;
      parts.push(`dv.getUint32(i + ${at}, true) !== ${word}`);
    }
  } else {
    for (let k = 0; k < token.length; k++) parts.push(`${charAt(`i + ${k}`, target)} !== ${token.charCodeAt(k)}`);
  }
  return `if (${parts.join(' || ')}) return false;\ni += ${token.length};`;
}

function charAt(index: string, target: Target): string {
  return target === 'bytes' ? `b[${index}]` : `s.charCodeAt(${index})`;
}

function compileShape(keys: string[], fields: string[], target: Target): ShapeMatcher {
  // The bytes of an ASCII chunk never hold a key with other characters (and the word compares assume bytes).
  if (target === 'bytes' && keys.some((k) => /[^\x00-\x7f]/.test(k))) return () => false;
  const at = (index: string) => charAt(index, target);
  // Over bytes the text may be absent (FieldScanner.matchBytes): the grammar is checked over the bytes, and the text
  // is read only to extract a wanted field (a scanner that wants fields always has it). A byte ≥ 0x80 fails the
  // match, so a matched line is ASCII.
  const body: string[] = ['let c = 0, j = 0, v = 0;'];
  keys.forEach((key, k) => {
    body.push(tokenCheck(`${k === 0 ? '{' : ','}"${key}":`, target));
    const want = fields.includes(key);
    const dest = `out[${JSON.stringify(key)}]`;
    // Numbers (the common value) are scanned inline — integers only, the grammar of skipNumber with numberAt's
    // accumulation; a fraction or exponent goes to skipNumber itself.
    body.push(`c = ${at('i')};
if (c === 45 || (c >= 48 && c <= 57)) {
  j = i;${want ? ' v = 0;' : ''}
  if (c === 45) c = ${at('++j')};
  if (c === 48) c = ${at('++j')};
  else if (c >= 49 && c <= 57) { ${want ? `do { v = v * 10 + (c - 48); c = ${at('++j')}; } while (c >= 48 && c <= 57);` : `do c = ${at('++j')}; while (c >= 48 && c <= 57);`} }
  else return false;
  if (c === 46 || c === 101 || c === 69) {
    ${target === 'bytes' ? `// fraction and exponent inline too: the common float costs no call
    if (c === 46) {
      c = b[++j];
      if (c < 48 || c > 57) return false;
      do c = b[++j]; while (c >= 48 && c <= 57);
    }
    if (c === 101 || c === 69) {
      c = b[++j];
      if (c === 43 || c === 45) c = b[++j];
      if (c < 48 || c > 57) return false;
      do c = b[++j]; while (c >= 48 && c <= 57);
    }` : `j = H.number(s, i);
    if (j < 0) return false;`}
    ${want ? `${dest} = Number(s.slice(i, j));` : ''}
  }${want ? ` else ${dest} = j - i > 15 ? Number(s.slice(i, j)) : ${at('i')} === 45 ? -v : v;` : ''}
  i = j;
} else if (c === 34) {${target === 'bytes' ? `
  // up to the closing quote, unless a backslash or a control character comes first
  j = i + 1;
  while (j < end && (c = b[j]) !== 34 && c !== 92 && c >= 32 && c < 128) j++;
  if (c === 34 && j < end) {
    ${want ? `${dest} = s.slice(i + 1, j);` : ''}
    i = j + 1;
  } else {
    j = H.bstring(b, i, end);
    if (j < 0) return false;
    ${want ? `${dest} = JSON.parse(s.slice(i, j));` : ''}
    i = j;
  }` : `
  j = plain ? s.indexOf('"', i + 1) + 1 : H.string(s, i);
  if (j <= 0 || j > end) return false;
  ${want ? `${dest} = plain || !H.escaped() ? s.slice(i + 1, j - 1) : JSON.parse(s.slice(i, j));` : ''}
  i = j;`}
} else if (c === 116) {
  if (${at('i + 1')} !== 114 || ${at('i + 2')} !== 117 || ${at('i + 3')} !== 101) return false;
  ${want ? `${dest} = true;` : ''}
  i += 4;
} else if (c === 102) {
  if (${at('i + 1')} !== 97 || ${at('i + 2')} !== 108 || ${at('i + 3')} !== 115 || ${at('i + 4')} !== 101) return false;
  ${want ? `${dest} = false;` : ''}
  i += 5;
} else if (c === 110) {
  if (${at('i + 1')} !== 117 || ${at('i + 2')} !== 108 || ${at('i + 3')} !== 108) return false;
  ${want ? `${dest} = null;` : ''}
  i += 4;
} else {
  j = ${target === 'bytes' ? 'H.bvalue(b, i, end, 1)' : 'H.value(s, i)'};
  if (j < 0) return false;
  ${want ? `${dest} = H.decode(s, i, j);` : ''}
  i = j;
}`);
  });
  if (keys.length === 0) body.push(tokenCheck('{', target));
  body.push(`return ${at('i')} === 125 && i + 1 === end;`);
  const make = new Function('H', `return function shape(s, b, dv, i, end, out, plain) {\n${body.join('\n')}\n};`);
  return make(shapeHelpers) as ShapeMatcher;
}

/** What compiled matchers call for the rare parts; each returns -1 instead of throwing. */
const shapeHelpers = {
  number(s: string, i: number): number {
    try { return skipNumber(s, i); } catch { return -1; }
  },
  string(s: string, i: number): number {
    try { return skipString(s, i); } catch { return -1; }
  },
  escaped(): boolean {
    return escaped;
  },
  value(s: string, i: number): number {
    try { return skipValue(s, i, 1); } catch { return -1; }
  },
  decode: decodeValue,
  bstring: bSkipString,
  bvalue: bSkipValue,
};
