/**
 * Notices a local service that dies. Every child process a tool starts (the emulators, the
 * OpenSearch and Kafka JVMs) is watched from the moment it is spawned: an exit that our own
 * stop() did not ask for is a death, reported with the service's name, its exit code or
 * signal and its log file. Without this a dead service only shows as connection errors,
 * which the event-source runners retry as Lambda would, for as long as the run lasts.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';

const TAIL_LINES = 12;

/**
 * Services run in their own process group. A Ctrl-C in the terminal then reaches only the tool,
 * which stops them in order (marking each exit as expected); in the terminal's group each would
 * get the SIGINT as well, and its exit would race the tool's stop() and be reported as a death.
 * They still go when the tool dies: each stops when its stdin pipe from the tool closes.
 */
export const SPAWN_DETACHED = true;

/** What the tools that start services exit with when one of them died under them. */
export const SERVICE_DIED_EXIT_CODE = 4;

/** The exit code a process gives when a signal ended it after its own clean-up (128 + n). */
function signalOfExitCode(code: number | null): string | undefined {
  if (code === null || code <= 128 || code > 128 + 64) return undefined;
  return Object.entries(constants.signals).find(([, n]) => n === code - 128)?.[0];
}

/** "signal SIGKILL", "exit code 143 (128 + SIGTERM)", "exit code 1". */
export function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal !== null) return `signal ${signal}`;
  const fromSignal = signalOfExitCode(code);
  // A JVM (and any process that handles the signal, then exits) reports 128 + the signal's number.
  return fromSignal ? `exit code ${code} (128 + ${fromSignal})` : `exit code ${code}`;
}

export function logTail(logFile: string, lines = TAIL_LINES): string {
  try {
    const text = readFileSync(logFile, 'utf8').trimEnd();
    return text === '' ? '(the log is empty)' : text.split('\n').slice(-lines).join('\n');
  } catch {
    return `(no log at ${logFile})`;
  }
}

/** A watched process exited without being asked to. */
export class ServiceDiedError extends Error {
  override readonly name = 'ServiceDiedError';
  /** The last lines of the service's log, read when it died. */
  readonly logTail: string;

  constructor(
    readonly service: string,
    readonly pid: number | undefined,
    readonly code: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly logFile: string,
  ) {
    super(
      `local service ${service}${pid === undefined ? '' : ` (pid ${pid})`} exited unexpectedly: ${describeExit(code, signal)}; its log: ${logFile}`,
    );
    this.logTail = logTail(logFile);
  }

  /** The message and the end of the log, for a person. */
  describe(): string {
    return `${this.message}\n--- last lines of ${this.logFile} ---\n${this.logTail}\n---`;
  }
}

export interface WatchedProcess {
  /**
   * Resolves (never rejects) when the process exits without expectExit() having been called
   * first; stays pending otherwise. A pending promise keeps nothing alive.
   */
  readonly died: Promise<ServiceDiedError>;
  /** The exit that follows is ours (stop(), a failed start): not a death. */
  expectExit(): void;
}

/** Watch a child from spawn on: even a death before it is ready is then on record. */
export function watchProcess(child: ChildProcess, service: string, logFile: string): WatchedProcess {
  let expected = false;
  const died = new Promise<ServiceDiedError>((resolve) => {
    child.once('exit', (code, signal) => {
      if (!expected) resolve(new ServiceDiedError(service, child.pid, code, signal, logFile));
    });
  });
  return {
    died,
    expectExit: () => {
      expected = true;
    },
  };
}

/**
 * The deaths of everything a run started, as one: the first one wins. Services can be added
 * as they start (the Kafka broker comes after the stack).
 */
export class ServiceWatch {
  /** The first death, once there is one. */
  failure: ServiceDiedError | undefined;
  readonly died: Promise<ServiceDiedError>;
  private resolve!: (death: ServiceDiedError) => void;

  constructor() {
    this.died = new Promise((resolve) => {
      this.resolve = resolve;
    });
  }

  add(died: Promise<ServiceDiedError>): void {
    void died.then((death) => {
      this.failure ??= death;
      this.resolve(this.failure);
    });
  }

  /**
   * `work`, unless a service dies first: then it rejects at once with the death, and `work`
   * is abandoned (whatever it does afterwards can no longer decide the run).
   */
  guard<T>(work: Promise<T>): Promise<T> {
    work.catch(() => undefined);
    return Promise.race([
      work,
      this.died.then((death) => {
        throw death;
      }),
    ]);
  }

  /**
   * Whether a failure was a service's death: the death itself, one already seen, or one
   * reported within `graceMs` (a client may see the closed port before the exit arrives).
   */
  async causeOf(error: unknown, graceMs = 1_000): Promise<ServiceDiedError | undefined> {
    if (error instanceof ServiceDiedError) return error;
    if (this.failure) return this.failure;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.died,
        new Promise<undefined>((resolve) => {
          timer = setTimeout(() => resolve(undefined), graceMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}
