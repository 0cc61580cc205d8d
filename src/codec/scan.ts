/**
 * A validating JSON scanner that extracts only some top-level fields of an object.
 *
 * Why: `JSON.parse` builds every value of every record, but most stages read one or two fields (`r.latency_ms > 50`)
 * and forward the line untouched. The scanner walks the whole text once — so a malformed line is still rejected,
 * exactly as JSON.parse would reject it — but materialises only the wanted fields. Values it returns are identical
 * to what JSON.parse returns for them (numbers via Number() over the same grammar, strings without escapes sliced,
 * anything else handed to JSON.parse). Duplicate keys resolve to the last occurrence, as in JSON.parse.
 *
 * Errors are thrown as JsonSyntaxError with a column, worded the same on Node, Bun and Deno.
 */
export class JsonSyntaxError extends Error {
  constructor(readonly reason: string, readonly column: number) {
    super(`invalid JSON at column ${column}: ${reason}`);
  }
}

const enum C {
  TAB = 9, LF = 10, CR = 13, SPACE = 32, QUOTE = 34, PLUS = 43, COMMA = 44, MINUS = 45, DOT = 46, SLASH = 47,
  D0 = 48, D1 = 49, D9 = 57, COLON = 58, UPPER_E = 69, LBRACKET = 91, BACKSLASH = 92, RBRACKET = 93,
  LOWER_E = 101, LOWER_F = 102, LOWER_N = 110, LOWER_T = 116, LOWER_U = 117, LBRACE = 123, RBRACE = 125,
}

function describe(s: string, i: number): string {
  if (i >= s.length) return 'unexpected end of line';
  const ch = s[i];
  return `unexpected ${ch === '"' ? "'\"'" : JSON.stringify(ch).slice(1, -1) === ch ? `'${ch}'` : JSON.stringify(ch)}`;
}

function fail(s: string, i: number, reason?: string): never {
  throw new JsonSyntaxError(reason ?? describe(s, i), i + 1);
}

function skipWs(s: string, i: number): number {
  for (;;) {
    const c = s.charCodeAt(i);
    if (c === C.SPACE || c === C.TAB || c === C.LF || c === C.CR) i++;
    else return i;
  }
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

/** Index just past the closing quote of the string opening at i. Sets `escaped` when it saw a backslash. */
let escaped = false;
function skipString(s: string, i: number): number {
  escaped = false;
  i++;
  const n = s.length;
  for (;;) {
    if (i >= n) fail(s, i, 'unterminated string');
    const c = s.charCodeAt(i);
    if (c === C.QUOTE) return i + 1;
    if (c === C.BACKSLASH) {
      escaped = true;
      const e = s.charCodeAt(i + 1);
      if (e === C.LOWER_U) {
        if (!(isHex(s.charCodeAt(i + 2)) && isHex(s.charCodeAt(i + 3)) && isHex(s.charCodeAt(i + 4)) && isHex(s.charCodeAt(i + 5)))) {
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
  if (!s.startsWith(lit, i)) fail(s, i);
  return i + lit.length;
}

/** Validate one value starting at i (no leading whitespace) and return the index after it. */
function skipValue(s: string, i: number, depth: number): number {
  const c = s.charCodeAt(i);
  if (c === C.QUOTE) return skipString(s, i);
  if (c === C.LBRACE) return skipObject(s, i, depth + 1);
  if (c === C.LBRACKET) return skipArray(s, i, depth + 1);
  if (c === C.LOWER_T) return skipLiteral(s, i, 'true');
  if (c === C.LOWER_F) return skipLiteral(s, i, 'false');
  if (c === C.LOWER_N) return skipLiteral(s, i, 'null');
  if (c === C.MINUS || (c >= C.D0 && c <= C.D9)) return skipNumber(s, i);
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

/** Throws JsonSyntaxError unless `s` is exactly one JSON value (surrounding whitespace allowed). */
export function validateJson(s: string): void {
  let i = skipWs(s, 0);
  i = skipWs(s, skipValue(s, i, 0));
  if (i < s.length) fail(s, i);
}

/**
 * Extracts `fields` from the top-level object in `s`, validating the whole text.
 * Returns a plain object holding only the fields present, or — when the text is not an object — the parsed
 * value itself with `partial` false (read `lastWasPartial`).
 */
export class FieldScanner {
  private readonly fields: string[];
  /** Set by scan(): false when the returned value is complete (the text was not an object). */
  lastWasPartial = true;

  constructor(fields: readonly string[]) {
    this.fields = [...fields];
  }

  scan(s: string): unknown {
    const fields = this.fields;
    const nf = fields.length;
    let i = skipWs(s, 0);
    if (s.charCodeAt(i) !== C.LBRACE) {
      validateJson(s);
      this.lastWasPartial = false;
      return JSON.parse(s);
    }
    this.lastWasPartial = true;
    const out: Record<string, unknown> = {};
    i = skipWs(s, i + 1);
    if (s.charCodeAt(i) === C.RBRACE) {
      i = skipWs(s, i + 1);
      if (i < s.length) fail(s, i);
      return out;
    }
    for (;;) {
      if (s.charCodeAt(i) !== C.QUOTE) fail(s, i);
      const keyStart = i + 1;
      const keyEnd = skipString(s, i);
      let want = -1;
      if (nf > 0) {
        if (escaped) {
          const k = JSON.parse(s.slice(i, keyEnd)) as string;
          want = fields.indexOf(k);
        } else {
          const klen = keyEnd - 1 - keyStart;
          for (let f = 0; f < nf; f++) {
            const name = fields[f];
            if (name.length === klen && s.startsWith(name, keyStart)) { want = f; break; }
          }
        }
      }
      i = skipWs(s, keyEnd);
      if (s.charCodeAt(i) !== C.COLON) fail(s, i);
      const vStart = skipWs(s, i + 1);
      const vEnd = skipValue(s, vStart, 1);
      if (want >= 0) out[fields[want]] = decodeValue(s, vStart, vEnd);
      i = skipWs(s, vEnd);
      const c = s.charCodeAt(i);
      if (c === C.RBRACE) break;
      if (c !== C.COMMA) fail(s, i);
      i = skipWs(s, i + 1);
    }
    i = skipWs(s, i + 1);
    if (i < s.length) fail(s, i);
    return out;
  }
}

/** The value of an already-validated JSON slice, the way JSON.parse would give it. */
function decodeValue(s: string, a: number, b: number): unknown {
  const c = s.charCodeAt(a);
  if (c === C.QUOTE) {
    // skipString ran last over exactly this value, so `escaped` describes it.
    return escaped ? JSON.parse(s.slice(a, b)) : s.slice(a + 1, b - 1);
  }
  if (c === C.MINUS || (c >= C.D0 && c <= C.D9)) return Number(s.slice(a, b));
  if (c === C.LOWER_T) return true;
  if (c === C.LOWER_F) return false;
  if (c === C.LOWER_N) return null;
  return JSON.parse(s.slice(a, b));
}
