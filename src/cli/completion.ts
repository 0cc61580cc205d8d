import type { CommandSpec, OptionSpec } from '../pipeline/command.js';
import { dashed, optionInfo, type OptionsOf } from './options.js';
import { SETTINGS_OPTION } from '../kafka/config.js';

/**
 * Shell completion scripts (`kstream completion bash|zsh|fish`), generated from the same command specs that parse
 * the command line and print --help, so the two cannot drift: the commands, their flags, enum values and which
 * arguments are files are written into the script; topic and group names are asked of the brokers at TAB time
 * through `kstream completion --list topics|groups` (commands/completion.ts), with the connection options typed on
 * the line.
 *
 * bash and zsh share one completion core, written in the part of the shell language both speak the same way
 * (positional parameters, `case`, arrays only appended to and expanded whole); each shell's own function turns
 * its view of the line into words for the core and the core's lines into its candidates. fish gets the same core
 * in its own language.
 */

/** How the text at one place on the line is completed. */
export type Completion =
  | { words: readonly string[] }
  | 'files' | 'topics' | 'groups' | 'none';

export interface CommandCompletion {
  name: string;
  /** The spellings offered for `-<TAB>`: long names, and `--help`. */
  flags: string[];
  /** Every spelling, short ones too, whose value is the next word. */
  valued: string[];
  /** How the value of each valued option is completed (options whose value is free text are left out). */
  values: { spellings: string[]; completion: Completion }[];
  /** How each positional argument is completed; the last one repeats when `repeat`. */
  args: Completion[];
  repeat: boolean;
  /** Actions after which the next arguments are not existing names (`topics create` names a new topic). */
  noNamesAfter: string[];
}

export interface CompletionModel {
  /** What the first word may be: the commands, `run` and `help`. */
  commands: string[];
  /** What may follow a `+`: the commands that can be a later stage of a fused run (stages and sinks). */
  fusable: string[];
  /** Spellings of the connection options, passed on from the line to the name lookups. */
  connection: string[];
  /** The `-X` keys that are connection settings: only these `-X` go on (another command's key would be refused). */
  connectionKeys: string[];
  perCommand: CommandCompletion[];
}

/** Actions whose next argument is not the name of something that exists: nothing to ask the brokers for. */
const NOT_EXISTING = new Set(['list', 'create']);

/** What names an option's value or an argument stands for, by its name: `--topic`, `--state-topic`, `<topic...>`, `--group`. */
function namesOf(name: string): Completion {
  if (name === 'topic' || name.endsWith('-topic')) return 'topics';
  if (name === 'group' || name.endsWith('-group')) return 'groups';
  if (name === 'file') return 'files';
  return 'none';
}

function valueCompletion(o: OptionSpec): Completion {
  const info = optionInfo(o);
  if (o.choices?.length) return { words: o.choices };
  if (info.kind === 'file') return 'files';
  const byName = namesOf(info.long);
  return byName !== 'none' ? byName : namesOf(info.value.replace(/[<>[\].]/g, ''));
}

/** The value completions of a command, options that complete alike put together. */
function groupedValues(cmd: CommandCompletion): { spellings: string[]; completion: Completion }[] {
  const byKey = new Map<string, { spellings: string[]; completion: Completion }>();
  for (const v of cmd.values) {
    const key = JSON.stringify(v.completion);
    const hit = byKey.get(key);
    if (hit) hit.spellings.push(...v.spellings);
    else byKey.set(key, { spellings: [...v.spellings], completion: v.completion });
  }
  return [...byKey.values()];
}

