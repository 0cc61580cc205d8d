// Shell completion as the shells run it: the script `kstream completion <shell>` prints, sourced in a real bash,
// zsh or fish, asked for the candidates of a command line (cursor at its end unless told).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLI, runSync } from './spawn.mjs';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kstream-completion-'));
const scripts = new Map();

/** The script for `shell`, written once to a file. */
export function scriptFile(shell) {
  if (!scripts.has(shell)) {
    const r = runSync(['completion', shell]);
    if (r.code !== 0) throw new Error(`kstream completion ${shell} failed: ${r.stderr}`);
    const file = path.join(dir, `kstream.${shell}`);
    fs.writeFileSync(file, r.stdout);
    scripts.set(shell, file);
  }
  return scripts.get(shell);
}


/**
 * A `kstream` in a directory of its own, for PATH and for the first word of a line: the built CLI, or (`stub`) a
 * script that logs its arguments to `log` and prints fixed topic and group names.
 */
export function fakeProgram(stub, groups = ['g-one', 'g-two']) {
  const d = fs.mkdtempSync(path.join(dir, 'bin-'));
  const log = path.join(d, 'calls.log');
  fs.writeFileSync(path.join(d, 'groups.txt'), groups.map((g) => `${g}\n`).join(''));
  const body = stub
    ? `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\ncase "$3" in topics) printf 'alpha\\nbeta\\nalps\\n' ;; groups) cat '${path.join(d, 'groups.txt')}' ;; esac\n`
    : `#!/bin/sh\nexec '${process.execPath}' '${CLI}' "$@"\n`;
  fs.writeFileSync(path.join(d, 'kstream'), body, { mode: 0o755 });
  return { dir: d, bin: path.join(d, 'kstream'), log, calls: () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean) : []) };
}

/**
 * COMP_WORDS as readline makes them: words split at blanks outside quotes, and `=` and `:` (in COMP_WORDBREAKS) as
 * words of their own; a line ending in a blank gets an empty last word.
 */
export function compWords(line) {
  const words = [];
  let cur = '';
  let quote = '';
  const flush = () => {
    if (cur !== '') words.push(cur);
    cur = '';
  };
  for (const ch of line) {
    if (quote) {
      cur += ch;
      if (ch === quote) quote = '';
    } else if (ch === "'" || ch === '"') {
      cur += ch;
      quote = ch;
    } else if (/\s/.test(ch)) flush();
    else if (ch === '=' || ch === ':') {
      flush();
      words.push(ch);
    } else cur += ch;
  }
  if (cur !== '' || /\s$/.test(line) || line === '') words.push(cur);
  return words;
}

const BASH_CALL = `
source "$1"
COMP_CWORD=$2 COMP_LINE=$3 COMP_POINT=$4
shift 4
COMP_WORDS=("$@")
_kstream
printf '%s\\n' "\${COMPREPLY[@]}"
`;

/**
 * COMPREPLY of the bash function for `line`, the cursor at its end (or `point`, with `words` and `cword` as bash
 * gives them there). `prog` replaces the first word (`kstream`).
 */
export function bashComplete(line, { prog, env, point, words, cword } = {}) {
  const full = prog ? line.replace(/^kstream\b/, prog) : line;
  const w = words ? (prog ? [prog, ...words.slice(1)] : words) : compWords(full);
  const at = point === undefined ? full.length : point + full.length - line.length;
  const r = runSync(['-c', BASH_CALL, 'bash', scriptFile('bash'), String(cword ?? w.length - 1), full, String(at), ...w], { bin: 'bash', env });
  if (r.code !== 0 || r.stderr) throw new Error(`bash completion of \`${line}\` failed (${r.code}): ${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean);
}

// zsh: the completion system's builtins exist only inside a completion widget, so compadd, compset and _files are
// functions here that print what they were given.
const ZSH_CALL = `
compdef() { :; }
compadd() {
  local tail=
  while [[ $1 == -* && $1 != -- ]]; do
    if [[ $1 == -S ]]; then tail="(no space)"; shift; fi
    shift
  done
  [[ $1 == -- ]] && shift
  local x
  for x in "$@"; do print -r -- "$x$tail"; done
}
compset() { [[ $1 == -P ]] && print -r -- "compset $2"; }
_files() { print -r -- "_files"; }
source "$1"
CURRENT=$2 PREFIX=$3
shift 3
words=("$@")
_kstream
`;

/** What the zsh function adds for `line` (cursor at its end): candidates, `_files` when it lists files. */
export function zshComplete(line, { prog, env } = {}) {
  const full = prog ? line.replace(/^kstream\b/, prog) : line;
  const w = full.split(/\s+/);
  const r = runSync(['-f', '-c', ZSH_CALL, 'zsh', scriptFile('zsh'), String(w.length), w[w.length - 1], ...w], { bin: 'zsh', env });
  if (r.code !== 0 || r.stderr) throw new Error(`zsh completion of \`${line}\` failed (${r.code}): ${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean);
}

/** What fish's own completion engine offers for `line` (`complete -C`), descriptions cut off. */
export function fishComplete(line, { env } = {}) {
  const r = runSync(['--no-config', '-c', `source $argv[1]; complete -C $argv[2]`, scriptFile('fish'), line], { bin: 'fish', env });
  if (r.code !== 0 || r.stderr) throw new Error(`fish completion of \`${line}\` failed (${r.code}): ${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean).map((l) => l.split('\t')[0]);
}
