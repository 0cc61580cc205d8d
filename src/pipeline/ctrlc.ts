/**
 * The second Ctrl-C ends the run even while an expression never returns.
 *
 * Signal handlers are JavaScript: Node, Bun and Deno run them on the event loop, so a stage stuck in
 * `while(true){}` never sees SIGINT, and the handler kstream installs (first Ctrl-C drains, second exits) also
 * takes away the default action that would have ended the process. V8 can interrupt running code
 * (`vm`'s `breakOnSigint`), but on every Ctrl-C, the first included — that would cut a batch in half where the
 * first Ctrl-C must drain — and Deno does not implement it.
 *
 * So a small shell process watches instead. Ctrl-C signals the terminal's whole foreground process group, so this
 * child gets every SIGINT its parent gets. At the second it waits half a second — a parent that is not stuck has
 * exited by then through its own handler, with 130 — and if the parent is still there, it names the cause on
 * stderr and sends SIGKILL, the one signal that needs no JavaScript. It exits the moment the parent does (its
 * stdin, a pipe from the parent, ends): it shares kstream's stderr, and a caller reading that to its end before
 * reaping kstream (\`$(kstream … 2>&1)\`, Python's subprocess.run) must not wait on it. Costs one /bin/sh per run, started before the first record; where it cannot start
 * (no /bin/sh, Deno without --allow-run) the run goes on without it.
 */
import { spawn } from 'node:child_process';
import process from 'node:process';

const MESSAGE =
  'kstream: stopped at the second Ctrl-C with SIGKILL: JavaScript was still running (an expression that never returns?)';

// `read` returns on EOF — the parent exited, closing the pipe — and when a trapped signal interrupts it; the trap
// sets `t` to tell the two apart. Whether kstream is still there is asked as "is it still my parent": the moment it
// exits this shell is reparented, even while kstream is an unreaped zombie and before its pid can be reused, so the
// SIGKILL never reaches an exited kstream or a stranger (\`kill -0\` would say yes to both).
const RELAY = `n=0
t=
ppid() { if [ -r /proc/$$/stat ]; then read -r _ _ _ p _ < /proc/$$/stat; echo "$p"; else ps -o ppid= -p $$ | tr -d ' '; fi; }
trap 't=1; n=$((n+1)); if [ "$n" -ge 2 ]; then sleep 0.5; if [ "$(ppid)" = "$KSTREAM_PID" ]; then echo "$KSTREAM_MESSAGE" >&2; kill -KILL "$KSTREAM_PID"; fi; exit 0; fi' INT
while :; do
  t=
  read -r _ && continue
  [ -n "$t" ] || exit 0
done`;

/** Starts the watcher for this process. Never throws: without it a looping expression still needs kill -9. */
export function armSecondCtrlC(): void {
  if (process.platform === 'win32') return;
  try {
    const child = spawn('/bin/sh', ['-c', RELAY], {
      stdio: ['pipe', 'ignore', 'inherit'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', KSTREAM_PID: String(process.pid), KSTREAM_MESSAGE: MESSAGE },
    });
    child.on('error', () => undefined);
    child.stdin?.on('error', () => undefined);
    // neither the child nor its pipe may keep a finished run alive
    child.unref();
    (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  } catch {
    /* no /bin/sh or no permission to run it */
  }
}