export function completionModel(specs: readonly CommandSpec[], optionsOf: OptionsOf, connection: readonly OptionSpec[]): CompletionModel {
  const perCommand = specs.map((spec): CommandCompletion => {
    const infos = optionsOf(spec).map(optionInfo);
    const args: Completion[] = [...spec.args.matchAll(/[<[]([^>\]]+)[>\]]/g)].map((m, i) => {
      if (i === 0 && spec.actions?.length) return { words: spec.actions };
      return namesOf(m[1].replace(/\.\.\.$/, ''));
    });
    return {
      name: spec.name,
      flags: [...infos.map((o) => dashed(o.long)), '--help'],
      valued: infos.filter((o) => o.value).flatMap((o) => o.names.map(dashed)),
      values: infos.filter((o) => o.value).map((o) => ({ spellings: o.names.map(dashed), completion: valueCompletion(o.spec) })).filter((v) => v.completion !== 'none'),
      args,
      repeat: /\.\.\.[>\]]\s*$/.test(spec.args),
      noNamesAfter: (spec.actions ?? []).filter((a) => NOT_EXISTING.has(a)),
    };
  });
  // `help <command>` and `run "<pipeline>"` are the CLI's own words, not commands with specs
  const names = specs.map((s) => s.name);
  perCommand.push(
    { name: 'help', flags: [], valued: [], values: [], args: [{ words: names }], repeat: false, noNamesAfter: [] },
    { name: 'run', flags: ['--help'], valued: [], values: [], args: [], repeat: false, noNamesAfter: [] },
  );
  // -X goes on by its key, not as an option: its keys are not all connection settings
  return {
    commands: [...names, 'run', 'help'],
    fusable: specs.filter((s) => s.stage || s.sink).map((s) => s.name),
    connection: connection.filter((o) => o !== SETTINGS_OPTION).flatMap((o) => optionInfo(o).names.map(dashed)),
    connectionKeys: connection.flatMap((o) => (o.setting && !o.setting.refused ? [...o.setting.keys] : [])),
    perCommand,
  };
}

/** A choice as offered: its text before a trailing placeholder, and what completes after that text. */
function splitChoice(choice: string): { text: string; after?: Completion } {
  const m = /^(.*?)<([^>]+)>$/.exec(choice);
  if (!m) return { text: choice };
  return { text: m[1], after: namesOf(m[2]) };
}

/** The choices that go on with names after their text, the longest text first: only the one typed completes. */
function placeholders(parts: { text: string; after?: Completion }[]): { text: string; after?: Completion }[] {
  return parts.filter((p) => p.after && p.after !== 'none').sort((a, b) => b.text.length - a.text.length);
}

// ---------------------------------------------------------------------------------------------------- bash and zsh

