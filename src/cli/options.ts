import type { CommandSpec, OptionKind, OptionSpec, Opts } from '../pipeline/command.js';
import { closest, UsageError } from '../pipeline/errors.js';
import { parseCount, parseDuration, parseSize } from '../time/duration.js';

/**
 * Typed option specs: each option declares its kind once, and its value is parsed here, once, for every command
 * alike — help, errors and the generated command reference all come from the same specs (cli/help.ts).
 */

/** An option's names without dashes ("n", "count"), its long name, and what it takes. */
export interface OptionInfo {
  spec: OptionSpec;
  names: string[];
  long: string;
  /** The key cac stores it under (camelCase of the long name, without `no-`). */
  key: string;
  kind: OptionKind;
  /** `--no-x`: a switch that is on unless given. */
  negated: boolean;
  /** The value placeholder, as in `--grace <dur>`, or ''. */
  value: string;
}

export const camel = (name: string): string => name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

export function optionInfo(spec: OptionSpec): OptionInfo {
  const names = [...spec.flags.matchAll(/(?:^|[\s,])--?([A-Za-z0-9][\w-]*)/g)].map((m) => m[1]);
  const long = names.reduce((a, b) => (b.length > a.length ? b : a));
  const value = /[<[][^>\]]*[>\]]/.exec(spec.flags)?.[0] ?? '';
  const negated = long.startsWith('no-');
  const kind = spec.kind ?? (value ? 'string' : 'flag');
  return { spec, names, long, key: camel(negated ? long.slice(3) : long), kind, negated, value };
}

const last = (v: unknown): unknown => (Array.isArray(v) ? v[v.length - 1] : v);

/** Parses every declared option's value by its kind (in place); a bad value is a UsageError naming the flag. */
export function typeOptions(opts: Opts, specs: readonly OptionSpec[]): Opts {
  for (const spec of specs) {
    const o = optionInfo(spec);
    let v = opts[o.key];
    if (v === undefined || o.kind === 'flag') continue;
    const flag = `--${o.long}`;
    if (o.kind === 'list') {
      const items = (Array.isArray(v) ? v : [v]).map((x) => {
        if (x === true || x === '') throw missing(o);
        return String(x);
      });
      setAll(opts, o, items);
      continue;
    }
    v = last(v);
    if (v === true || v === '') throw missing(o);
    let typed: unknown;
    switch (o.kind) {
      case 'duration': typed = parseDuration(v as string, flag); break;
      case 'size': typed = parseSize(v as string, flag); break;
      case 'count': case 'rate': typed = parseCount(v as string, flag); break;
      case 'int': {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 0 || String(v).trim() === '') throw new UsageError(`invalid ${flag} \`${v}\``, 'use a whole number: 0, 1, 2, …');
        typed = n;
        break;
      }
      case 'enum': {
        const s = String(v).toLowerCase();
        const choices = spec.choices ?? [];
        if (!choices.includes(s)) {
          const near = closest(s, choices);
          throw new UsageError(`invalid ${flag} \`${v}\``, `${near ? `did you mean \`${near}\`? ` : ''}use ${choices.join(', ')}`);
        }
        typed = s;
        break;
      }
      default: typed = String(v);
    }
    setAll(opts, o, typed);
  }
  return opts;
}

function setAll(opts: Opts, o: OptionInfo, v: unknown): void {
  // cac keeps a value under every name of the option (`n` and `count`): all of them get the typed value
  for (const n of o.names) opts[camel(n)] = v;
  opts[o.key] = v;
}

function missing(o: OptionInfo): UsageError {
  return new UsageError(`\`--${o.long}\` needs a value`, `--${o.long} ${o.value || '<value>'}`);
}

/**
 * Flags on the command line that the command does not have, as typed (`--on-eror`), with the nearest one it has:
 * found before cac, which would report them camelCased and without a suggestion.
 */
export function checkUnknown(argv: readonly string[], specs: readonly OptionSpec[], command: string): void {
  const known = new Set<string>(['h', 'help']);
  const valued = new Set<string>();
  for (const s of specs) {
    const o = optionInfo(s);
    for (const n of o.names) {
      known.add(n);
      if (o.value) valued.add(n);
    }
    if (o.negated) known.add(o.long.slice(3));
    else if (o.kind === 'flag') known.add(`no-${o.long}`);
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') return;
    const m = /^(--?)([A-Za-z][\w-]*)(=.*)?$/s.exec(a);
    if (!m) continue;
    // short options cluster (-qv): each letter must be known
    const names = m[1] === '-' && m[2].length > 1 && !known.has(m[2]) ? [...m[2]] : [m[2]];
    for (const n of names) {
      if (known.has(n)) continue;
      const long = [...known].filter((k) => k.length > 1);
      const near = closest(n, long);
      const typed = names.length > 1 ? `-${n}` : `${m[1]}${m[2]}`;
      throw new UsageError(`unknown option \`${typed}\` for \`${command}\``, near ? `did you mean \`--${near}\`? see \`kstream ${command} --help\`` : `see \`kstream ${command} --help\``);
    }
    if (valued.has(m[2]) && m[3] === undefined) i++;
  }
}

/** Every option a command takes: its own, then the shared ones its roles bring. */
export type OptionsOf = (spec: CommandSpec) => OptionSpec[];
