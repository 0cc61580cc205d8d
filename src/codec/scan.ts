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
  throw new JsonSyntaxError(why, i - lineStart + 1);
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

function setLine(s: string, start: number, end: number, fast: boolean): void {
  lineStart = start;
  lineEnd = end;
  fastStrings = fast;
}

/** Whether a decoded chunk allows fast strings: no escapes, tabs or carriage returns anywhere in it. */
export function chunkIsPlain(s: string): boolean {
  return s.indexOf('\\') < 0 && s.indexOf('\t') < 0 && s.indexOf('\r') < 0;
}

/** Throws JsonSyntaxError unless s[start, end) is exactly one JSON value (surrounding whitespace allowed). */
export function validateJson(s: string, start = 0, end = s.length): void {
  setLine(s, start, end, false);
  const i = skipWs(s, skipValue(s, skipWs(s, start), 0));
  if (i < end) fail(s, i);
}

/** A constructor for views with exactly these fields, so every view shares one hidden class. */
function viewClass(fields: string[]): new () => Record<string, unknown> {
  const body = fields.map((f) => `this[${JSON.stringify(f)}] = undefined;`).join('\n');
  return new Function(body) as unknown as new () => Record<string, unknown>;
}

/**
 * Extracts `fields` from the top-level object of a line, validating the whole line. When the line is not an
 * object the complete parsed value is returned and `lastWasPartial` is false.
 */
export class FieldScanner {
  private readonly fields: string[];
  private readonly View: new () => Record<string, unknown>;
  lastWasPartial = true;

  constructor(fields: readonly string[]) {
    this.fields = [...fields];
    this.View = viewClass(this.fields);
  }

  /** Scans s[start, end); `plain` = chunkIsPlain() of the chunk the line belongs to. */
  scan(s: string, start = 0, end = s.length, plain = false): unknown {
    setLine(s, start, end, plain);
    const fields = this.fields;
    const nf = fields.length;
    let i = skipWs(s, start);
    if (s.charCodeAt(i) !== C.LBRACE || i >= end) {
      validateJson(s, start, end);
      this.lastWasPartial = false;
      return JSON.parse(s.slice(start, end));
    }
    this.lastWasPartial = true;
    const out = new this.View();
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