/** Shell code as written, backslashes and all; \${ stands for ${, which a template literal would take as its own. */
const code = (s: TemplateStringsArray): string => s.raw.join('').replace(/\\\$\{/g, '${');

/** A word in single quotes for sh (and bash and zsh). */
const sq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
const words = (list: readonly string[]): string => list.map(sq).join(' ');
const alternatives = (list: readonly string[]): string => list.map(sq).join('|');

/** The sh code that completes at a place (uses the core's `val` and `pre`). */
function shComplete(c: Completion): string {
  if (c === 'none') return ':';
  if (c === 'files') return '_kstream_files';
  if (c === 'topics' || c === 'groups') return `_kstream_names ${c}`;
  const parts = c.words.map(splitChoice);
  const afters = placeholders(parts).map((p) => `_kstream_after ${sq(p.text)} ${shComplete(p.after!)}`);
  return [`_kstream_words ${words(parts.map((p) => p.text))}`, ...(afters.length ? [afters.join(' || ')] : [])].join('; ');
}

/** `case` arms over one command's positional arguments ($2 the position, $3 the first argument). */
function shArgs(cmd: CommandCompletion): string {
  const arms: string[] = [];
  cmd.args.forEach((c, i) => {
    const last = i === cmd.args.length - 1;
    let body = shComplete(c);
    if (i > 0 && cmd.noNamesAfter.length && (c === 'topics' || c === 'groups')) body = `case $3 in ${alternatives(cmd.noNamesAfter)}) ;; *) ${body} ;; esac`;
    arms.push(`${last && cmd.repeat ? '*' : String(i)}) ${body} ;;`);
  });
  return arms.length ? `case $2 in ${arms.join(' ')} esac` : ':';
}

function shData(m: CompletionModel): string {
  const per = (fn: (c: CommandCompletion) => string | undefined): string =>
    m.perCommand.map((c) => [c, fn(c)] as const).filter(([, body]) => body).map(([c, body]) => `    ${sq(c.name)}) ${body} ;;`).join('\n');
  return `_kstream_commands() { _kstream_words ${words(m.commands)}; }
_kstream_fusable() { _kstream_words ${words(m.fusable)}; }

# $1: a flag as typed: is it a connection option (passed on to the name lookups)?
_kstream_isconn() {
  case $1 in ${alternatives(m.connection)}) return 0 ;; esac
  return 1
}

# $1: a -X setting (key=value): is its key a connection setting?
_kstream_isconnkey() {
  case \${1%%=*} in ${alternatives(m.connectionKeys)}) return 0 ;; esac
  return 1
}

# $1 command, $2 flag: does the flag take the next word as its value?
_kstream_valued() {
  case $1 in
${per((c) => (c.valued.length ? `case $2 in ${alternatives(c.valued)}) return 0 ;; esac` : undefined))}
  esac
  return 1
}

# $1 command: its flags
_kstream_flags() {
  case $1 in
${per((c) => (c.flags.length ? `_kstream_words ${words(c.flags)}` : undefined))}
  esac
}

# $1 command, $2 flag: the values of the flag
_kstream_value() {
  case $1 in
${per((c) => (c.values.length ? `case $2 in ${groupedValues(c).map((v) => `${alternatives(v.spellings)}) ${shComplete(v.completion)} ;;`).join(' ')} esac` : undefined))}
  esac
}

# $1 command, $2 position of the argument (0: the first), $3 the first argument
_kstream_arg() {
  case $1 in
${per((c) => (c.args.some((a) => a !== 'none') ? shArgs(c) : undefined))}
  esac
}
`;
}

