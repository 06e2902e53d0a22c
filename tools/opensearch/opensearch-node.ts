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
import path from 'node:path';
import { findJavaHome, JAVA_17_HOMES, javaBinary } from '../launchers/java-home';
import { startJvm } from '../launchers/jvm-process';
import { mavenLauncherBuild, requireLauncherJar } from '../launchers/maven-build';
import { type ServiceDiedError, SPAWN_DETACHED } from '../local-stack/service-watch';

export const LAUNCHER_JAR = path.join(__dirname, 'target', 'taxi-stream-opensearch.jar');

const DEFAULT_READY_TIMEOUT_MS = 120_000;
const STOP_GRACE_MS = 15_000;

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

/**
 * The Java 17 home to build and run with, or undefined to use whatever `java` is on PATH.
 * OpenSearch 2.19 runs on Java 17; a newer default JDK on PATH is not assumed to work.
 */
export function openSearchJavaHome(): string | undefined {
  return findJavaHome([process.env.OPENSEARCH_JAVA_HOME, ...JAVA_17_HOMES]);
}

const build = mavenLauncherBuild({ toolDir: __dirname, jar: LAUNCHER_JAR, javaHome: openSearchJavaHome });

/**
 * Builds target/taxi-stream-opensearch.jar and target/lib/ with Maven when they are missing or
 * older than pom.xml / src/. The first build downloads ~90 MB into ~/.m2; later ones are offline.
 */
export function buildOpenSearchLauncher(): Promise<void> {
  return build();
}

/**
 * Starts the node (the launcher must be built) and resolves once the cluster is at least yellow
 * and HTTP answers. If the caller dies without stop(), the node still goes: it exits when its
 * stdin pipe from this process closes.
 */
export async function startOpenSearch(options: StartOpenSearchOptions): Promise<OpenSearchNode> {
  requireLauncherJar(LAUNCHER_JAR, 'buildOpenSearchLauncher');
  const home = path.resolve(options.home);
  const jvm = await startJvm({
    service: 'opensearch',
    label: 'OpenSearch',
    java: javaBinary(openSearchJavaHome()),
    javaOptions: options.javaOptions ?? DEFAULT_JAVA_OPTIONS,
    jar: LAUNCHER_JAR,
    launcherArgs: [
      '--home',
      home,
      '--http-port',
      String(options.port ?? 0),
      '--plugins',
      (options.plugins ?? ALL_PLUGINS).join(','),
    ],
    // Lucene and JNA temp files go to home/tmp.
    home,
    logFile: options.logFile,
    readyLine: /^READY (http:\/\/127\.0\.0\.1:\d+)\s*$/,
    readyTimeoutMs: options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS,
    stopGraceMs: STOP_GRACE_MS,
    detached: SPAWN_DETACHED,
    unrefWhenReady: true,
  });
  return { url: jvm.ready, pid: jvm.pid, died: jvm.died, stop: jvm.stop };
}
