/**
 * `gen --template`: a JSON document with placeholders, compiled once into literal parts and renderers.
 *
 *   {{seq}}  {{ts}}  {{now}}  {{uuid}}  {{int 1 100}}  {{float 0 1 2}}  {{pick a b c}}  {{zipf 1000 1.1}}  {{bool 0.9}}
 *
 * A placeholder standing for a whole JSON value renders a JSON value (`"n": {{int 1 9}}`, `"c": {{pick US DE}}` →
 * `"US"`); inside a JSON string it renders text (`"user": "u{{zipf 100 1.2}}"`). Which one is decided at compile
 * time by tracking string state while scanning the template, so rendering is a plain concatenation loop.
 */
import { Prng, Zipf, uuidV4 } from './prng.js';
import type { RecordMaker } from './maker.js';
import { UsageError } from '../pipeline/errors.js';

interface Ctx {
  rng: Prng;
  seq: number;
  ts: number;
  now: number;
}

type Render = (c: Ctx) => string;

const NAMES = 'seq, ts, now, uuid, int, float, pick, zipf or bool';

export interface CompiledTemplate {
  /** The placeholder names in order of appearance (for help and tests). */
  readonly placeholders: string[];
  /** A record maker drawing from `rng`. */
  maker(rng: Prng): RecordMaker;
}

export function compileTemplate(text: string): CompiledTemplate {
  const lits: string[] = [];
  const specs: { name: string; build: (rng: Prng) => Render }[] = [];
  let lit = '';
  let inString = false;
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '{' && text[i + 1] === '{') {
      const close = text.indexOf('}}', i + 2);
      if (close < 0) throw new UsageError(`unterminated template placeholder \`${text.slice(i, i + 20)}\``, 'close it with }}');
      const inner = text.slice(i + 2, close).trim();
      lits.push(lit);
      lit = '';
      specs.push(placeholder(inner, inString));
      i = close + 2;
      continue;
    }
    if (inString) {
      lit += ch;
      if (ch === '\\') {
        if (i + 1 < text.length) lit += text[i + 1];
        i += 2;
        continue;
      }
      if (ch === '"') inString = false;
    } else if (ch === '\n' || ch === '\r') {
      // A pretty-printed template becomes one NDJSON line: drop line breaks and the indentation after them.
      while (i + 1 < text.length && /[ \t\r\n]/.test(text[i + 1])) i++;
    } else {
      if (ch === '"') inString = true;
      lit += ch;
    }
    i++;
  }
  lits.push(lit);

  const compiled: CompiledTemplate = {
    placeholders: specs.map((s) => s.name),
    maker: (rng) => new TemplateMaker(lits, specs.map((s) => s.build(rng)), rng),
  };
  validate(text, compiled);
  return compiled;
}

/** Render a few samples from a throwaway generator: a template that cannot give JSON fails now, not mid-stream. */
function validate(text: string, t: CompiledTemplate): void {
  const lines: string[] = [];
  t.maker(new Prng('template-check')).make(0, [0, 1, 2], 3, 0, lines, null);
  for (const line of lines) {
    try {
      JSON.parse(line);
    } catch (e) {
      const shown = text.length > 60 ? text.slice(0, 57) + '...' : text;
      throw new UsageError(
        `template \`${shown.replace(/\s+/g, ' ')}\` does not render valid JSON (${(e as Error).message}): \`${line}\``,
        'quote placeholders inside strings ("u{{int 1 9}}"), leave whole values bare ({{int 1 9}})',
      );
    }
  }
}

class TemplateMaker implements RecordMaker {
  private readonly ctx: Ctx;

  constructor(private readonly lits: string[], private readonly parts: Render[], rng: Prng) {
    this.ctx = { rng, seq: 0, ts: 0, now: 0 };
  }

  make(seq0: number, ts: ArrayLike<number>, n: number, now: number, lines: string[], values: unknown[] | null): void {
    const { lits, parts, ctx } = this;
    const np = parts.length;
    ctx.now = Math.floor(now);
    for (let i = 0; i < n; i++) {
      ctx.seq = seq0 + i;
      ctx.ts = ts[i];
      let s = lits[0];
      for (let j = 0; j < np; j++) s += parts[j](ctx) + lits[j + 1];
      lines.push(s);
      if (values) values.push(JSON.parse(s));
    }
  }
}

// --- placeholders -------------------------------------------------------------------------------------------------

/** Split arguments on whitespace; "double quoted" arguments may contain spaces (JSON string syntax). */
function splitArgs(inner: string): string[] {
  const out: string[] = [];
  const re = /"(?:[^"\\]|\\.)*"|\S+/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(inner)) !== null) {
    const tok = m[0];
    if (tok.startsWith('"') && tok.length > 1) {
      try {
        out.push(JSON.parse(tok));
        continue;
      } catch {
        // not a valid JSON string: keep the text as written
      }
    }
    out.push(tok);
  }
  return out;
}

function num(name: string, arg: string | undefined, what: string, opts: { int?: boolean; min?: number } = {}): number {
  const usage = usageOf(name);
  if (arg === undefined) throw new UsageError(`template placeholder \`{{${name}}}\` needs ${what}`, `write ${usage}`);
  const v = Number(arg);
  if (arg.trim() === '' || !Number.isFinite(v) || (opts.int && !Number.isInteger(v)) || (opts.min !== undefined && v < opts.min)) {
    throw new UsageError(`template placeholder \`{{${name} ...}}\`: \`${arg}\` is not a valid ${what}`, `write ${usage}`);
  }
  return v;
}