/** The completion core shared by bash and zsh. */
const SH_CORE = code`
# The words that start with the value typed so far ($val), after the text before it ($pre).
_kstream_words() {
  local w
  for w in "$@"; do
    case $w in
      "$val"*)
        # a choice like dlq= that is all there is typed offers nothing more: the text after it completes
        case $w in *[=:]) [ "$w" = "$val" ] && continue ;; esac
        printf 'w %s%s\n' "$pre" "$w" ;;
    esac
  done
}

# File names after $pre: the shell's own function lists them.
_kstream_files() { printf 'f %s\n' "$pre"; }

# $1 the start of a value (dlq=kafka:), $2… what completes the rest of the value once it is typed; false when
# the value does not start so.
_kstream_after() {
  case $val in
    "$1"*)
      local pre="$pre$1" val="\${val#"$1"}"
      shift
      "$@"
      return 0 ;;
  esac
  return 1
}

# $1 topics or groups: their names, from the brokers that the connection options on the line name (the program
# gives up silently after about a second and prints nothing on error).
_kstream_names() {
  local n
  "$prog" completion --list "$1" "\${conn[@]}" </dev/null 2>/dev/null | while IFS= read -r n; do
    case $n in "$val"*) printf 'w %s%s\n' "$pre" "$n" ;; esac
  done
}

# $1 the position of the word to complete among the words $2…, the program ($2) at position 0; the word is what
# is typed of it up to the cursor. Prints one candidate a line: "w <word>", or "f <prefix>" for file names after
# <prefix>.
_kstream_core() {
  local cword=$1 prog=$2
  shift 2
  case $prog in '~/'*) prog=$HOME/\${prog#'~/'} ;; esac
  local i=0 w cmd= npos=0 first= want= ddash= seg=1 past=
  local at_cmd= at_npos=0 at_first= at_want= at_ddash= at_seg=1 cur=
  local -a conn
  conn=()
  for w in "$@"; do
    i=$((i + 1))
    if [ "$i" -eq "$cword" ]; then
      cur=$w at_cmd=$cmd at_npos=$npos at_first=$first at_want=$want at_ddash=$ddash at_seg=$seg past=1
      [ -z "$cmd" ] && cmd=$w
      want=
      continue
    fi
    if [ -n "$want" ]; then
      # a connection option's value goes on to the name lookups; a -X setting only when its key is one
      if [ "$want" = -X ]; then _kstream_isconnkey "$w" && conn+=(-X "$w")
      else _kstream_isconn "$want" && conn+=("$w"); fi
      want=
      continue
    fi
    if [ "$w" = + ]; then
      # a new command of a fused run; the words after the cursor count up to its end
      [ -n "$past" ] && break
      cmd= npos=0 first= ddash= seg=$((seg + 1))
      conn=()
      continue
    fi
    if [ -z "$cmd" ]; then cmd=$w; continue; fi
    if [ -z "$ddash" ]; then
      case $w in
        --) ddash=1; continue ;;
        --*=*) _kstream_isconn "\${w%%=*}" && conn+=("$w"); continue ;;
        -X?*) _kstream_isconnkey "\${w#-X}" && conn+=("$w"); continue ;;
        -?*)
          _kstream_isconn "$w" && conn+=("$w")
          _kstream_valued "$cmd" "$w" && want=$w
          continue ;;
      esac
    fi
    [ "$npos" -eq 0 ] && first=$w
    npos=$((npos + 1))
  done
  [ -n "$past" ] || return 0
  local pre= val=$cur
  if [ -n "$at_want" ]; then _kstream_value "$at_cmd" "$at_want"; return 0; fi
  if [ -z "$at_cmd" ]; then
    if [ "$at_seg" -eq 1 ]; then _kstream_commands; else _kstream_fusable; fi
    return 0
  fi
  if [ -z "$at_ddash" ]; then
    case $cur in
      --*=*) pre=\${cur%%=*}= val=\${cur#*=}; _kstream_value "$at_cmd" "\${cur%%=*}"; return 0 ;;
      -*) _kstream_flags "$at_cmd"; return 0 ;;
    esac
  fi
  _kstream_arg "$at_cmd" "$at_npos" "$at_first"
}
`;

const BASH_MAIN = code`
# bash splits words at = and : (COMP_WORDBREAKS), kstream does not: the words are joined again where the line has
# no space between them, the cursor's word is cut at the cursor (a cursor between words is an empty word there),
# and each candidate loses the part of the joined word that bash does not replace.
_kstream() {
  local line=$COMP_LINE pos=0 i n=0 w gap cword=-1 cur=
  local -a words starts ends
  words=() starts=() ends=()
  for ((i = 0; i < \${#COMP_WORDS[@]}; i++)); do
    w=\${COMP_WORDS[i]}
    [ -z "$w" ] && continue
    gap=\${line:pos}
    gap=\${gap%%[![:space:]]*}
    pos=$((pos + \${#gap}))
    if [ "$n" -gt 0 ] && [ -z "$gap" ]; then
      words[n - 1]+=$w
    else
      words[n]=$w starts[n]=$pos
      n=$((n + 1))
    fi
    pos=$((pos + \${#w}))
    ends[n - 1]=$pos
  done
  for ((i = 0; i < n; i++)); do
    if [ "$COMP_POINT" -ge "\${starts[i]}" ] && [ "$COMP_POINT" -le "\${ends[i]}" ]; then
      cword=$i cur=\${line:starts[i]:COMP_POINT-starts[i]}
      break
    fi
    [ "$COMP_POINT" -lt "\${starts[i]}" ] && break
  done
  if [ "$cword" -lt 0 ]; then
    cword=$i
    words=("\${words[@]:0:i}" '' "\${words[@]:i}")
  fi
  local frag=$cur
  case $COMP_WORDBREAKS in *=*) frag=\${frag##*=} ;; esac
  case $COMP_WORDBREAKS in *:*) frag=\${frag##*:} ;; esac
  local strip=$((\${#cur} - \${#frag})) l p f files= last=
  COMPREPLY=()
  while IFS= read -r l; do
    case $l in
      'w '*)
        # quoted as the shell would read it back: a group name is anyone's text (\`x;rm …\`, spaces)
        last=\${l:2}
        p=\${last:strip}
        [ -n "$p" ] && printf -v p '%q' "$p"
        COMPREPLY+=("$p") ;;
      'f '*)
        p=\${l:2} files=1
        while IFS= read -r f; do
          f=$p$f
          COMPREPLY+=("\${f:strip}")
        done < <(compgen -f -- "\${cur#"$p"}") ;;
    esac
  done < <(_kstream_core "$cword" "\${words[@]:0:cword}" "$cur" "\${words[@]:cword+1}")
  if type compopt >/dev/null 2>&1; then
    [ -n "$files" ] && compopt -o filenames 2>/dev/null
    # dlq=kafka: goes on with a topic: no space after it
    if [ "\${#COMPREPLY[@]}" -eq 1 ] && [ -z "$files" ]; then
      case $last in *[=:]) compopt -o nospace 2>/dev/null ;; esac
    fi
  fi
  return 0
}

complete -F _kstream kstream
`;

