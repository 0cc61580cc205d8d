import type { OptionSpec, Opts } from './command.js';

/**
 * Keeps option values as typed. cac parses with mri, which turns values that look like numbers into numbers
 * (`--offset +5` → 5, `--key 007` → 7) and reads a value starting with "-" as flags (`-o -5` → flag "5").
 *
 * Before parsing, a value option followed by a token starting with "-" is joined into `--name=value`; after
 * parsing, any value whose text differs from what was typed is put back as the typed string. Values that survive
 * unchanged (`--count 10` → 10) keep the type cac gave them.
 */
interface ValueOption {
  names: string[];
  long: string;
}

function valueOptions(options: OptionSpec[]): Map<string, ValueOption> {
  const byName = new Map<string, ValueOption>();
  for (const o of options) {
    if (!/[<[]/.test(o.flags)) continue;
    const names = [...o.flags.matchAll(/(?:^|[\s,])--?([A-Za-z0-9][\w-]*)/g)].map((m) => m[1]);
    if (names.length === 0) continue;
    const long = names.reduce((a, b) => (b.length > a.length ? b : a));
    const vo = { names, long };
    for (const n of names) byName.set(n, vo);
  }
  return byName;
}

function camel(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Names of the options that take no value (`--exit`, `--envelope`, `-q`). */
function flagNames(options: OptionSpec[]): Set<string> {
  const names = new Set<string>();
  for (const o of options) {
    if (/[<[]/.test(o.flags)) continue;
    for (const m of o.flags.matchAll(/(?:^|[\s,])--?([A-Za-z0-9][\w-]*)/g)) names.add(m[1]);
  }
  return names;
}

export function protectOptionValues(argv: string[], options: OptionSpec[]): { argv: string[]; typed: Map<ValueOption, string[]> } {
  const byName = valueOptions(options);
  const flags = flagNames(options);
  const out: string[] = [];
  // mri reads `--flag true` as the flag's value, which would swallow `filter --envelope true`'s expression: such
  // flags move behind the arguments, where nothing follows them.
  const moved: string[] = [];
  const typed = new Map<ValueOption, string[]>();
  const note = (vo: ValueOption, v: string) => {
    const l = typed.get(vo);
    if (l) l.push(v);
    else typed.set(vo, [v]);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      out.push(...moved.splice(0), ...argv.slice(i));
      break;
    }
    const m = /^--?([A-Za-z0-9][\w-]*)(?:=(.*))?$/s.exec(a);
    const cluster = m && !a.startsWith('--') && m[1].length > 1 && [...m[1]].every((c) => flags.has(c));
    if (m && m[2] === undefined && (flags.has(m[1]) || cluster) && (argv[i + 1] === 'true' || argv[i + 1] === 'false')) {
      moved.push(a);
      continue;
    }
    const vo = m ? byName.get(m[1]) : undefined;
    if (!m || !vo || (!a.startsWith('--') && m[1].length !== 1)) {
      out.push(a);
      continue;
    }
    if (m[2] !== undefined) {
      note(vo, m[2]);
      out.push(`--${vo.long}=${m[2]}`);
      continue;
    }
    // a following flag is not taken as the value (cac then reports the missing value), a negative number is
    if (i + 1 < argv.length && (!argv[i + 1].startsWith('-') || /^-[\d.]/.test(argv[i + 1]))) {
      const v = argv[++i];
      note(vo, v);
      out.push(`--${vo.long}=${v}`);
      continue;
    }
    out.push(a);
  }
  out.push(...moved);
  return { argv: out, typed };
}

export function restoreOptionValues(opts: Opts, typed: Map<ValueOption, string[]>): void {
  for (const [vo, texts] of typed) {
    const key = camel(vo.long);
    const v = opts[key];
    const parsed = Array.isArray(v) ? v : [v];
    const same = parsed.length === texts.length && parsed.every((p, i) => String(p) === texts[i]);
    if (same) continue;
    const value = texts.length === 1 && !Array.isArray(v) ? texts[0] : texts;
    for (const n of vo.names) opts[camel(n)] = value;
  }
}
