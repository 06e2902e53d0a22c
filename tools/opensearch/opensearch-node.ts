/**
 * A real single-node OpenSearch 2.19 on 127.0.0.1 for local runs and integration tests.
 * There is no OpenSearch distribution to download here, so tools/opensearch/pom.xml assembles
 * the server from Maven Central jars and LocalNode.java starts it as classpath plugins.
 *
 *   await buildOpenSearchLauncher();
 *   const node = await startOpenSearch({ home: freshTempDir, logFile });
 *   ... node.url ...
 *   await node.stop();
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import type { Socket } from 'node:net';
import path from 'node:path';
import {
  type ServiceDiedError,
  SPAWN_DETACHED,
  type WatchedProcess,
  watchProcess,
} from '../local-stack/service-watch';

const TOOL_DIR = __dirname;
const TARGET_DIR = path.join(TOOL_DIR, 'target');
export const LAUNCHER_JAR = path.join(TARGET_DIR, 'taxi-stream-opensearch.jar');
// The jar plugin leaves an up-to-date jar untouched, so its mtime cannot tell "built after the
// last edit"; this stamp carries the start time of the last successful build instead.
const BUILD_STAMP = path.join(TARGET_DIR, '.taxi-stream-build-stamp');
const BUILD_LOCK = path.join(TARGET_DIR, '.taxi-stream-build-lock');
const BUILD_LOCK_STALE_MS = 15 * 60_000;

const DEFAULT_READY_TIMEOUT_MS = 120_000;
const STOP_GRACE_MS = 15_000;

/** OpenSearch 2.19 runs on Java 17; a newer default JDK on PATH is not assumed to work. */
const JAVA_17_HOMES = ['/usr/lib/jvm/java-17-openjdk-amd64', '/usr/lib/jvm/temurin-17-jdk-amd64'];

export type OpenSearchPlugin = 'geo' | 'painless' | 'analysis-common';

/** geo carries geohash_grid/geotile_grid; painless costs ~2 s CPU at start-up. */
export const ALL_PLUGINS: readonly OpenSearchPlugin[] = ['geo', 'painless', 'analysis-common'];

/**
 * The machine has 2 cores shared with other services: C1-only compilation halves start-up CPU
 * (~16 s -> ~8 s) at some cost in peak throughput, which small test data never reaches.
 * JVM warnings go to stderr because stdout is the launcher's READY channel.
 */
export const DEFAULT_JAVA_OPTIONS: readonly string[] = [
  '-Xms512m',
  '-Xmx512m',
  '-XX:TieredStopAtLevel=1',
  '-XX:-OmitStackTraceInFastThrow',
  '-Xlog:disable',
  '-Xlog:all=warning:stderr',
  '-Dfile.encoding=UTF-8',
  // SPI brings OpenSearch's ISO calendar provider (weeks start on Monday), as its jvm.options do.
  '-Djava.locale.providers=SPI,COMPAT',
];

export interface StartOpenSearchOptions {
  /** A fresh directory owned by the caller: data, config, temp files and the node lock go here. */
  readonly home: string;
  /** The node's log (appended); read it when a start fails. */
  readonly logFile: string;
  /** HTTP port; 0 or absent = any free port. */
  readonly port?: number;
  readonly readyTimeoutMs?: number;
  /** Optional plugins besides the HTTP transport; default all of ALL_PLUGINS. */
  readonly plugins?: readonly OpenSearchPlugin[];
  /** Replaces DEFAULT_JAVA_OPTIONS (e.g. full JIT for a throughput run). */
  readonly javaOptions?: readonly string[];
}

export interface OpenSearchNode {
  /** http://127.0.0.1:PORT, no trailing slash. */
  readonly url: string;
  readonly pid: number;
  /**
   * Resolves when the node exits without stop() (killed from outside, crashed), naming its log;
   * pending while it runs.
   */
  readonly died: Promise<ServiceDiedError>;
  /** SIGTERM, then SIGKILL after 15 s; resolves once the process has exited. Idempotent. */
  stop(): Promise<void>;
}

