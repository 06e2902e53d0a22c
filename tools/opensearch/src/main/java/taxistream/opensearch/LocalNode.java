package taxistream.opensearch;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.HttpURLConnection;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import org.opensearch.action.admin.cluster.health.ClusterHealthResponse;
import org.opensearch.cluster.health.ClusterHealthStatus;
import org.opensearch.common.settings.Settings;
import org.opensearch.common.unit.TimeValue;
import org.opensearch.geo.GeoModulePlugin;
import org.opensearch.http.HttpServerTransport;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.painless.PainlessPlugin;
import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

/**
 * A real single-node OpenSearch on 127.0.0.1 for local runs and integration tests.
 *
 * <pre>
 * java -Xms512m -Xmx512m -jar target/taxi-stream-opensearch.jar --home DIR [--http-port N] [--log FILE]
 *     [--ignore-stdin] [--plugins geo,painless,analysis-common]
 * </pre>
 *
 * Stdout carries exactly one line, {@code READY http://127.0.0.1:PORT}, once the cluster is at least
 * yellow and HTTP answers; everything else goes to stderr or the --log file. The process stops on
 * SIGTERM and when stdin reaches EOF, so a parent that dies (and so closes the pipe) takes it along.
 */
public final class LocalNode {

  private static final String CLUSTER_NAME = "taxi-stream-local";
  private static final long READY_TIMEOUT_SECONDS = 120;

  /** Node's plugin-taking constructor is protected: the test framework's MockNode does the same. */
  static final class EmbeddedNode extends Node {
    EmbeddedNode(Settings settings, Collection<Class<? extends Plugin>> classpathPlugins) {
      super(
          InternalSettingsPreparer.prepareEnvironment(settings, Map.of(), null, () -> CLUSTER_NAME),
          classpathPlugins,
          true);
    }
  }

  private LocalNode() {}

  /** Optional classpath plugins by name; the HTTP transport is always loaded. */
  private static final Map<String, Class<? extends Plugin>> OPTIONAL_PLUGINS = Map.of(
      "geo", GeoModulePlugin.class,
      "painless", PainlessPlugin.class,
      "analysis-common", CommonAnalysisPlugin.class);

  private record Options(int httpPort, Path home, Path logFile, boolean watchStdin, List<String> plugins) {}

  public static void main(String[] args) {
    Options options;
    try {
      options = parse(args);
    } catch (IllegalArgumentException e) {
      System.err.println("opensearch launcher: " + e.getMessage());
      System.err.println(
          "usage: --home DIR [--http-port N (0 = any free port)] [--log FILE] [--ignore-stdin]"
              + " [--plugins geo,painless,analysis-common]");
      System.exit(2);
      return;
    }

    // Stdout is the parent's protocol channel: keep a private handle for READY and send every
    // stray println (ours, log4j's status logger, libraries') to stderr instead.
    PrintStream protocol = new PrintStream(new FileOutputStream(java.io.FileDescriptor.out), true, StandardCharsets.UTF_8);
    try {
      if (options.logFile() != null) {
        Path parent = options.logFile().toAbsolutePath().getParent();
        if (parent != null) Files.createDirectories(parent);
        System.setErr(new PrintStream(new FileOutputStream(options.logFile().toFile(), true), true, StandardCharsets.UTF_8));
      }
    } catch (IOException e) {
      System.err.println("opensearch launcher: cannot open log file: " + e);
      System.exit(2);
      return;
    }
    System.setOut(System.err);
    configureLogging();

    AtomicReference<Node> nodeRef = new AtomicReference<>();
    Runtime.getRuntime().addShutdownHook(new Thread(() -> closeNode(nodeRef), "opensearch-shutdown"));
    if (options.watchStdin()) watchStdin();

    try {
      int port = start(options, nodeRef);
      protocol.println("READY http://127.0.0.1:" + port);
      protocol.flush();
      // Every OpenSearch thread is a daemon: returning from main would end the JVM right here.
      // Shutdown (signal or System.exit) does not wait for this thread, so parking forever is fine.
      new CountDownLatch(1).await();
    } catch (Throwable t) {
      System.err.println("opensearch launcher: start failed");
      t.printStackTrace(System.err);
      System.err.flush();
      // exit() runs the shutdown hook, which closes a half-started node and its data dir lock.
      System.exit(1);
    }
  }

