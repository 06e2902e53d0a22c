package taxistream.kafka;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import kafka.tools.StorageTool;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.utils.Time;

/**
 * A single-node Kafka (KRaft, broker and controller in this one JVM) bound to 127.0.0.1, for local
 * runs and integration tests.
 *
 * <p>Usage: {@code java -jar taxi-stream-kafka.jar --dir DIR [--port N] [--controller-port M]
 * [--prop key=value]... [--ready-timeout-ms T] [--ignore-stdin]}
 *
 * <p>Contract with the parent process (tools/kafka/kafka-broker.ts): stdout carries exactly one
 * line, {@code READY 127.0.0.1:<port>}, once clients can use the broker; every log line goes to
 * stderr. SIGTERM shuts the broker down cleanly, and so does EOF on stdin, so a parent that dies
 * without cleaning up does not leave a broker behind.
 */
public final class LocalBroker {
  private static final String HOST = "127.0.0.1";
  private static final int NODE_ID = 1;

  private LocalBroker() {}

  public static void main(String[] args) throws Exception {
    // Kafka, Scala and the JDK all may print to System.out; the parent reads stdout for the
    // READY line only, so keep the real stdout private and point System.out at stderr.
    PrintStream readyOut = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
    System.setOut(System.err);

    Options options;
    try {
      options = Options.parse(args);
    } catch (IllegalArgumentException e) {
      System.err.println("LocalBroker: " + e.getMessage());
      System.exit(2);
      return;
    }

    long startedAt = System.nanoTime();
    Path dir = options.dir.toAbsolutePath();
    Path dataDir = dir.resolve("data");
    Files.createDirectories(dataDir);

    int[] ports = choosePorts(options.port, options.controllerPort);
    int port = ports[0];
    int controllerPort = ports[1];

    Properties props = serverProperties(dataDir, port, controllerPort, options.extraProps);
    Path propsFile = dir.resolve("server.properties");
    writeProperties(props, propsFile);

    // A reused directory keeps its cluster id and data. (StorageTool's --ignore-formatted is no
    // substitute: it still fails when the given cluster id differs from the stored one.)
    if (!Files.exists(dataDir.resolve("meta.properties"))) {
      int formatted = StorageTool.execute(
          new String[] {
            "format", "--config", propsFile.toString(), "--cluster-id", Uuid.randomUuid().toString(),
          },
          System.err);
      if (formatted != 0) {
        System.err.println("LocalBroker: formatting " + dataDir + " failed with status " + formatted);
        System.exit(1);
        return;
      }
    }

    KafkaRaftServer server = new KafkaRaftServer(KafkaConfig.fromProps(props, false), Time.SYSTEM);
    AtomicBoolean stopping = new AtomicBoolean(false);
    Thread hook = new Thread(() -> shutdown(server, stopping), "local-broker-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);

    if (!options.ignoreStdin) {
      watchStdin();
    }

    try {
      server.startup();
      awaitReady(port, options.readyTimeoutMs);
    } catch (Throwable t) {
      System.err.println("LocalBroker: startup failed");
      t.printStackTrace(System.err);
      System.exit(1);
      return;
    }

    long readyMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startedAt);
    System.err.println(
        "LocalBroker: ready on " + HOST + ":" + port + " (controller " + HOST + ":" + controllerPort
            + ") after " + readyMs + " ms, data in " + dataDir);
    readyOut.println("READY " + HOST + ":" + port);

    server.awaitShutdown();
    // awaitShutdown returns once the shutdown hook has run server.shutdown(); exiting here also
    // covers a broker that stopped by itself (fatal error) with the hook not yet started.
    System.exit(stopping.get() ? 0 : 1);
  }

