import type { OptionSpec, Opts } from './command.js';
import { camel, optionInfo, type OptionInfo } from '../cli/options.js';

/**
 * Keeps option values as typed. cac parses with mri, which turns values that look like numbers into numbers
 * (`--offset +5` → 5, `--key 007` → 7) and reads a value starting with "-" as flags (`-o -5` → flag "5").
 *
 * Before parsing, a value option followed by a token starting with "-" is joined into `--name=value`; after
 * parsing, any value whose text differs from what was typed is put back as the typed string. Values that survive
 * unchanged (`--count 10` → 10) keep the type cac gave them.
 */
/** Every name of every option (`n` and `count`), with what the option takes. */
function byName(options: OptionSpec[]): Map<string, OptionInfo> {
  const m = new Map<string, OptionInfo>();
  for (const o of options) {
    const info = optionInfo(o);
    for (const n of info.names) m.set(n, info);
  }
  return m;
}

export function protectOptionValues(argv: string[], options: OptionSpec[]): { argv: string[]; typed: Map<OptionInfo, string[]> } {
  const names = byName(options);
  const isFlag = (n: string) => names.get(n)?.value === '';
  const out: string[] = [];
  // mri reads `--flag true` as the flag's value, which would swallow `filter --envelope true`'s expression: such
  // flags move behind the arguments, where nothing follows them.
  const moved: string[] = [];
  const typed = new Map<OptionInfo, string[]>();
  const note = (vo: OptionInfo, v: string) => {
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
    const cluster = m && !a.startsWith('--') && m[1].length > 1 && [...m[1]].every(isFlag);
    if (m && m[2] === undefined && (isFlag(m[1]) || cluster) && (argv[i + 1] === 'true' || argv[i + 1] === 'false')) {
      moved.push(a);
      continue;
    }
    const found = m ? names.get(m[1]) : undefined;
    const vo = found?.value ? found : undefined;
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

export function restoreOptionValues(opts: Opts, typed: Map<OptionInfo, string[]>): void {
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
