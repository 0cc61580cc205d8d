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
 * stderr and sends SIGKILL, the one signal that needs no JavaScript. It exits when the parent does (its stdin, a
 * pipe from the parent, ends). Costs one /bin/sh per run, started before the first record; where it cannot start
 * (no /bin/sh, Deno without --allow-run) the run goes on without it.
 */
import { spawn } from 'node:child_process';
import process from 'node:process';

const MESSAGE =
  'kstream: stopped at the second Ctrl-C with SIGKILL: JavaScript was still running (an expression that never returns?)';

// `read` returns on EOF (the parent closed the pipe by exiting) and on a trapped signal alike, so liveness is
// asked of the parent itself; the sleep keeps a parent that exited but is not yet reaped from spinning this loop.
const RELAY = `n=0
trap 'n=$((n+1)); if [ "$n" -ge 2 ]; then sleep 0.5; if kill -0 "$KSTREAM_PID" 2>/dev/null; then echo "$KSTREAM_MESSAGE" >&2; kill -KILL "$KSTREAM_PID"; fi; exit 0; fi' INT
while :; do
  read -r _ && continue
  kill -0 "$KSTREAM_PID" 2>/dev/null || exit 0
  sleep 0.2
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