  private static void shutdown(KafkaRaftServer server, AtomicBoolean stopping) {
    if (!stopping.compareAndSet(false, true)) {
      return;
    }
    long t0 = System.nanoTime();
    System.err.println("LocalBroker: shutting down");
    try {
      server.shutdown();
      server.awaitShutdown();
    } catch (Throwable t) {
      t.printStackTrace(System.err);
    }
    System.err.println(
        "LocalBroker: stopped in " + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0) + " ms");
  }

  private static void watchStdin() {
    Thread watcher = new Thread(() -> {
      byte[] buffer = new byte[256];
      try (InputStream in = System.in) {
        while (in.read(buffer) >= 0) {
          // Input is ignored: only its end matters.
        }
      } catch (IOException e) {
        // A broken pipe means the parent is gone, same as EOF.
      }
      System.err.println("LocalBroker: stdin closed, stopping");
      System.exit(0);
    }, "local-broker-stdin");
    watcher.setDaemon(true);
    watcher.start();
  }

  /**
   * Port 0 means "any free port". The controller port has to be fixed before the config is
   * written (it is part of controller.quorum.voters), so both are probed here, holding both sockets
   * until the choice is made so the two cannot collide.
   */
  private static int[] choosePorts(int port, int controllerPort) throws IOException {
    List<ServerSocket> probes = new ArrayList<>();
    try {
      int chosenPort = port == 0 ? probe(probes) : port;
      int chosenControllerPort = controllerPort == 0 ? probe(probes) : controllerPort;
      if (chosenPort == chosenControllerPort) {
        throw new IllegalArgumentException("--port and --controller-port must differ");
      }
      return new int[] {chosenPort, chosenControllerPort};
    } finally {
      for (ServerSocket s : probes) {
        s.close();
      }
    }
  }

  private static int probe(List<ServerSocket> probes) throws IOException {
    ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName(HOST));
    probes.add(s);
    return s.getLocalPort();
  }

  private static Properties serverProperties(
      Path dataDir, int port, int controllerPort, Map<String, String> extraProps) {
    Map<String, String> p = new LinkedHashMap<>();
    p.put("process.roles", "broker,controller");
    p.put("node.id", Integer.toString(NODE_ID));
    // A static quorum: the voter's address is config, not data, so a reused directory may come
    // back on different ports (a dynamic quorum records the controller endpoint in the log).
    p.put("controller.quorum.voters", NODE_ID + "@" + HOST + ":" + controllerPort);
    p.put("listeners", "PLAINTEXT://" + HOST + ":" + port + ",CONTROLLER://" + HOST + ":" + controllerPort);
    p.put("advertised.listeners", "PLAINTEXT://" + HOST + ":" + port);
    p.put("controller.listener.names", "CONTROLLER");
    p.put("inter.broker.listener.name", "PLAINTEXT");
    p.put("listener.security.protocol.map", "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT");
    p.put("log.dirs", dataDir.toString());
    p.put("num.partitions", "1");
    p.put("default.replication.factor", "1");
    p.put("min.insync.replicas", "1");
    // Internal topics default to replication factor 3, which one broker can never satisfy.
    p.put("offsets.topic.replication.factor", "1");
    p.put("transaction.state.log.replication.factor", "1");
    p.put("transaction.state.log.min.isr", "1");
    p.put("share.coordinator.state.topic.replication.factor", "1");
    p.put("share.coordinator.state.topic.min.isr", "1");
    // Fewer internal partitions make the first group join (which creates __consumer_offsets)
    // and the first transaction quick.
    p.put("offsets.topic.num.partitions", "5");
    p.put("transaction.state.log.num.partitions", "5");
    // Tests start consumers right away; the default 3 s wait for more members only slows them.
    p.put("group.initial.rebalance.delay.ms", "0");
    // Topics must be created on purpose, as on a managed cluster; a typo should fail, not create.
    p.put("auto.create.topics.enable", "false");
    // The cleaner allocates this buffer up front (128 MiB by default), a quarter of the heap.
    p.put("log.cleaner.dedupe.buffer.size", Integer.toString(8 * 1024 * 1024));
    // Sized for a 2-core machine that also runs the tests.
    p.put("num.network.threads", "2");
    p.put("num.io.threads", "4");
    p.put("background.threads", "4");
    p.put("num.recovery.threads.per.data.dir", "1");
    p.putAll(extraProps);
    Properties props = new Properties();
    props.putAll(p);
    return props;
  }

  private static void writeProperties(Properties props, Path file) throws IOException {
    StringBuilder sb = new StringBuilder("# Written by taxistream.kafka.LocalBroker at every start.\n");
    for (String name : props.stringPropertyNames().stream().sorted().toList()) {
      sb.append(name).append('=').append(props.getProperty(name)).append('\n');
    }
    Files.writeString(file, sb.toString(), StandardCharsets.UTF_8);
  }

  /**
   * The broker accepts connections before it is usable; a describeCluster that lists this node
   * means it has registered with the controller, caught up with the metadata log and been
   * unfenced, so topic creation and produce requests will succeed. Fetching a group's offsets
   * then makes the broker create __consumer_offsets and load it, so the first consumer group of a
   * test joins at once instead of retrying through COORDINATOR_NOT_AVAILABLE (which some clients
   * log as an error).
   */
  private static void awaitReady(int port, long timeoutMs) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
    Map<String, Object> config = new LinkedHashMap<>();
    config.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, HOST + ":" + port);
    config.put(AdminClientConfig.CLIENT_ID_CONFIG, "local-broker-ready-probe");
    config.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 5000);
    config.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 5000);
    config.put(AdminClientConfig.RETRY_BACKOFF_MS_CONFIG, 100);
    try (Admin admin = Admin.create(config)) {
      Exception last = null;
      while (System.nanoTime() < deadline) {
        try {
          Collection<Node> nodes = admin.describeCluster().nodes().get(5, TimeUnit.SECONDS);
          if (nodes.stream().anyMatch(n -> n.id() == NODE_ID)) {
            admin.listConsumerGroupOffsets("local-broker-ready-probe")
                .partitionsToOffsetAndMetadata()
                .get(5, TimeUnit.SECONDS);
            return;
          }
        } catch (Exception e) {
          last = e;
        }
        Thread.sleep(100);
      }
      throw new IllegalStateException("broker not ready after " + timeoutMs + " ms", last);
    }
  }

  private static final class Options {
    Path dir;
    int port;
    int controllerPort;
    long readyTimeoutMs = 120_000;
    boolean ignoreStdin;
    final Map<String, String> extraProps = new LinkedHashMap<>();

    static Options parse(String[] args) {
      Options o = new Options();
      List<String> rest = new ArrayList<>(List.of(args));
      while (!rest.isEmpty()) {
        String flag = rest.remove(0);
        switch (flag) {
          case "--dir" -> o.dir = Path.of(value(flag, rest));
          case "--port" -> o.port = port(flag, value(flag, rest));
          case "--controller-port" -> o.controllerPort = port(flag, value(flag, rest));
          case "--ready-timeout-ms" -> o.readyTimeoutMs = Long.parseLong(value(flag, rest));
          case "--ignore-stdin" -> o.ignoreStdin = true;
          case "--prop" -> {
            String kv = value(flag, rest);
            int eq = kv.indexOf('=');
            if (eq <= 0) {
              throw new IllegalArgumentException("--prop needs key=value, got " + kv);
            }
            o.extraProps.put(kv.substring(0, eq), kv.substring(eq + 1));
          }
          default -> throw new IllegalArgumentException("unknown argument " + flag);
        }
      }
      if (o.dir == null) {
        throw new IllegalArgumentException("--dir is required");
      }
      return o;
    }

    private static String value(String flag, List<String> rest) {
      if (rest.isEmpty()) {
        throw new IllegalArgumentException(flag + " needs a value");
      }
      return rest.remove(0);
    }

    private static int port(String flag, String value) {
      int p = Integer.parseInt(value);
      if (p < 0 || p > 65535) {
        throw new IllegalArgumentException(flag + " out of range: " + value);
      }
      return p;
    }
  }
}
