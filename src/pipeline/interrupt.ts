/**
 * Lets a loop race each await against a stop request without leaking.
 *
 * Racing against one long-lived promise (`Promise.race([next, stop])` every iteration) attaches a reaction to
 * `stop` per iteration, and each reaction keeps its race's result — a whole batch — alive until `stop` settles,
 * which for a normal run is never. Here `stop` is subscribed once; each wait gets a fresh promise that dies with
 * its iteration.
 */
export const STOP = Symbol('stop');

export class Interrupt {
  stopped = false;
  private wake: ((v: typeof STOP) => void) | undefined;

  constructor(stop: Promise<void> | undefined) {
    stop?.then(() => {
      this.stopped = true;
      this.wake?.(STOP);
    });
  }

  /** Resolves to STOP when a stop is requested (at once if it already was); a new promise per call. */
  wait(): Promise<typeof STOP> {
    if (this.stopped) return Promise.resolve(STOP);
    return new Promise((resolve) => (this.wake = resolve));
  }
}