const ZSH_MAIN = code`
# The core runs in plain zsh (a subshell of its own): the completion system's options stay as it set them, for
# _files and compadd.
_kstream() {
  local -a lines cands open fpre
  local l
  lines=("\${(@f)$(emulate zsh; _kstream_core $((CURRENT - 1)) "\${(@)words[1,CURRENT-1]}" "$PREFIX" "\${(@)words[CURRENT+1,-1]}")}")
  for l in "\${lines[@]}"; do
    case $l in
      'w '*[=:]) open+=("\${l#w }") ;;
      'w '*) cands+=("\${l#w }") ;;
      'f '*) fpre+=("\${l#f }") ;;
    esac
  done
  (( \${#cands} )) && compadd -- "\${cands[@]}"
  # dlq=kafka: goes on with a topic: no space after it
  (( \${#open} )) && compadd -S '' -- "\${open[@]}"
  if (( \${#fpre} )); then
    [[ -n \${fpre[1]} ]] && compset -P "\${(b)fpre[1]}"
    _files
  fi
  return 0
}

if [ "\${funcstack[1]}" = _kstream ]; then
  _kstream "$@"
elif (( \${+functions[compdef]} )); then
  compdef _kstream kstream
else
  print -u2 'kstream: zsh completion needs the completion system loaded first: autoload -U compinit && compinit'
fi
`;

const HEADER = (shell: string, how: string): string =>
  `# kstream completion for ${shell}, generated by \`kstream completion ${shell}\` from the commands' option specs: generate it again after an upgrade.\n# ${how}\n`;

export function bashScript(m: CompletionModel): string {
  return HEADER('bash', 'Load it with `source <(kstream completion bash)` (in ~/.bashrc to keep it), or write it to ~/.local/share/bash-completion/completions/kstream.') +
    '\n' + shData(m) + SH_CORE + BASH_MAIN;
}

export function zshScript(m: CompletionModel): string {
  return '#compdef kstream\n' + HEADER('zsh', 'Load it with `source <(kstream completion zsh)` after compinit (in ~/.zshrc to keep it), or write it as _kstream into a directory of $fpath.') +
    '\n' + shData(m) + SH_CORE + ZSH_MAIN;
}

// ------------------------------------------------------------------------------------------------------------ fish

/** A word in single quotes for fish. */
const fq = (s: string): string => `'${s.replace(/[\\']/g, (c) => `\\${c}`)}'`;
const fwords = (list: readonly string[]): string => list.map(fq).join(' ');

