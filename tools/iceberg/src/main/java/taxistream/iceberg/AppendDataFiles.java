package taxistream.iceberg;

import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

import org.apache.iceberg.AppendFiles;
import org.apache.iceberg.DataFile;
import org.apache.iceberg.DataFiles;
import org.apache.iceberg.FileFormat;
import org.apache.iceberg.Metrics;
import org.apache.iceberg.MetricsConfig;
import org.apache.iceberg.PartitionField;
import org.apache.iceberg.PartitionSpec;
import org.apache.iceberg.Snapshot;
import org.apache.iceberg.StructLike;
import org.apache.iceberg.Table;
import org.apache.iceberg.catalog.TableIdentifier;
import org.apache.iceberg.io.InputFile;
import org.apache.iceberg.parquet.ParquetUtil;
import org.apache.iceberg.rest.RESTCatalog;
import org.apache.iceberg.transforms.Transform;
import org.apache.iceberg.types.Comparators;
import org.apache.iceberg.types.Conversions;
import org.apache.iceberg.types.Type;

/**
 * Appends existing Parquet data files to a table in one snapshot, with Iceberg's own manifest
 * writer: the reference commit that tests compare against, and a way to put data written
 * elsewhere (e.g. from Node) into a table by hand. Column metrics come from each file's footer
 * and the partition from its bounds, so a file must hold one partition only.
 *
 * <pre>
 * java -cp target/taxi-stream-iceberg.jar taxistream.iceberg.AppendDataFiles --catalog-uri URL --table NS.NAME
 *     --s3-endpoint URL --file s3://BUCKET/KEY.parquet [--file ...] [--property key=value]...
 * </pre>
 *
 * Prints one JSON object: {"snapshotId":"...","sequenceNumber":N,"addedFiles":N,"addedRecords":N}.
 */
public final class AppendDataFiles {

  static final String NAME = "iceberg append";
  private static final String USAGE =
      "usage: --catalog-uri URL --table NS.NAME --s3-endpoint URL --file s3://BUCKET/KEY.parquet [--file ...]"
          + " [--s3-access-key-id ID] [--s3-secret-access-key KEY] [--region R] [--property key=value]...";

  private AppendDataFiles() {}

  public static void main(String[] args) {
    PrintStream protocol = Cli.takeStdout();
    Cli.configureLogging("warn");
    Cli.Args parsed;
    try {
      parsed = new Cli.Args(
          args,
          List.of("--catalog-uri", "--table", "--s3-endpoint", "--file", "--s3-access-key-id",
              "--s3-secret-access-key", "--region", "--property"),
          List.of());
      parsed.required("--table");
      parsed.required("--s3-endpoint");
      if (parsed.all("--file").isEmpty()) throw new Cli.UsageError("at least one --file is required");
    } catch (Cli.UsageError e) {
      System.err.println(NAME + ": " + e.getMessage());
      System.err.println(USAGE);
      System.exit(2);
      return;
    }
    try (RESTCatalog catalog = ReadTable.openCatalog(parsed, "append")) {
      Table table = catalog.loadTable(TableIdentifier.parse(parsed.required("--table")));
      AppendFiles append = table.newAppend();
      long records = 0;
      for (String path : parsed.all("--file")) {
        DataFile file = dataFile(table, path);
        records += file.recordCount();
        append.appendFile(file);
      }
      append.commit();
      Snapshot snapshot = table.currentSnapshot();
      protocol.println(String.format(
          "{\"snapshotId\":\"%d\",\"sequenceNumber\":%d,\"addedFiles\":%d,\"addedRecords\":%d}",
          snapshot.snapshotId(), snapshot.sequenceNumber(), parsed.all("--file").size(), records));
      protocol.flush();
    } catch (Throwable t) {
      System.err.println(NAME + ": failed");
      t.printStackTrace(System.err);
      System.err.flush();
      System.exit(1);
    }
    System.exit(0);
  }

  private static DataFile dataFile(Table table, String path) {
    InputFile input = table.io().newInputFile(path);
    Metrics metrics = ParquetUtil.fileMetrics(input, MetricsConfig.forTable(table));
    return DataFiles.builder(table.spec())
        .withInputFile(input)
        .withFormat(FileFormat.PARQUET)
        .withMetrics(metrics)
        .withPartition(partitionOf(table.spec(), metrics, path))
        .build();
  }

  /**
   * The file's partition, from the lower and upper bounds of each source column: both must map
   * to the same partition value (and for a transform that does not keep order, be equal).
   */
  private static StructLike partitionOf(PartitionSpec spec, Metrics metrics, String path) {
    List<Object> values = new ArrayList<>();
    for (PartitionField field : spec.fields()) {
      Type sourceType = spec.schema().findType(field.sourceId());
      String column = spec.schema().findColumnName(field.sourceId());
      ByteBuffer lowerBytes = metrics.lowerBounds() == null ? null : metrics.lowerBounds().get(field.sourceId());
      ByteBuffer upperBytes = metrics.upperBounds() == null ? null : metrics.upperBounds().get(field.sourceId());
      if (lowerBytes == null || upperBytes == null) {
        Long nulls = metrics.nullValueCounts() == null ? null : metrics.nullValueCounts().get(field.sourceId());
        if (nulls != null && nulls.equals(metrics.recordCount())) {
          values.add(null);
          continue;
        }
        throw new IllegalArgumentException(path + ": no bounds for partition source column " + column);
      }
      Object lower = Conversions.fromByteBuffer(sourceType, lowerBytes);
      Object upper = Conversions.fromByteBuffer(sourceType, upperBytes);
      @SuppressWarnings("unchecked")
      Transform<Object, Object> transform = (Transform<Object, Object>) field.transform();
      Object low = transform.bind(sourceType).apply(lower);
      Object high = transform.bind(sourceType).apply(upper);
      @SuppressWarnings("unchecked")
      Comparator<Object> order = (Comparator<Object>) Comparators.forType(sourceType.asPrimitiveType());
      boolean sameSource = order.compare(lower, upper) == 0;
      if (!java.util.Objects.equals(low, high) || (!transform.preservesOrder() && !sameSource)) {
        throw new IllegalArgumentException(
            path + ": rows span more than one " + field.name() + " partition (" + column + " from " + lower + " to " + upper + ")");
      }
      values.add(low);
    }
    return new StructLike() {
      @Override
      public int size() {
        return values.size();
      }

      @Override
      public <T> T get(int pos, Class<T> javaClass) {
        return javaClass.cast(values.get(pos));
      }

      @Override
      public <T> void set(int pos, T value) {
        throw new UnsupportedOperationException("read-only partition");
      }
    };
  }
}
