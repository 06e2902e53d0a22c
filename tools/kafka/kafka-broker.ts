/**
 * A real single-node Apache Kafka 4.4 (KRaft: broker and controller in one JVM) on 127.0.0.1 for
 * local runs and integration tests. The JVM side is tools/kafka/src/main/java/taxistream/kafka/
 * LocalBroker.java, built by Maven from Central artifacts into tools/kafka/target/.
 *
 * Manual use: `npx tsx tools/kafka/kafka-broker.ts [--port 9092] [--dir .local/kafka]`.
 */
import { createHash } from 'node:crypto';
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import path from 'node:path';
import { javaBinary } from '../launchers/java-home';
import { type JvmProcess, startJvm } from '../launchers/jvm-process';
import { mavenLauncherBuild, requireLauncherJar } from '../launchers/maven-build';
import { SERVICE_DIED_EXIT_CODE, type ServiceDiedError, SPAWN_DETACHED } from '../local-stack/service-watch';

export interface StartKafkaOptions {
  /** Broker state (server.properties, data/). Reusing a directory keeps topics and offsets. */
  readonly dir: string;
  /** The JVM's stderr (all broker logs) is appended here. */
  readonly logFile: string;
  /** Client (PLAINTEXT) port; 0 or absent = any free port. */
  readonly port?: number;
  /** KRaft controller port; 0 or absent = any free port. */
  readonly controllerPort?: number;
  readonly readyTimeoutMs?: number;
  /** Extra or overriding broker settings, e.g. `{ 'auto.create.topics.enable': 'true' }`. */
  readonly properties?: Readonly<Record<string, string>>;
}

export interface KafkaBroker {
  /** `127.0.0.1:<port>`, for a client's bootstrap brokers list. */
  readonly bootstrap: string;
  readonly pid: number;
  /**
   * Resolves when the broker exits without stop() (killed from outside, crashed), naming its
   * log; pending while it runs.
   */
  readonly died: Promise<ServiceDiedError>;
  /** SIGTERM, then SIGKILL if the broker is still up after the grace period. Idempotent. */
  stop(): Promise<void>;
}

const TARGET_DIR = path.join(__dirname, 'target');
const LAUNCHER_JAR = path.join(TARGET_DIR, 'taxi-stream-kafka.jar');
const LIB_DIR = path.join(TARGET_DIR, 'lib');
const DEFAULT_READY_TIMEOUT_MS = 120_000;
const STOP_GRACE_MS = 20_000;
// A run that writes the class-data archive spends several seconds dumping it at exit.
const STOP_GRACE_WHILE_ARCHIVING_MS = 60_000;

const JVM_OPTIONS = [
  '-Xms64m',
  '-Xmx512m',
  '-XX:+ExitOnOutOfMemoryError',
  // C1 only: startup is mostly class loading and JIT work competing for two cores; test traffic
  // is far too small to need C2's peak throughput.
  '-XX:TieredStopAtLevel=1',
  // The JVM's own warnings (CDS among them) go to stdout by default, which is the READY channel.
  '-Xlog:disable',
  '-Xlog:all=warning:stderr',
  '-Djava.awt.headless=true',
];

// Maven runs with the caller's JAVA_HOME (or PATH), the same JDK startKafka runs the broker on.
const build = mavenLauncherBuild({
  toolDir: __dirname,
  jar: LAUNCHER_JAR,
  // The broker's classpath: a target/lib without the Kafka jar cannot run it, whatever the stamp says.
  outputsComplete: () => readdirSync(LIB_DIR).some((name) => name.startsWith('kafka_2.13-')),
  afterBuild: () => {
    // Archives are tied to the exact jars they were dumped from; the JVM would ignore stale ones.
    for (const name of readdirSync(TARGET_DIR)) {
      if (name.startsWith('cds-')) rmSync(path.join(TARGET_DIR, name), { force: true });
    }
  },
});

/**
 * Runs `mvn -B -q package` in tools/kafka when the launcher jar or its runtime classpath is
 * missing or older than pom.xml / src. Needs Maven Central the first time only; afterwards
 * everything comes from ~/.m2 and target/lib.
 */
export async function buildKafkaLauncher(): Promise<void> {
  return build();
}

/**
 * Starts the broker (call buildKafkaLauncher first) and resolves once it prints READY, i.e. once
 * it is registered, unfenced and answering metadata requests.
 */
