/**
 * Errors that reach the user. Each becomes one line on stderr; only `--verbose` adds a stack.
 * Exit codes follow DESIGN.md: 1 runtime failure, 2 usage error, 130 interrupted.
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