/** The Java 17 home to build and run with, or undefined to use whatever `java` is on PATH. */
export function openSearchJavaHome(): string | undefined {
  const candidates = [process.env.OPENSEARCH_JAVA_HOME, ...JAVA_17_HOMES];
  return candidates.find(
    (home): home is string => home !== undefined && home !== '' && existsSync(path.join(home, 'bin', 'java')),
  );
}

function javaBinary(): string {
  const home = openSearchJavaHome();
  return home === undefined ? 'java' : path.join(home, 'bin', 'java');
}

function newestMtimeMs(entry: string): number {
  const stat = statSync(entry);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const name of readdirSync(entry)) newest = Math.max(newest, newestMtimeMs(path.join(entry, name)));
  return newest;
}

function launcherIsStale(): boolean {
  if (!existsSync(LAUNCHER_JAR) || !existsSync(BUILD_STAMP) || !existsSync(path.join(TARGET_DIR, 'lib'))) {
    return true;
  }
  const inputs = Math.max(
    newestMtimeMs(path.join(TOOL_DIR, 'pom.xml')),
    newestMtimeMs(path.join(TOOL_DIR, 'src')),
  );
  return inputs > statSync(BUILD_STAMP).mtimeMs;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Jest workers and a CLI may build at once; two Maven runs in one target/ corrupt each other. */
async function withBuildLock<T>(work: () => Promise<T>): Promise<T> {
  mkdirSync(TARGET_DIR, { recursive: true });
  for (;;) {
    try {
      mkdirSync(BUILD_LOCK);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const lock = statSync(BUILD_LOCK, { throwIfNoEntry: false });
      // A build killed mid-way leaves its lock behind; no real build takes this long.
      if (lock !== undefined && Date.now() - lock.mtimeMs > BUILD_LOCK_STALE_MS) {
        rmSync(BUILD_LOCK, { recursive: true, force: true });
      } else {
        await sleep(250);
      }
    }
  }
  try {
    return await work();
  } finally {
    rmSync(BUILD_LOCK, { recursive: true, force: true });
  }
}

async function runMaven(): Promise<void> {
  const env = { ...process.env };
  const javaHome = openSearchJavaHome();
  if (javaHome !== undefined) env.JAVA_HOME = javaHome;
  const child = spawn(process.env.MVN ?? 'mvn', ['-B', '-q', '-Dstyle.color=never', 'package'], {
    cwd: TOOL_DIR,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (chunk: Buffer): void => {
    // Only the end matters for a failure report; keep memory bounded on a chatty first download.
    output = (output + chunk.toString('utf8')).slice(-20_000);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  if (code !== 0) {
    throw new Error(`mvn package in ${TOOL_DIR} failed (${signal ?? `exit ${code}`}):\n${output.trim()}`);
  }
}

let pendingBuild: Promise<void> | undefined;

/**
 * Builds target/taxi-stream-opensearch.jar and target/lib/ with Maven when they are missing or
 * older than pom.xml / src/. The first build downloads ~90 MB into ~/.m2; later ones are offline.
 */
export function buildOpenSearchLauncher(): Promise<void> {
  pendingBuild ??= (async () => {
    if (!launcherIsStale()) return;
    await withBuildLock(async () => {
      // Another process may have finished the same build while we waited for the lock.
      if (!launcherIsStale()) return;
      const startedAt = new Date();
      await runMaven();
      writeFileSync(BUILD_STAMP, '');
      utimesSync(BUILD_STAMP, startedAt, startedAt);
    });
  })().finally(() => {
    pendingBuild = undefined;
  });
  return pendingBuild;
}

function logTail(logFile: string, lines = 40): string {
  try {
    return readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Resolves with the READY url, rejects if the process exits or the timeout passes first. */
function awaitReady(child: ChildProcess, timeoutMs: number, logFile: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const cleanup = (): void => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onError);
    };
    const fail = (message: string): void => {
      cleanup();
      reject(new Error(`${message}\n--- last lines of ${logFile} ---\n${logTail(logFile)}`));
    };
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString('utf8');
      for (const line of buffered.split('\n')) {
        const match = /^READY (http:\/\/127\.0\.0\.1:\d+)\s*$/.exec(line);
        if (match?.[1] !== undefined) {
          cleanup();
          resolve(match[1]);
          return;
        }
      }
      buffered = buffered.slice(buffered.lastIndexOf('\n') + 1);
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
      fail(`OpenSearch exited before it was ready (${signal ?? `exit ${code}`})`);
    const onError = (error: Error): void => fail(`OpenSearch could not be started: ${error.message}`);
    const timer = setTimeout(() => fail(`OpenSearch was not ready within ${timeoutMs} ms`), timeoutMs);
    child.stdout?.on('data', onData);
    child.on('exit', onExit);
    child.on('error', onError);
  });
}

async function terminate(child: ChildProcess, exited: Promise<void>, watched: WatchedProcess): Promise<void> {
  watched.expectExit();
  if (hasExited(child)) return;
  // The handle was unref'd after start; without this the caller could exit before 'exit' arrives.
  child.ref();
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  try {
    await exited;
  } finally {
    clearTimeout(killer);
  }
}

/**
 * Starts the node (the launcher must be built) and resolves once the cluster is at least yellow
 * and HTTP answers. If the caller dies without stop(), the node still goes: it exits when its
 * stdin pipe from this process closes.
 */
export async function startOpenSearch(options: StartOpenSearchOptions): Promise<OpenSearchNode> {
  if (!existsSync(LAUNCHER_JAR)) {
    throw new Error(`${LAUNCHER_JAR} is missing: call buildOpenSearchLauncher() first`);
  }
  const home = path.resolve(options.home);
  const tmpDir = path.join(home, 'tmp');
  mkdirSync(tmpDir, { recursive: true });
  mkdirSync(path.dirname(path.resolve(options.logFile)), { recursive: true });

  const args = [
    ...(options.javaOptions ?? DEFAULT_JAVA_OPTIONS),
    // Lucene and JNA temp files then vanish with the caller's home instead of piling up in /tmp.
    `-Djava.io.tmpdir=${tmpDir}`,
    '-jar',
    LAUNCHER_JAR,
    '--home',
    home,
    '--http-port',
    String(options.port ?? 0),
    '--plugins',
    (options.plugins ?? ALL_PLUGINS).join(','),
  ];
  const log = openSync(options.logFile, 'a');
  let child: ChildProcess;
  try {
    // Its own process group: see SPAWN_DETACHED in service-watch.ts.
    child = spawn(javaBinary(), args, { cwd: home, stdio: ['pipe', 'pipe', log], detached: SPAWN_DETACHED });
  } finally {
    // The child holds its own copy of the descriptor.
    closeSync(log);
  }
  const watched = watchProcess(child, 'opensearch', options.logFile);
  const exited = new Promise<void>((resolve) => {
    if (hasExited(child)) resolve();
    else child.once('exit', () => resolve());
  });
  // Spawn errors (no java binary) surface through awaitReady; this keeps them from being unhandled.
  child.on('error', () => {});

  let url: string;
  try {
    url = await awaitReady(child, options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS, options.logFile);
  } catch (error) {
    if (child.pid !== undefined) await terminate(child, exited, watched);
    throw error;
  }
  const pid = child.pid!;

  // Nothing else is expected on stdout, but an unread pipe would eventually block the JVM.
  child.stdout?.resume();
  // A forgotten stop() must not keep the caller alive; the closed stdin then ends the node.
  child.unref();
  (child.stdin as Socket | null)?.unref();
  (child.stdout as Socket | null)?.unref();

  let stopping: Promise<void> | undefined;
  return {
    url,
    pid,
    died: watched.died,
    stop: () => {
      stopping ??= terminate(child, exited, watched);
      return stopping;
    },
  };
}