/** The fish code that completes at a place, from the enclosing function's $pre (text before the value) and $val. */
function fishComplete(c: Completion): string {
  if (c === 'none') return 'true';
  if (c === 'files') return '__kstream_files "$pre" "$val"';
  if (c === 'topics' || c === 'groups') return `__kstream_names "$pre" "$val" ${c}`;
  const parts = c.words.map(splitChoice);
  const afters = placeholders(parts).map((p) => `__kstream_after ${fq(p.text)} "$pre" "$val" ${fishComplete(p.after!).replace(' "$pre" "$val"', '')}`);
  return [`__kstream_words "$pre" "$val" ${fwords(parts.map((p) => p.text))}`, ...(afters.length ? [afters.join('; or ')] : [])].join('; ');
}

function fishArgs(cmd: CommandCompletion): string {
  const arms: string[] = [];
  cmd.args.forEach((c, i) => {
    const last = i === cmd.args.length - 1;
    let body = fishComplete(c);
    if (i > 0 && cmd.noNamesAfter.length && (c === 'topics' || c === 'groups')) body = `contains -- "$first" ${fwords(cmd.noNamesAfter)}; or ${body}`;
    arms.push(`        case ${last && cmd.repeat ? "'*'" : fq(String(i))}\n          ${body}`);
  });
  return `switch $npos\n${arms.join('\n')}\n      end`;
}

function fishData(m: CompletionModel): string {
  const per = (fn: (c: CommandCompletion) => string | undefined): string =>
    m.perCommand.map((c) => [c, fn(c)] as const).filter(([, body]) => body).map(([c, body]) => `    case ${fq(c.name)}\n      ${body}`).join('\n');
  return `function __kstream_commands --argument-names pre val
  __kstream_words "$pre" "$val" ${fwords(m.commands)}
end

function __kstream_fusable --argument-names pre val
  __kstream_words "$pre" "$val" ${fwords(m.fusable)}
end

function __kstream_isconn --argument-names flag
  contains -- "$flag" ${fwords(m.connection)}
end

function __kstream_isconnkey --argument-names setting
  contains -- (string split -m 1 = -- $setting)[1] ${fwords(m.connectionKeys)}
end

function __kstream_valued --argument-names cmd flag
  switch $cmd
${per((c) => (c.valued.length ? `contains -- "$flag" ${fwords(c.valued)}; and return 0` : undefined))}
  end
  return 1
end

function __kstream_flags --argument-names cmd pre val
  switch $cmd
${per((c) => (c.flags.length ? `__kstream_words "$pre" "$val" ${fwords(c.flags)}` : undefined))}
  end
end

function __kstream_value --argument-names cmd flag pre val
  switch $cmd
${per((c) => (c.values.length ? `switch $flag\n${groupedValues(c).map((v) => `        case ${fwords(v.spellings)}\n          ${fishComplete(v.completion)}`).join('\n')}\n      end` : undefined))}
  end
end

function __kstream_arg --argument-names cmd npos first pre val
  switch $cmd
${per((c) => (c.args.some((a) => a !== 'none') ? fishArgs(c) : undefined))}
  end
end
`;
}