export async function startKafka(opts: StartKafkaOptions): Promise<KafkaBroker> {
  requireLauncherJar(LAUNCHER_JAR, 'buildKafkaLauncher');
  const readyTimeoutMs = opts.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  mkdirSync(opts.dir, { recursive: true });

  const java = javaBinary(process.env.JAVA_HOME);
  const archive = classDataArchive(java);
  // Loading Kafka's classes from a class-data archive roughly halves start-to-ready. The first
  // run without one dumps it at exit (to a private name, so parallel runs cannot clash).
  const archiving = !existsSync(archive);
  const pendingArchive = `${archive}.${process.pid}.${Date.now()}.tmp`;
  const cdsOptions = archiving
    ? [`-XX:ArchiveClassesAtExit=${pendingArchive}`]
    : [`-XX:SharedArchiveFile=${archive}`];

  let jvm: JvmProcess;
  try {
    jvm = await startJvm({
      service: 'kafka',
      label: 'Kafka',
      java,
      javaOptions: [...JVM_OPTIONS, ...cdsOptions],
      jar: LAUNCHER_JAR,
      launcherArgs: [
        '--dir',
        path.resolve(opts.dir),
        '--port',
        String(opts.port ?? 0),
        '--controller-port',
        String(opts.controllerPort ?? 0),
        '--ready-timeout-ms',
        String(readyTimeoutMs),
        ...Object.entries(opts.properties ?? {}).flatMap(([key, value]) => ['--prop', `${key}=${value}`]),
      ],
      logFile: opts.logFile,
      readyLine: /^READY (\S+)$/,
      readyTimeoutMs,
      stopGraceMs: archiving ? STOP_GRACE_WHILE_ARCHIVING_MS : STOP_GRACE_MS,
      // A broker that failed to start has nothing worth a controlled shutdown.
      failedStartGraceMs: 0,
      // A Ctrl-C then reaches only this process, which stops the broker (see service-watch.ts).
      detached: SPAWN_DETACHED,
      // Nothing but the broker keeps the CLI below alive until Ctrl-C.
      unrefWhenReady: false,
      describeLog: startFailureLog,
    });
  } catch (err) {
    // startJvm returns once the JVM is gone; a failed start loads too few classes to keep.
    rmSync(pendingArchive, { force: true });
    throw err;
  }
  // Keep only archives from runs that were not killed by a signal (code null), which can leave a
  // half-written file.
  const archived = jvm.exited.then(({ code }) => {
    try {
      if (archiving && code !== null && existsSync(pendingArchive)) renameSync(pendingArchive, archive);
      else rmSync(pendingArchive, { force: true });
    } catch {
      // The archive is only a start-up speed-up: without it the next start dumps a new one.
    }
  });

  return {
    bootstrap: jvm.ready,
    pid: jvm.pid,
    died: jvm.died,
    stop: async () => {
      await jvm.stop();
      await archived;
    },
  };
}

/**
 * The cause of a failed start is usually thousands of lines up, followed by shutdown noise, so
 * quote the first errors as well as the end of the log.
 */
function startFailureLog(logFile: string): string {
  let lines: string[];
  try {
    lines = readFileSync(logFile, 'utf8').split('\n');
  } catch {
    return `(no log at ${logFile})`;
  }
  const errors = lines.filter((line) => /\bERROR\b|Exception:|^LocalBroker:/.test(line)).slice(0, 8);
  return [...errors, '...', ...lines.slice(-15), `(full log: ${logFile})`].join('\n');
}

/**
 * One archive per JDK: an archive only loads into the JVM that wrote it. The key includes the
 * binary's mtime so that a JDK upgraded in place gets a fresh archive instead of a silently
 * ignored one.
 */
function classDataArchive(java: string): string {
  const resolved = resolveOnPath(java);
  const key = resolved ? `${realpathSync(resolved)}:${statSync(resolved).mtimeMs}` : java;
  const hash = createHash('sha256').update(key).digest('hex').slice(0, 12);
  return path.join(TARGET_DIR, `cds-${hash}.jsa`);
}

function resolveOnPath(binary: string): string | undefined {
  const candidates = binary.includes(path.sep)
    ? [binary]
    : (process.env.PATH ?? '').split(path.delimiter).map((dir) => path.join(dir, binary));
  return candidates.find((candidate) => {
    try {
      accessSync(candidate, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const flag = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const dir = path.resolve(flag('--dir') ?? '.local/kafka');
  await buildKafkaLauncher();
  const broker = await startKafka({
    dir,
    logFile: path.join(dir, 'broker.log'),
    port: Number(flag('--port') ?? 9092),
  });
  process.stdout.write(`Kafka ready at ${broker.bootstrap} (pid ${broker.pid}); Ctrl-C stops it\n`);
  const shutdown = (): void => {
    void broker.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
  void broker.died.then((death) => {
    process.stderr.write(`${death.describe()}\n`);
    process.exit(SERVICE_DIED_EXIT_CODE);
  });
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
