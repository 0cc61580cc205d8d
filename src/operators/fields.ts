import type { FieldNeeds } from '../pipeline/stage.js';

/**
 * Which top-level fields of `r` an expression reads, found by a small tokenizer (strings, template literals,
 * comments and regular expressions are skipped so an `r` inside them does not count).
 *
 * The answer must never be too small: when `r` is used in any way other than `r.name` / `r?.name` read access —
 * `r` alone, `r[k]`, `...r`, an assignment to `r.x`, an arrow parameter named `r`, `arguments`, `eval` — the
 * expression needs the whole value ('all'). Names that live on Object.prototype also force 'all', since a partial view would answer
 * them from the prototype instead of the record.
 */
const PROTO_NAMES = new Set(Object.getOwnPropertyNames(Object.prototype));
const REGEX_AFTER_WORD = new Set(['return', 'typeof', 'instanceof', 'in', 'of', 'new', 'delete', 'void', 'throw', 'case', 'do', 'else', 'yield', 'await']);

const isIdStart = (c: string) => /[A-Za-z_$\u00c0-\uffff]/.test(c);
const isIdPart = (c: string) => /[\w$\u00c0-\uffff]/.test(c);

/** The record's context variables beside `r` (expr.ts): what a source must carry for an expression that reads them. */
export const CONTEXT_NAMES = ['key', 'ts', 'headers'] as const;
export type ContextName = (typeof CONTEXT_NAMES)[number];

/**
 * Whether the expression declares `name` itself — an arrow or function parameter (plain or destructured) or a
 * `const`/`let`/`var` — so that its uses may be its own and not the record's. Generous on purpose: a name taken
 * for bound costs at most an `undefined`, a name taken for the record's refuses a valid expression.
 */
export function bindsName(src: string, name: string): boolean {
  const w = `\\b${name}\\b`;
  return (
    new RegExp(`${w}\\s*=>`).test(src) ||
    new RegExp(`\\(([^()]|\\([^()]*\\))*${w}([^()]|\\([^()]*\\))*\\)\\s*=>`).test(src) ||
    new RegExp(`function\\s*[\\w$]*\\s*\\([^)]*${w}`).test(src) ||
    new RegExp(`\\b(const|let|var)\\s+[^=;]*${w}`).test(src) ||
    new RegExp(`\\bcatch\\s*\\(\\s*${w}`).test(src)
  );
}

/**
 * `used`, when given, collects the context variables (`key`, `ts`, `headers`) the expression reads: every use
 * of the name that is not a member (`r.key`) or an object literal's key (`{key: 1}`).
 */
export function fieldsRead(src: string, variable = 'r', used?: Set<ContextName>): FieldNeeds {
  const fields = new Set<string>();
  let all = false;
  // Previous significant token, to tell a regex from a division and a member name from a variable.
  let prev = '';
  let i = 0;
  const n = src.length;

  const skipWsComments = (j: number): number => {
    for (;;) {
      while (j < n && /\s/.test(src[j])) j++;
      if (src.startsWith('//', j)) { while (j < n && src[j] !== '\n') j++; continue; }
      if (src.startsWith('/*', j)) { const e = src.indexOf('*/', j + 2); j = e < 0 ? n : e + 2; continue; }
      return j;
    }
  };
  const skipQuoted = (j: number, q: string): number => {
    j++;
    while (j < n && src[j] !== q) j += src[j] === '\\' ? 2 : 1;
    return j + 1;
  };
  // Template literal: the text is skipped, the code inside ${...} is scanned like any other code.
  const scanTemplate = (j: number): number => {
    j++;
    while (j < n && src[j] !== '`') {
      if (src[j] === '\\') { j += 2; continue; }
      if (src.startsWith('${', j)) { j = scan(j + 2, true); continue; }
      j++;
    }
    return j + 1;
  };
  const skipRegex = (j: number): number => {
    j++;
    let inClass = false;
    while (j < n) {
      const c = src[j];
      if (c === '\\') { j += 2; continue; }
      if (c === '[') inClass = true;
      else if (c === ']') inClass = false;
      else if (c === '/' && !inClass) break;
      j++;
    }
    j++;
    while (j < n && /[a-z]/i.test(src[j])) j++;
    return j;
  };

  // Scans code from j; when `untilBrace`, stops after the `}` that closes a template substitution.
  function scan(j: number, untilBrace: boolean): number {
    let depth = 0;
    while (j < n) {
      j = skipWsComments(j);
      if (j >= n) break;
      const c = src[j];
      if (c === '"' || c === "'") { j = skipQuoted(j, c); prev = 'str'; continue; }
      if (c === '`') { j = scanTemplate(j); prev = 'str'; continue; }
      if (c === '/') {
        const division = /^[\w$)\]}]$/.test(prev.slice(-1)) && !REGEX_AFTER_WORD.has(prev);
        if (division) { j++; prev = '/'; } else { j = skipRegex(j); prev = 'regex'; }
        continue;
      }
      if (untilBrace && c === '{') depth++;
      if (untilBrace && c === '}') {
        if (depth === 0) return j + 1;
        depth--;
      }
      if (isIdStart(c)) {
        let e = j + 1;
        while (e < n && isIdPart(src[e])) e++;
        const word = src.slice(j, e);
        const isMember = prev === '.' || prev === '?.';
        // `arguments[0]` is r, and eval can name it: neither can be followed, so the whole value is needed
        if (!isMember && (word === 'arguments' || word === 'eval')) all = true;
        if (used && !isMember && (CONTEXT_NAMES as readonly string[]).includes(word)) {
          const objectKey = (prev === '{' || prev === ',') && src[skipWsComments(e)] === ':';
          if (!objectKey) used.add(word as ContextName);
        }
        if (word === variable && !isMember) {
          // r.<name> or r?.<name>, read-only, is a field; anything else needs the whole value.
          let k = skipWsComments(e);
          let dot = 0;
          if (src[k] === '.' && src[k + 1] !== '.') dot = 1;
          else if (src.startsWith('?.', k) && !/\d/.test(src[k + 2] ?? '')) dot = 2;
          k = dot ? skipWsComments(k + dot) : k;
          let name = '';
          if (dot && k < n && isIdStart(src[k])) {
            let m = k + 1;
            while (m < n && isIdPart(src[m])) m++;
            name = src.slice(k, m);
            const after = src.slice(skipWsComments(m));
            const assigns = /^(=(?![=>])|\+\+|--|[-+*/%&|^]=|\*\*=|<<=|>>>?=|&&=|\|\|=|\?\?=)/.test(after);
            if (!assigns && !PROTO_NAMES.has(name) && !/^(\+\+|--|delete)$/.test(prev)) fields.add(name);
            else all = true;
            prev = name;
            j = m;
            continue;
          }
          all = true;
        }
        prev = word;
        j = e;
        continue;
      }
      if (/\d/.test(c)) {
        let e = j + 1;
        while (e < n && /[\w.]/.test(src[e])) e++;
        prev = src.slice(j, e);
        j = e;
        continue;
      }
      // Punctuators: remember ".", "?.", "...", "++", "--" for member/spread/update detection.
      const three = src.slice(j, j + 3);
      const two = src.slice(j, j + 2);
      if (three === '...') { prev = '...'; j += 3; continue; }
      if (two === '?.' && !/\d/.test(src[j + 2] ?? '')) { prev = '?.'; j += 2; continue; }
      if (two === '++' || two === '--') { prev = two; j += 2; continue; }
      prev = c;
      j++;
    }
    return j;
  }

  scan(0, false);
  if (all) return 'all';
  return fields.size === 0 ? 'none' : [...fields];
}
