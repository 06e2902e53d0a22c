/**
 * Starts a launcher JVM (OpenSearch node, Kafka broker, Iceberg catalog) as a child process and
 * waits for the one line it prints on stdout once it serves: `READY <address>`. Its stderr (the
 * service's whole log) goes to a file; a start that fails quotes the end of that file, because a
 * bare "exited with code 1" sends a person hunting for it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, closeSync, mkdirSync, openSync } from 'node:fs';
import type { Socket } from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { logTail, type ServiceDiedError, watchProcess } from '../local-stack/service-watch';

const START_FAILURE_LOG_LINES = 40;

export interface JvmLaunch {
  /** The service's name for process watchers, e.g. `opensearch`. */
  readonly service: string;
  /** How error messages name it, e.g. `OpenSearch`, `the Iceberg catalog`. */
  readonly label: string;
  readonly java: string;
  readonly javaOptions: readonly string[];
  readonly jar: string;
  /** The launcher's own flags, after the jar. */
  readonly launcherArgs: readonly string[];
  /**
   * A folder owned by the caller: the working directory, and its tmp/ is java.io.tmpdir, so that
   * native libraries and temp files the JVM unpacks vanish with it instead of piling up in /tmp.
   */
  readonly home?: string;
  /** The JVM's stderr is appended here, and so is anything on stdout besides READY. */
  readonly logFile: string;
  /** Matches the READY line; group 1 is what `ready` resolves with. */
  readonly readyLine: RegExp;
  readonly readyTimeoutMs: number;
  /** Between SIGTERM and SIGKILL in stop(). */
  readonly stopGraceMs: number;
  /** The same after a failed start; 0 sends SIGKILL at once. Default stopGraceMs. */
  readonly failedStartGraceMs?: number;
  /** Its own process group: see SPAWN_DETACHED in service-watch.ts. */
  readonly detached?: boolean;
  /**
   * Once ready, let the caller exit without stop(): the JVM then ends itself when its stdin pipe
   * from the caller closes. A CLI that only waits for Ctrl-C needs the handle kept instead.
   */
  readonly unrefWhenReady: boolean;
  /** What a failed start quotes from the log; default its last 40 lines. */
  readonly describeLog?: (logFile: string) => string;
}

export interface JvmExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface JvmProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Group 1 of the READY line. */
  readonly ready: string;
  /** Resolves when the JVM has exited, whatever the reason; never rejects. */
  readonly exited: Promise<JvmExit>;
  /** Resolves when the JVM exits without stop(), naming its log; pending while it runs. */
  readonly died: Promise<ServiceDiedError>;
  /** SIGTERM, then SIGKILL after the grace period; resolves once the JVM has exited. Idempotent. */
  stop(): Promise<void>;
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function defaultDescribeLog(logFile: string): string {
  return `--- last lines of ${logFile} ---\n${logTail(logFile, START_FAILURE_LOG_LINES)}`;
}

/**
 * Starts the JVM and resolves once it printed READY. stdin stays a pipe for the JVM's lifetime:
 * if the caller dies without stop(), the JVM sees EOF and shuts itself down.
 */
export async function startJvm(launch: JvmLaunch): Promise<JvmProcess> {
  const home = launch.home === undefined ? undefined : path.resolve(launch.home);
  const tmpDir = home === undefined ? undefined : path.join(home, 'tmp');
  if (tmpDir !== undefined) mkdirSync(tmpDir, { recursive: true });
  const args = [
    ...launch.javaOptions,
    ...(tmpDir === undefined ? [] : [`-Djava.io.tmpdir=${tmpDir}`]),
    '-jar',
    launch.jar,
    ...launch.launcherArgs,
  ];
  const logFile = path.resolve(launch.logFile);
  mkdirSync(path.dirname(logFile), { recursive: true });
  const log = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(launch.java, args, {
      ...(home === undefined ? {} : { cwd: home }),
      stdio: ['pipe', 'pipe', log],
      detached: launch.detached ?? false,
    });
  } finally {
    // The child holds its own copy of the descriptor.
    closeSync(log);
  }
  // Watched from spawn on, so that even a death before READY is on record.
  const watched = watchProcess(child, launch.service, logFile);
  const exited = new Promise<JvmExit>((resolve) => {
    const done = (): void => resolve({ code: child.exitCode, signal: child.signalCode });
    if (hasExited(child)) done();
    else child.once('exit', done);
    // A spawn failure (no java binary) emits 'error' and never 'exit'. Kept for the child's
    // lifetime, this listener also keeps a later 'error' (a failed kill) from being unhandled.
    child.on('error', done);
  });

  const terminate = async (graceMs: number): Promise<void> => {
    watched.expectExit();
    if (!hasExited(child) && child.pid !== undefined) {
      // The handle may be unref'd; without this the caller could exit before 'exit' arrives.
      child.ref();
      if (graceMs === 0) {
        child.kill('SIGKILL');
      } else {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited.finally(() => clearTimeout(killer));
      }
    }
    await exited;
  };

  let ready: string;
  try {
    ready = await awaitReady(child, exited, launch, logFile);
  } catch (error) {
    await terminate(launch.failedStartGraceMs ?? launch.stopGraceMs);
    throw error;
  }

  if (launch.unrefWhenReady) {
    child.unref();
    (child.stdin as Socket | null)?.unref();
    (child.stdout as Socket | null)?.unref();
  }

  let stopping: Promise<void> | undefined;
  return {
    child,
    pid: child.pid!,
    ready,
    exited,
    died: watched.died,
    stop: () => {
      stopping ??= terminate(launch.stopGraceMs);
      return stopping;
    },
  };
}

/** Resolves with group 1 of the READY line; rejects if the JVM exits or the timeout passes first. */
function awaitReady(
  child: ChildProcess,
  exited: Promise<JvmExit>,
  launch: JvmLaunch,
  logFile: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outcome();
    };
    const fail = (message: string): void =>
      settle(() => reject(new Error(`${message}\n${(launch.describeLog ?? defaultDescribeLog)(logFile)}`)));

    const timer = setTimeout(
      () => fail(`${launch.label} was not ready within ${launch.readyTimeoutMs} ms`),
      launch.readyTimeoutMs,
    );
    child.once('error', (error) => fail(`${launch.label} could not be started: ${error.message}`));
    void exited.then(({ code, signal }) =>
      fail(`${launch.label} exited before it was ready (${signal ?? `exit ${code}`})`),
    );
    // Whole lines only: a chunk that ends inside "READY 8181" must not read as port 81. The reader
    // stays for the JVM's lifetime, so an unread pipe never blocks it.
    const lines = createInterface({ input: child.stdout!, crlfDelay: Number.POSITIVE_INFINITY });
    lines.on('line', (line) => {
      const match = settled ? null : launch.readyLine.exec(line);
      if (match?.[1] !== undefined) {
        const address = match[1];
        settle(() => resolve(address));
        return;
      }
      // Only READY is expected on stdout; keep anything else where people will look.
      try {
        appendFileSync(logFile, `[stdout] ${line}\n`);
      } catch {
        // A log folder removed while the JVM still prints: the line is not worth a crash.
      }
    });
  });
}