function usageOf(name: string): string {
  switch (name) {
    case 'int':
      return '{{int <lo> <hi>}}, e.g. {{int 1 100}}';
    case 'float':
      return '{{float <lo> <hi> [decimals]}}, e.g. {{float 0 1 2}}';
    case 'pick':
      return '{{pick <a> <b> ...}}, e.g. {{pick US DE FR}}';
    case 'zipf':
      return '{{zipf <keys> <exponent>}}, e.g. {{zipf 1000 1.1}}';
    case 'bool':
      return '{{bool <p>}}, e.g. {{bool 0.9}}';
    default:
      return `{{${name}}}`;
  }
}

/** Text of a JSON string's contents (without the quotes). */
const strText = (s: string): string => JSON.stringify(s).slice(1, -1);

/** A pick argument as a whole JSON value: JSON scalars stay as written (1, true, null), anything else is a string. */
function asJsonValue(s: string): string {
  if (/^(true|false|null|-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?)$/.test(s)) return s;
  return JSON.stringify(s);
}

/** Integer `n` scaled by 10^d, printed with exactly d decimals: integer arithmetic, so every engine agrees. */
function fixed(n: number, d: number): string {
  if (d === 0) return String(n);
  const neg = n < 0;
  const digits = String(Math.abs(n)).padStart(d + 1, '0');
  return (neg ? '-' : '') + digits.slice(0, digits.length - d) + '.' + digits.slice(digits.length - d);
}

function placeholder(inner: string, inString: boolean): { name: string; build: (rng: Prng) => Render } {
  const [name, ...args] = splitArgs(inner);
  const noArgs = (): void => {
    if (args.length) throw new UsageError(`template placeholder \`{{${inner}}}\` takes no arguments`, `write {{${name}}}`);
  };
  switch (name) {
    case 'seq':
      noArgs();
      return { name, build: () => (c) => String(c.seq) };
    case 'ts':
      noArgs();
      return { name, build: () => (c) => String(c.ts) };
    case 'now':
      noArgs();
      return { name, build: () => (c) => String(c.now) };
    case 'uuid':
      noArgs();
      return { name, build: () => (inString ? (c) => uuidV4(c.rng) : (c) => '"' + uuidV4(c.rng) + '"') };
    case 'int': {
      const lo = num(name, args[0], 'integer lower bound', { int: true });
      const hi = num(name, args[1], 'integer upper bound', { int: true });
      if (hi < lo) throw new UsageError(`template placeholder \`{{${inner}}}\`: upper bound below lower bound`, `write ${usageOf(name)}`);
      return { name, build: () => (c) => String(c.rng.int(lo, hi)) };
    }
    case 'float': {
      const lo = num(name, args[0], 'lower bound');
      const hi = num(name, args[1], 'upper bound');
      if (hi < lo) throw new UsageError(`template placeholder \`{{${inner}}}\`: upper bound below lower bound`, `write ${usageOf(name)}`);
      if (args[2] === undefined) {
        // Full precision: uniform in [lo, hi).
        return { name, build: () => (c) => String(lo + c.rng.float() * (hi - lo)) };
      }
      const d = num(name, args[2], 'number of decimals (0-12)', { int: true, min: 0 });
      if (d > 12) throw new UsageError(`template placeholder \`{{${inner}}}\`: at most 12 decimals`, `write ${usageOf(name)}`);
      // Drawn directly as an integer count of 10^-d steps in [lo, hi], both inclusive.
      let scale = 1;
      for (let k = 0; k < d; k++) scale *= 10; // exact, unlike a pow() whose last bit may vary by engine
      const ilo = Math.ceil(lo * scale - 1e-9);
      const ihi = Math.floor(hi * scale + 1e-9);
      return { name, build: () => (c) => fixed(c.rng.int(ilo, ihi), d) };
    }
    case 'pick': {
      if (args.length === 0) throw new UsageError(`template placeholder \`{{pick}}\` needs at least one choice`, `write ${usageOf(name)}`);
      const forms = args.map((a) => (inString ? strText(a) : asJsonValue(a)));
      return { name, build: () => (c) => c.rng.pick(forms) };
    }
    case 'zipf': {
      const n = num(name, args[0], `key count (1-${Zipf.MAX_KEYS})`, { int: true, min: 1 });
      const s = num(name, args[1] ?? '1', 'exponent (>= 0)', { min: 0 });
      if (n > Zipf.MAX_KEYS) throw new UsageError(`template placeholder \`{{${inner}}}\`: at most ${Zipf.MAX_KEYS} keys`, `write ${usageOf(name)}`);
      return {
        name,
        build: () => {
          const z = new Zipf(n, s);
          return (c) => String(z.sample(c.rng));
        },
      };
    }
    case 'bool': {
      const p = num(name, args[0] ?? '0.5', 'probability (0-1)', { min: 0 });
      if (p > 1) throw new UsageError(`template placeholder \`{{${inner}}}\`: probability above 1`, `write ${usageOf(name)}`);
      return { name, build: () => (c) => (c.rng.bool(p) ? 'true' : 'false') };
    }
    default:
      throw new UsageError(`unknown template placeholder \`{{${inner}}}\``, `use ${NAMES}`);
  }
}