const FISH_CORE = code`
# Each completer takes the text before the value ($pre) and the value typed so far ($val), and prints candidates
# whole (fish itself keeps those that match).

# the words after pre and val
function __kstream_words --argument-names pre val
  for w in $argv[3..-1]
    # a choice like dlq= that is all there is typed offers nothing more: the text after it completes
    if string match -q -- '*=' $w; or string match -q -- '*:' $w
      test "$w" = "$val"; and continue
    end
    echo $pre$w
  end
end

function __kstream_files --argument-names pre val
  for f in (__fish_complete_path $val)
    echo $pre$f
  end
end

# $1 the start of a value (dlq=kafka:), then pre and val, then what completes the rest of the value once it is typed;
# false when the value does not start so
function __kstream_after --argument-names start pre val
  set -l head (string sub -l (string length -- $start) -- $val)
  test "$head" = "$start"; or return 1
  set -l rest (string sub -s (math (string length -- $start) + 1) -- $val)
  $argv[4] "$pre$start" "$rest" $argv[5..-1]
  return 0
end

# after pre and val, topics or groups: their names, from the brokers that the connection options on the line name
# (the program gives up silently after about a second and prints nothing on error)
function __kstream_names --argument-names pre val what
  for n in ($__kstream_prog completion --list $what $__kstream_conn </dev/null 2>/dev/null)
    echo $pre$n
  end
end

# $1 command, $2 a flag as typed: connection options go on to the name lookups; true when the next word is its value
function __kstream_flag --argument-names cmd w
  if string match -q -- '--*=*' $w
    __kstream_isconn (string split -m 1 = -- $w)[1]; and set -a __kstream_conn $w
    return 1
  end
  if string match -q -- '-X?*' $w
    __kstream_isconnkey (string sub -s 3 -- $w); and set -a __kstream_conn $w
    return 1
  end
  __kstream_isconn $w; and set -a __kstream_conn $w
  __kstream_valued $cmd $w
end

# $1 a flag, $2 its value: a connection option's value goes on to the lookups; a -X setting only when its key is one
function __kstream_flagvalue --argument-names flag w
  if test "$flag" = -X
    __kstream_isconnkey $w; and set -a __kstream_conn -X $w
  else
    __kstream_isconn $flag; and set -a __kstream_conn $w
  end
end

function __kstream_complete
  set -l before (commandline -opc)
  set -l cur (commandline -ct)
  set -l all (commandline -o)
  set -l from (math (count $before) + 1)
  test -n "$cur"; and set from (math $from + 1)
  set -g __kstream_prog $before[1]
  set -g __kstream_conn
  set -l cmd
  set -l npos 0
  set -l first
  set -l want
  set -l ddash
  set -l seg 1
  for w in $before[2..-1]
    if test -n "$want"
      __kstream_flagvalue $want $w
      set want
      continue
    end
    if test "$w" = +
      set cmd
      set npos 0
      set first
      set ddash
      set seg (math $seg + 1)
      set -g __kstream_conn
      continue
    end
    if test -z "$cmd"
      set cmd $w
      continue
    end
    if test -z "$ddash"
      switch $w
        case --
          set ddash 1
          continue
        case '-*'
          __kstream_flag $cmd $w; and set want $w
          continue
      end
    end
    test $npos -eq 0; and set first $w
    set npos (math $npos + 1)
  end
  # connection options after the cursor count too, up to the end of this command
  set -l c $cmd
  test -z "$c"; and set c $cur
  set -l w2
  for w in $all[$from..-1]
    # the end of this command, or of its options
    contains -- $w + --; and break
    if test -n "$w2"
      __kstream_flagvalue $w2 $w
      set w2
      continue
    end
    string match -q -- '-*' $w; and __kstream_flag $c $w; and set w2 $w
  end
  if test -n "$want"
    __kstream_value $cmd $want '' "$cur"
    return
  end
  if test -z "$cmd"
    if test $seg -eq 1
      __kstream_commands '' "$cur"
    else
      __kstream_fusable '' "$cur"
    end
    return
  end
  if test -z "$ddash"
    switch $cur
      case '--*=*'
        set -l parts (string split -m 1 = -- $cur)
        __kstream_value $cmd $parts[1] $parts[1]= "$parts[2]"
        return
      case '-*'
        __kstream_flags $cmd '' "$cur"
        return
    end
  end
  __kstream_arg $cmd $npos "$first" '' "$cur"
end

complete -c kstream -f -a '(__kstream_complete)'
`;

export function fishScript(m: CompletionModel): string {
  return HEADER('fish', 'Install it with `kstream completion fish > ~/.config/fish/completions/kstream.fish`.') + '\n' + fishData(m) + FISH_CORE;
}
