package taxistream.iceberg;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.iceberg.CatalogProperties;
import org.apache.iceberg.jdbc.JdbcCatalog;
import org.apache.iceberg.rest.RESTCatalogAdapter;
import org.apache.iceberg.rest.RESTCatalogServlet;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * Apache Iceberg's own REST catalog (RESTCatalogAdapter + RESTCatalogServlet from iceberg-core's
 * test jar, what RESTCatalogServer runs) over a JdbcCatalog on SQLite, with tables on S3 through
 * S3FileIO, served by Jetty on 127.0.0.1 only.
 *
 * <pre>
 * java -jar target/taxi-stream-iceberg.jar --home DIR --warehouse s3://BUCKET/PREFIX --s3-endpoint URL
 *     [--port N] [--jdbc-uri URI] [--property key=value]... [--ignore-stdin]
 * </pre>
 *
 * Stdout carries exactly one line, {@code READY <port>}, once HTTP accepts connections; logs go to
 * stderr. The process stops on SIGTERM and when stdin reaches EOF, so a parent that dies (and so
 * closes the pipe) takes it along.
 */
public final class LocalCatalog {

  static final String NAME = "iceberg catalog";
  private static final String CATALOG_NAME = "local";
  private static final String USAGE =
      "usage: --home DIR --warehouse s3://BUCKET/PREFIX --s3-endpoint URL [--port N (0 = any free port)]"
          + " [--jdbc-uri URI] [--s3-access-key-id ID] [--s3-secret-access-key KEY] [--region R]"
          + " [--property key=value]... [--ignore-stdin]";

  private LocalCatalog() {}

  public static void main(String[] args) {
    PrintStream protocol = Cli.takeStdout();
    Cli.configureLogging("info");
    Cli.Args parsed;
    Map<String, String> properties;
    try {
      parsed = new Cli.Args(
          args,
          List.of("--home", "--warehouse", "--s3-endpoint", "--port", "--jdbc-uri", "--s3-access-key-id",
              "--s3-secret-access-key", "--region", "--property"),
          List.of("--ignore-stdin"));
      properties = catalogProperties(parsed);
    } catch (Cli.UsageError e) {
      System.err.println(NAME + ": " + e.getMessage());
      System.err.println(USAGE);
      System.exit(2);
      return;
    }

    AtomicReference<Runnable> closer = new AtomicReference<>();
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      Runnable close = closer.getAndSet(null);
      if (close != null) close.run();
    }, "iceberg-catalog-shutdown"));
    if (!parsed.has("--ignore-stdin")) Cli.exitOnStdinEof(NAME);

    try {
      int port = start(properties, parsed.port("--port"), closer);
      protocol.println("READY " + port);
      protocol.flush();
    } catch (Throwable t) {
      System.err.println(NAME + ": start failed");
      t.printStackTrace(System.err);
      System.err.flush();
      // exit() runs the shutdown hook, which closes whatever did start.
      System.exit(1);
    }
    // Jetty's threads are not daemons: the JVM stays up until a signal, stdin EOF or exit().
  }

  /** Defaults from the flags; --property overrides any of them (or adds catalog properties). */
  static Map<String, String> catalogProperties(Cli.Args args) {
    Path home = Paths.get(args.required("--home")).toAbsolutePath();
    String warehouse = args.required("--warehouse");
    if (!warehouse.startsWith("s3://")) throw new Cli.UsageError("--warehouse must be s3://BUCKET/PREFIX, got " + warehouse);
    Map<String, String> props = new LinkedHashMap<>();
    props.put(CatalogProperties.WAREHOUSE_LOCATION, warehouse);
    // A file, not jdbc:sqlite::memory:, which gives each pooled connection its own empty database.
    props.put(CatalogProperties.URI, args.get("--jdbc-uri", "jdbc:sqlite:" + home.resolve("catalog.sqlite")));
    // V1 adds the record type column that view support needs; new stores should start there.
    props.put("jdbc.schema-version", "V1");
    props.putAll(Cli.s3Properties(
        args.required("--s3-endpoint"),
        args.get("--s3-access-key-id", "local"),
        args.get("--s3-secret-access-key", "local"),
        args.get("--region", "us-east-1")));
    props.putAll(args.properties("--property"));
    return props;
  }

  private static int start(Map<String, String> properties, int port, AtomicReference<Runnable> closer)
      throws Exception {
    String uri = properties.get(CatalogProperties.URI);
    if (uri.startsWith("jdbc:sqlite:") && !uri.contains(":memory:")) {
      Path parent = Paths.get(uri.substring("jdbc:sqlite:".length())).toAbsolutePath().getParent();
      if (parent != null) Files.createDirectories(parent);
    }
    Map<String, String> shown = new TreeMap<>(properties);
    shown.computeIfPresent("s3.secret-access-key", (k, v) -> "****");
    System.err.println(NAME + ": catalog properties " + shown);

    JdbcCatalog catalog = new JdbcCatalog();
    catalog.initialize(CATALOG_NAME, properties);
    RESTCatalogAdapter adapter = new RESTCatalogAdapter(catalog);

    // A handful of threads is plenty for local tests and keeps the footprint small.
    QueuedThreadPool threads = new QueuedThreadPool(32, 2);
    threads.setName("iceberg-rest");
    Server server = new Server(threads);
    ServerConnector connector = new ServerConnector(server, 1, 1);
    // The stock RESTCatalogServer listens on every interface; a local catalog has no business there.
    connector.setHost("127.0.0.1");
    connector.setPort(port);
    server.addConnector(connector);
    ServletContextHandler context = new ServletContextHandler(ServletContextHandler.NO_SESSIONS);
    context.addServlet(new ServletHolder(new RESTCatalogServlet(adapter)), "/*");
    server.setHandler(context);
    server.setStopTimeout(5_000);

    closer.set(() -> {
      try {
        server.stop();
      } catch (Exception e) {
        System.err.println(NAME + ": error while stopping HTTP: " + e);
      }
      try {
        adapter.close();
        catalog.close();
      } catch (IOException | RuntimeException e) {
        System.err.println(NAME + ": error while closing the catalog: " + e);
      }
      System.err.println(NAME + ": stopped");
      System.err.flush();
    });
    server.start();
    return connector.getLocalPort();
  }
}
