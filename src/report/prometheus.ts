/**
 * A reader of the Prometheus text exposition (format 0.0.4), for `kstream top`, which scrapes running jobs: what
 * report/metrics.ts writes, and what any other exporter in that format writes. Per line: `# HELP name text`
 * (text with `\\` and `\n` escaped), `# TYPE name type`, other `#` comments (ignored), blank lines, and samples
 * `name{label="value",…} value [timestamp]` — label values with `\\`, `\"` and `\n` escaped, a trailing comma
 * allowed, values as Go's ParseFloat reads them (`+Inf`, `-Inf`, `NaN` included), the timestamp integer ms.
 * Anything else is an Error naming the line.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  /** ms since the epoch, when the line gave one. */
  timestamp?: number;
}

export interface Exposition {
  samples: Sample[];
  /** By family name: counter, gauge, histogram, summary or untyped. */
  types: Map<string, string>;
  help: Map<string, string>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /[a-zA-Z_][a-zA-Z0-9_]*/y;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

class ParseError extends Error {
  constructor(lineNo: number, line: string, what: string) {
    super(`line ${lineNo}: ${what}: ${line.length > 120 ? `${line.slice(0, 120)}…` : line}`);
  }
}

/** A sample value: decimal or exponent floats, `+Inf`/`-Inf`/`Inf`, `NaN` (any case). */
export function parseValue(text: string): number | undefined {
  const t = text.toLowerCase();
  if (t === '+inf' || t === 'inf') return Infinity;
  if (t === '-inf') return -Infinity;
  if (t === 'nan') return NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/.test(t)) return undefined;
  return Number(text);
}

/** HELP text: `\\` is a backslash, `\n` a newline; any other backslash stays as it is. */
function unescapeHelp(s: string): string {
  return s.replace(/\\([\\n])/g, (_, c: string) => (c === 'n' ? '\n' : '\\'));
}

export function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    // a CRLF file is read as LF; blank lines (and trailing spaces) are allowed
    const line = lines[n].replace(/\r$/, '');
    const bad = (what: string) => new ParseError(n + 1, line, what);
    if (line.trim() === '') continue;
    if (line.trimStart().startsWith('#')) {
      const m = /^\s*#\s+(HELP|TYPE)\s+(\S+)(?:[ \t]+(.*))?$/.exec(line);
      if (!m) continue; // a plain comment
      const [, kind, name, rest = ''] = m;
      if (!NAME.test(name)) throw bad(`invalid metric name \`${name}\``);
      if (kind === 'HELP') help.set(name, unescapeHelp(rest));
      else {
        const type = rest.trim();
        if (!TYPES.has(type)) throw bad(`unknown type \`${type}\``);
        types.set(name, type);
      }
      continue;
    }
    samples.push(parseSample(line, bad));
  }
  return { samples, types, help };
}

function parseSample(line: string, bad: (what: string) => Error): Sample {
  let i = 0;
  const skipBlanks = () => {
    while (line[i] === ' ' || line[i] === '\t') i++;
  };
  skipBlanks();
  const nameMatch = /[a-zA-Z_:][a-zA-Z0-9_:]*/y;
  nameMatch.lastIndex = i;
  const nm = nameMatch.exec(line);
  if (!nm) throw bad('expected a metric name');
  const name = nm[0];
  i = nameMatch.lastIndex;
  const labels: Record<string, string> = {};
  skipBlanks();
  if (line[i] === '{') {
    i++;
    for (;;) {
      skipBlanks();
      if (line[i] === '}') {
        i++;
        break;
      }
      LABEL_NAME.lastIndex = i;
      const ln = LABEL_NAME.exec(line);
      if (!ln) throw bad('expected a label name');
      i = LABEL_NAME.lastIndex;
      skipBlanks();
      if (line[i] !== '=') throw bad(`expected = after label \`${ln[0]}\``);
      i++;
      skipBlanks();
      if (line[i] !== '"') throw bad(`expected a quoted value for label \`${ln[0]}\``);
      i++;
      let value = '';
      for (;;) {
        const c = line[i];
        if (c === undefined) throw bad(`unterminated value of label \`${ln[0]}\``);
        i++;
        if (c === '"') break;
        if (c !== '\\') {
          value += c;
          continue;
        }
        const e = line[i++];
        if (e === '\\') value += '\\';
        else if (e === '"') value += '"';
        else if (e === 'n') value += '\n';
        else throw bad(`invalid escape \`\\${e ?? ''}\` in label \`${ln[0]}\``);
      }
      if (Object.hasOwn(labels, ln[0])) throw bad(`label \`${ln[0]}\` given twice`);
      labels[ln[0]] = value;
      skipBlanks();
      if (line[i] === ',') i++;
      else if (line[i] !== '}') throw bad('expected , or } after a label');
    }
  }
  const rest = line.slice(i).trim().split(/[ \t]+/);
  if (rest.length === 0 || rest[0] === '' || rest.length > 2) throw bad('expected a value and at most a timestamp');
  const value = parseValue(rest[0]);
  if (value === undefined) throw bad(`invalid value \`${rest[0]}\``);
  const sample: Sample = { name, labels, value };
  if (rest.length === 2) {
    if (!/^-?\d+$/.test(rest[1])) throw bad(`invalid timestamp \`${rest[1]}\``);
    sample.timestamp = Number(rest[1]);
  }
  return sample;
}

/** The samples named `name` (any labels). */
export function samplesOf(e: Exposition, name: string): Sample[] {
  return e.samples.filter((s) => s.name === name);
}

/** The sum of the samples named `name` over every label set; undefined when there is none. */
export function sumOf(e: Exposition, name: string): number | undefined {
  const found = samplesOf(e, name);
  return found.length ? found.reduce((a, s) => a + s.value, 0) : undefined;
}

/** The largest of the samples named `name`; undefined when there is none. */
export function maxOf(e: Exposition, name: string): number | undefined {
  const found = samplesOf(e, name);
  return found.length ? Math.max(...found.map((s) => s.value)) : undefined;
}

/**
 * A histogram's cumulative buckets, summed over its label sets (other than `le`), by upper bound in ascending
 * order, `+Inf` last; empty when it has none.
 */
export function bucketsOf(e: Exposition, name: string): { le: number; count: number }[] {
  const by = new Map<number, number>();
  for (const s of samplesOf(e, `${name}_bucket`)) {
    const le = s.labels.le === undefined ? undefined : parseValue(s.labels.le);
    if (le === undefined || Number.isNaN(le)) continue;
    by.set(le, (by.get(le) ?? 0) + s.value);
  }
  return [...by].sort((a, b) => a[0] - b[0]).map(([le, count]) => ({ le, count }));
}
