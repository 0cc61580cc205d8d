/**
 * Errors that reach the user. Each becomes one line on stderr; only `--verbose` adds a stack.
 * Exit codes follow docs/design.md: 1 runtime failure, 2 usage error, 130 interrupted.
 */
export class KsError extends Error {
  constructor(message: string, readonly exitCode: number, readonly hint?: string) {
    super(message);
  }
}

/** The command line is wrong: bad flag, bad expression, bad duration. Exit 2. */
export class UsageError extends KsError {
  constructor(message: string, hint?: string) {
    super(message, 2, hint);
  }
}

/** Something failed at run time: a bad record under --on-error fail, an unreachable broker. Exit 1. */
export class RuntimeError extends KsError {
  constructor(message: string, hint?: string) {
    super(message, 1, hint);
  }
}

export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

/** The candidate nearest to `word` for a "did you mean" (edit distance under 3, or a third of its length), if any. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Math.max(3, Math.floor(word.length / 3) + 1);
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0];
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j];
      dp[j] = Math.min(dp[j] + 1, dp[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length];
}
