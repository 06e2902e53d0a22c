package taxistream.iceberg;

import java.io.FileOutputStream;
import java.io.FileDescriptor;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What the three mains share: argument parsing, the stdout discipline and the S3 settings that
 * point S3FileIO at the local emulator.
 */
final class Cli {

  /** Thrown for a bad command line; the main prints it with its usage and exits 2. */
  static final class UsageError extends RuntimeException {
    UsageError(String message) {
      super(message);
    }
  }

  /**
   * fauxqs refuses request bodies over ~11 MiB and S3FileIO's default part is 32 MiB, so a large
   * write would fail; 5 MiB is S3's smallest part. (s3.multipart.size is not read by 1.11.)
   */
  static final String MULTIPART_PART_SIZE = "5242880";

  private Cli() {}

  /**
   * Stdout is the caller's protocol channel (READY, or the one JSON answer): keep a private
   * handle on it and send every stray println (ours, libraries') to stderr instead.
   */
  static PrintStream takeStdout() {
    PrintStream protocol =
        new PrintStream(new FileOutputStream(FileDescriptor.out), false, StandardCharsets.UTF_8);
    System.setOut(System.err);
    return protocol;
  }

  /** Must run before the first logger is created: slf4j-simple reads these once. */
  static void configureLogging(String defaultLevel) {
    System.setProperty("org.slf4j.simpleLogger.logFile", "System.err");
    System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", defaultLevel);
    System.setProperty("org.slf4j.simpleLogger.showDateTime", "true");
    System.setProperty("org.slf4j.simpleLogger.dateTimeFormat", "yyyy-MM-dd'T'HH:mm:ss.SSSX");
    System.setProperty("org.slf4j.simpleLogger.showThreadName", "false");
    System.setProperty("org.slf4j.simpleLogger.showShortLogName", "true");
  }

  /** S3FileIO settings for an S3-compatible endpoint with static keys and path-style URLs. */
  static Map<String, String> s3Properties(String endpoint, String accessKeyId, String secretAccessKey, String region) {
    Map<String, String> props = new LinkedHashMap<>();
    props.put("io-impl", "org.apache.iceberg.aws.s3.S3FileIO");
    props.put("s3.endpoint", endpoint);
    props.put("s3.path-style-access", "true");
    props.put("s3.access-key-id", accessKeyId);
    props.put("s3.secret-access-key", secretAccessKey);
    props.put("client.region", region);
    props.put("s3.multipart.part-size-bytes", MULTIPART_PART_SIZE);
    return props;
  }

  /** A tiny flag parser: `--name value` pairs, repeatable flags collected in order. */
  static final class Args {
    private final Map<String, List<String>> values = new LinkedHashMap<>();
    private final List<String> switches = new ArrayList<>();

    Args(String[] args, List<String> valueFlags, List<String> switchFlags) {
      for (int i = 0; i < args.length; i++) {
        String arg = args[i];
        if (switchFlags.contains(arg)) {
          switches.add(arg);
        } else if (valueFlags.contains(arg)) {
          if (i + 1 >= args.length) throw new UsageError(arg + " needs a value");
          values.computeIfAbsent(arg, k -> new ArrayList<>()).add(args[++i]);
        } else {
          throw new UsageError("unknown argument " + arg);
        }
      }
    }

    String get(String flag, String fallback) {
      List<String> list = values.get(flag);
      return list == null ? fallback : list.get(list.size() - 1);
    }

    String required(String flag) {
      String value = get(flag, null);
      if (value == null || value.isEmpty()) throw new UsageError(flag + " is required");
      return value;
    }

    List<String> all(String flag) {
      return values.getOrDefault(flag, List.of());
    }

    boolean has(String flag) {
      return switches.contains(flag);
    }

    /** `--property key=value`, repeatable; later ones win. */
    Map<String, String> properties(String flag) {
      Map<String, String> props = new LinkedHashMap<>();
      for (String pair : all(flag)) {
        int eq = pair.indexOf('=');
        if (eq <= 0) throw new UsageError(flag + " needs key=value, got " + pair);
        props.put(pair.substring(0, eq), pair.substring(eq + 1));
      }
      return props;
    }

    int port(String flag) {
      String text = get(flag, "0");
      try {
        int port = Integer.parseInt(text);
        if (port < 0 || port > 65_535) throw new NumberFormatException();
        return port;
      } catch (NumberFormatException e) {
        throw new UsageError(flag + " needs 0..65535, got " + text);
      }
    }
  }

  /** A parent that dies without signalling us still closes our stdin; treat EOF as "stop". */
  static void exitOnStdinEof(String name) {
    Thread watcher = new Thread(() -> {
      try {
        byte[] buffer = new byte[256];
        while (System.in.read(buffer) >= 0) {
          // Input carries no meaning; only its end does.
        }
      } catch (IOException ignored) {
        // A broken stdin means the parent is gone as surely as EOF does.
      }
      System.err.println(name + ": stdin closed, shutting down");
      System.exit(0);
    }, "stdin-watch");
    watcher.setDaemon(true);
    watcher.start();
  }
}