  private static int start(Options options, AtomicReference<Node> nodeRef) throws Exception {
    Path home = options.home().toAbsolutePath();
    // The plugins service scans these even when every plugin comes from the class path.
    for (String dir : List.of("config", "data", "logs", "modules", "plugins")) {
      Files.createDirectories(home.resolve(dir));
    }

    Settings settings = Settings.builder()
        .put("cluster.name", CLUSTER_NAME)
        .put("node.name", CLUSTER_NAME)
        .put("path.home", home.toString())
        .put("path.data", home.resolve("data").toString())
        .put("path.logs", home.resolve("logs").toString())
        .put("discovery.type", "single-node")
        .put("network.host", "127.0.0.1")
        .put("http.port", Integer.toString(options.httpPort()))
        // Node-to-node transport is unused by a single node, but it still binds: take any free
        // port rather than the 9300-9400 scan that could collide with other local services.
        .put("transport.port", "0")
        // A test run on a nearly full disk must not flip indices to read-only.
        .put("cluster.routing.allocation.disk.threshold_enabled", false)
        // One node can never place replicas; with 0 new indices go green instead of yellow.
        .put("cluster.default_number_of_replicas", 0)
        .build();

    List<Class<? extends Plugin>> plugins = new ArrayList<>();
    plugins.add(Netty4Plugin.class);
    for (String name : options.plugins()) plugins.add(OPTIONAL_PLUGINS.get(name));

    Node node = new EmbeddedNode(settings, plugins);
    nodeRef.set(node);
    node.start();

    ClusterHealthResponse health = node.client().admin().cluster().prepareHealth()
        .setWaitForYellowStatus()
        .setTimeout(TimeValue.timeValueSeconds(READY_TIMEOUT_SECONDS))
        .get();
    if (health.isTimedOut() || health.getStatus() == ClusterHealthStatus.RED) {
      throw new IllegalStateException("cluster health stayed " + health.getStatus());
    }

    int port = node.injector().getInstance(HttpServerTransport.class)
        .boundAddress().publishAddress().getPort();
    awaitHttp(port);
    return port;
  }

  /** Health comes over the in-JVM client; the parent needs the REST layer, so probe it as a client would. */
  private static void awaitHttp(int port) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(READY_TIMEOUT_SECONDS);
    Exception last = null;
    while (System.nanoTime() < deadline) {
      try {
        HttpURLConnection connection = (HttpURLConnection) new URL("http://127.0.0.1:" + port + "/").openConnection();
        connection.setConnectTimeout(2_000);
        connection.setReadTimeout(5_000);
        int status = connection.getResponseCode();
        try (InputStream body = status < 400 ? connection.getInputStream() : connection.getErrorStream()) {
          if (body != null) body.readAllBytes();
        }
        if (status == 200) return;
        last = new IllegalStateException("GET / answered " + status);
      } catch (IOException e) {
        last = e;
      }
      Thread.sleep(100);
    }
    throw new IllegalStateException("HTTP on port " + port + " did not answer", last);
  }

  private static void closeNode(AtomicReference<Node> nodeRef) {
    Node node = nodeRef.getAndSet(null);
    if (node == null) return;
    try {
      node.close();
      if (!node.awaitClose(10, TimeUnit.SECONDS)) {
        System.err.println("opensearch launcher: node did not close within 10 s");
      }
    } catch (Exception e) {
      System.err.println("opensearch launcher: error while closing the node: " + e);
    }
    System.err.flush();
  }

  /** A parent that dies without signalling us still closes our stdin; treat EOF as "stop". */
  private static void watchStdin() {
    Thread watcher = new Thread(() -> {
      try {
        byte[] buffer = new byte[256];
        while (System.in.read(buffer) >= 0) {
          // Input carries no meaning; only its end does.
        }
      } catch (IOException ignored) {
        // A broken stdin means the parent is gone as surely as EOF does.
      }
      System.err.println("opensearch launcher: stdin closed, shutting down");
      System.exit(0);
    }, "stdin-watch");
    watcher.setDaemon(true);
    watcher.start();
  }

  /**
   * Must run before any OpenSearch class initialises a logger. Log4j's own shutdown hook would
   * stop logging before ours closes the node, hiding close-time errors, so it is switched off.
   */
  private static void configureLogging() {
    System.setProperty("log4j2.configurationFile", "classpath:taxistream-opensearch-log4j2.properties");
    System.setProperty("log4j.shutdownHookEnabled", "false");
    System.setProperty("log4j2.disable.jmx", "true");
  }

  private static Options parse(String[] args) {
    Integer port = 0;
    Path home = null;
    Path log = null;
    boolean watchStdin = true;
    List<String> plugins = List.of("geo", "painless", "analysis-common");
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      switch (arg) {
        case "--http-port" -> port = parsePort(value(args, ++i, arg));
        case "--home" -> home = Paths.get(value(args, ++i, arg));
        case "--log" -> log = Paths.get(value(args, ++i, arg));
        case "--ignore-stdin" -> watchStdin = false;
        case "--plugins" -> plugins = parsePlugins(value(args, ++i, arg));
        default -> throw new IllegalArgumentException("unknown argument " + arg);
      }
    }
    if (home == null) throw new IllegalArgumentException("--home is required");
    return new Options(port, home, log, watchStdin, plugins);
  }

  private static List<String> parsePlugins(String text) {
    List<String> names = new ArrayList<>();
    for (String name : text.split(",")) {
      String trimmed = name.trim();
      if (trimmed.isEmpty() || trimmed.equals("netty4")) continue;
      if (!OPTIONAL_PLUGINS.containsKey(trimmed)) {
        throw new IllegalArgumentException(
            "unknown plugin " + trimmed + " (known: " + String.join(",", OPTIONAL_PLUGINS.keySet()) + ")");
      }
      if (!names.contains(trimmed)) names.add(trimmed);
    }
    return names;
  }

  private static String value(String[] args, int i, String name) {
    if (i >= args.length) throw new IllegalArgumentException(name + " needs a value");
    return args[i];
  }

  private static int parsePort(String text) {
    try {
      int port = Integer.parseInt(text);
      if (port < 0 || port > 65_535) throw new NumberFormatException();
      return port;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("--http-port needs 0..65535, got " + text);
    }
  }
}
