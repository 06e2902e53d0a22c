import { DeadlineExceededError } from '../errors';

/** How much time the invocation has left (Lambda's context.getRemainingTimeInMillis). */
export interface Deadline {
  remainingMs(): number;
}

export const NO_DEADLINE: Deadline = { remainingMs: () => Number.POSITIVE_INFINITY };

export function deadlineIn(ms: number, now: () => number = Date.now): Deadline {
  const end = now() + ms;
  return { remainingMs: () => end - now() };
}

/** setTimeout's longest delay; a longer budget cannot run out within one invocation. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Runs one I/O call for at most `budgetMs`. When the budget runs out first, the returned
 * promise rejects with DeadlineExceededError and the signal handed to `call` is aborted, so an
 * SDK request is cancelled (socket closed, no retry started); a budget of 0 or less starts
 * nothing. An unbounded budget (NO_DEADLINE) runs the call as is, with no timer and no signal.
 *
 * Giving up undoes nothing: the call may have acted, or may still land later. Callers must
 * treat the outcome as unknown, like an answer lost on the network.
 */
export function withinBudget<T>(
  budgetMs: number,
  operation: string,
  call: (signal: AbortSignal | undefined) => Promise<T>,
): Promise<T> {
  if (budgetMs > MAX_TIMER_MS) return call(undefined);
  if (!(budgetMs > 0)) return Promise.reject(new DeadlineExceededError(operation, budgetMs));
  const controller = new AbortController();
  let pending: Promise<T>;
  try {
    pending = call(controller.signal);
  } catch (error) {
    return Promise.reject(error);
  }
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new DeadlineExceededError(operation, budgetMs);
      // Reject first: the race must end with this error, not with the AbortError it causes.
      reject(error);
      controller.abort(error);
    }, Math.ceil(budgetMs));
  });
  // The race subscribes to `pending`: its late rejection (the AbortError) is handled, not unhandled.
  return Promise.race([pending, expired]).finally(() => clearTimeout(timer));
}

/**
 * The time an invocation may still spend on I/O: until its deadline minus a margin. The
 * remaining time is read once and pinned to `now` (Lambda's remaining time runs with the wall
 * clock), so each call does not read the deadline again.
 */
export class IoBudget {
  private constructor(
    private readonly endMs: number,
    private readonly now: () => number,
  ) {}

  static until(remainingMs: number, marginMs: number, now: () => number = Date.now): IoBudget {
    return new IoBudget(now() + remainingMs - marginMs, now);
  }

  /** Infinite for NO_DEADLINE; 0 or less once the margin is reached. */
  leftMs(): number {
    return this.endMs - this.now();
  }

  /** `call` within what is left of the budget (see withinBudget). */
  run<T>(operation: string, call: (signal: AbortSignal | undefined) => Promise<T>): Promise<T> {
    return withinBudget(this.leftMs(), operation, call);
  }
}
