package taxistream.iceberg;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.io.SerializedString;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.StringWriter;
import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.apache.iceberg.FileScanTask;
import org.apache.iceberg.PartitionField;
import org.apache.iceberg.PartitionSpec;
import org.apache.iceberg.Schema;
import org.apache.iceberg.Snapshot;
import org.apache.iceberg.StructLike;
import org.apache.iceberg.Table;
import org.apache.iceberg.TableScan;
import org.apache.iceberg.catalog.TableIdentifier;
import org.apache.iceberg.data.IcebergGenerics;
import org.apache.iceberg.data.Record;
import org.apache.iceberg.io.CloseableIterable;
import org.apache.iceberg.rest.RESTCatalog;
import org.apache.iceberg.types.Type;
import org.apache.iceberg.types.Types;

/**
 * An independent reader: Iceberg's Java IcebergGenerics scans a table through the REST catalog
 * and prints ONE JSON object on stdout (rows, schema, partition spec, snapshots, data files and
 * any key seen more than once). 64-bit IDs are printed as strings so that JavaScript keeps them
 * exact.
 *
 * <pre>
 * java -cp target/taxi-stream-iceberg.jar taxistream.iceberg.ReadTable --catalog-uri URL --table NS.NAME
 *     --s3-endpoint URL [--snapshot-id ID] [--key-columns a,b,c] [--rows-out FILE.jsonl] [--max-duplicates N]
 *     [--property key=value]...
 * </pre>
 *
 * Exit 0 with the JSON, 2 for a bad command line, 1 for anything else (the error on stderr).
 */
public final class ReadTable {

  static final String NAME = "iceberg reader";
  private static final String USAGE =
      "usage: --catalog-uri URL --table NS.NAME --s3-endpoint URL [--snapshot-id ID] [--key-columns a,b,c]"
          + " [--rows-out FILE.jsonl] [--max-duplicates N (default 1000)] [--s3-access-key-id ID]"
          + " [--s3-secret-access-key KEY] [--region R] [--property key=value]...";

  private static final DateTimeFormatter MICROS = DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSSSSS");
  private static final DateTimeFormatter NANOS = DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSSSSSSSS");
  private static final JsonFactory JSON = new JsonFactory();

  private ReadTable() {}

  public static void main(String[] args) {
    PrintStream protocol = Cli.takeStdout();
    Cli.configureLogging("warn");
    Cli.Args parsed;
    try {
      parsed = new Cli.Args(
          args,
          List.of("--catalog-uri", "--table", "--s3-endpoint", "--snapshot-id", "--key-columns", "--rows-out",
              "--max-duplicates", "--s3-access-key-id", "--s3-secret-access-key", "--region", "--property"),
          List.of());
      parsed.required("--catalog-uri");
      parsed.required("--table");
      parsed.required("--s3-endpoint");
    } catch (Cli.UsageError e) {
      System.err.println(NAME + ": " + e.getMessage());
      System.err.println(USAGE);
      System.exit(2);
      return;
    }
    try (RESTCatalog catalog = openCatalog(parsed, "reader")) {
      byte[] report = read(catalog, parsed);
      protocol.write(report);
      protocol.write('\n');
      protocol.flush();
    } catch (Cli.UsageError e) {
      System.err.println(NAME + ": " + e.getMessage());
      System.exit(2);
    } catch (Throwable t) {
      System.err.println(NAME + ": failed");
      t.printStackTrace(System.err);
      System.err.flush();
      System.exit(1);
    }
    // The S3 client's idle-connection reaper is not a daemon thread on every SDK version.
    System.exit(0);
  }

  /** A REST catalog client whose FileIO reads the local S3 emulator. */
  static RESTCatalog openCatalog(Cli.Args args, String name) {
    Map<String, String> props = new LinkedHashMap<>();
    props.put("uri", args.required("--catalog-uri"));
    props.putAll(Cli.s3Properties(
        args.required("--s3-endpoint"),
        args.get("--s3-access-key-id", "local"),
        args.get("--s3-secret-access-key", "local"),
        args.get("--region", "us-east-1")));
    props.putAll(args.properties("--property"));
    RESTCatalog catalog = new RESTCatalog();
    catalog.initialize(name, props);
    return catalog;
  }

  private static byte[] read(RESTCatalog catalog, Cli.Args args) throws IOException {
    String tableName = args.required("--table");
    Table table = catalog.loadTable(TableIdentifier.parse(tableName));
    Schema schema = table.schema();
    List<Types.NestedField> keyFields = keyFields(schema, args.get("--key-columns", ""));
    int maxDuplicates = Integer.parseInt(args.get("--max-duplicates", "1000"));

    String requested = args.get("--snapshot-id", null);
    Snapshot snapshot = requested == null ? table.currentSnapshot() : table.snapshot(Long.parseLong(requested));
    if (requested != null && snapshot == null) throw new Cli.UsageError("no snapshot " + requested + " in " + tableName);

    List<String> dataFiles = new ArrayList<>();
    long rows = 0;
    // key (JSON of the key values) -> [count, key values as JSON object bytes]
    Map<String, long[]> seen = new LinkedHashMap<>();
    Map<String, Map<String, Object>> keyValues = new LinkedHashMap<>();

    String rowsOut = args.get("--rows-out", null);
    if (snapshot != null) {
      TableScan scan = table.newScan().useSnapshot(snapshot.snapshotId());
      try (CloseableIterable<FileScanTask> tasks = scan.planFiles()) {
        for (FileScanTask task : tasks) dataFiles.add(task.file().location());
      }
    }
    try (OutputStream rowStream = rowsOut == null ? OutputStream.nullOutputStream() : Files.newOutputStream(createParent(rowsOut));
        JsonGenerator rowJson = JSON.createGenerator(rowStream, JsonEncoding.UTF8)) {
      rowJson.setRootValueSeparator(new SerializedString("\n"));
      if (snapshot != null) {
        try (CloseableIterable<Record> records = IcebergGenerics.read(table).useSnapshot(snapshot.snapshotId()).build()) {
          for (Record record : records) {
            rows += 1;
            if (rowsOut != null) writeStruct(rowJson, schema.asStruct(), record);
            if (!keyFields.isEmpty()) {
              Map<String, Object> key = new LinkedHashMap<>();
              for (Types.NestedField field : keyFields) key.put(field.name(), jsonValue(field.type(), record.getField(field.name())));
              String text = keyText(key);
              long[] count = seen.computeIfAbsent(text, k -> new long[1]);
              count[0] += 1;
              if (count[0] == 2) keyValues.put(text, key);
            }
          }
        }
      }
      if (rowsOut != null && rows > 0) rowJson.writeRaw('\n');
    }

    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (JsonGenerator json = JSON.createGenerator(out, JsonEncoding.UTF8)) {
      json.writeStartObject();
      json.writeStringField("table", tableName);
      json.writeStringField("location", table.location());
      json.writeNumberField("formatVersion", formatVersion(table));
      json.writeNumberField("rows", rows);
      json.writeNumberField("schemaId", schema.schemaId());
      json.writeFieldName("schema");
      writeSchemaFields(json, schema.asStruct());
      json.writeFieldName("partitionSpec");
      writeSpec(json, table.spec());
      json.writeFieldName("snapshots");
      json.writeStartArray();
      for (Snapshot s : table.snapshots()) writeSnapshot(json, s);
      json.writeEndArray();
      writeId(json, "currentSnapshotId", table.currentSnapshot() == null ? null : table.currentSnapshot().snapshotId());
      writeId(json, "readSnapshotId", snapshot == null ? null : snapshot.snapshotId());
      json.writeFieldName("dataFiles");
      json.writeStartArray();
      for (String file : dataFiles) json.writeString(file);
      json.writeEndArray();
      json.writeFieldName("keyColumns");
      json.writeStartArray();
      for (Types.NestedField field : keyFields) json.writeString(field.name());
      json.writeEndArray();
      long duplicateKeys = seen.values().stream().filter(c -> c[0] > 1).count();
      json.writeNumberField("duplicateKeys", duplicateKeys);
      json.writeFieldName("duplicates");
      json.writeStartArray();
      int listed = 0;
      for (Map.Entry<String, Map<String, Object>> entry : keyValues.entrySet()) {
        if (listed++ >= maxDuplicates) break;
        json.writeStartObject();
        json.writeFieldName("key");
        json.writeStartObject();
        for (Map.Entry<String, Object> value : entry.getValue().entrySet()) {
          json.writeFieldName(value.getKey());
          writePlain(json, value.getValue());
        }
        json.writeEndObject();
        json.writeNumberField("count", seen.get(entry.getKey())[0]);
        json.writeEndObject();
      }
      json.writeEndArray();
      json.writeEndObject();
    }
    return out.toByteArray();
  }

  private static Path createParent(String file) throws IOException {
    Path path = Paths.get(file).toAbsolutePath();
    if (path.getParent() != null) Files.createDirectories(path.getParent());
    return path;
  }

  private static int formatVersion(Table table) {
    if (table instanceof org.apache.iceberg.HasTableOperations ops) return ops.operations().current().formatVersion();
    return -1;
  }

  private static List<Types.NestedField> keyFields(Schema schema, String columns) {
    List<Types.NestedField> fields = new ArrayList<>();
    for (String name : columns.split(",")) {
      String trimmed = name.trim();
      if (trimmed.isEmpty()) continue;
      Types.NestedField field = schema.asStruct().field(trimmed);
      if (field == null) throw new Cli.UsageError("--key-columns: no top-level column " + trimmed + " in the table");
      if (!field.type().isPrimitiveType()) throw new Cli.UsageError("--key-columns: " + trimmed + " is not a primitive column");
      fields.add(field);
    }
    return fields;
  }

  private static void writeSchemaFields(JsonGenerator json, Types.StructType struct) throws IOException {
    json.writeStartArray();
    for (Types.NestedField field : struct.fields()) {
      json.writeStartObject();
      json.writeNumberField("id", field.fieldId());
      json.writeStringField("name", field.name());
      json.writeStringField("type", field.type().toString());
      json.writeBooleanField("required", field.isRequired());
      if (field.doc() != null) json.writeStringField("doc", field.doc());
      if (field.type().isStructType()) {
        json.writeFieldName("fields");
        writeSchemaFields(json, field.type().asStructType());
      }
      json.writeEndObject();
    }
    json.writeEndArray();
  }

  private static void writeSpec(JsonGenerator json, PartitionSpec spec) throws IOException {
    json.writeStartObject();
    json.writeNumberField("specId", spec.specId());
    json.writeFieldName("fields");
    json.writeStartArray();
    for (PartitionField field : spec.fields()) {
      json.writeStartObject();
      json.writeNumberField("fieldId", field.fieldId());
      json.writeNumberField("sourceId", field.sourceId());
      json.writeStringField("name", field.name());
      json.writeStringField("transform", field.transform().toString());
      json.writeEndObject();
    }
    json.writeEndArray();
    json.writeEndObject();
  }

  private static void writeSnapshot(JsonGenerator json, Snapshot snapshot) throws IOException {
    json.writeStartObject();
    writeId(json, "snapshotId", snapshot.snapshotId());
    writeId(json, "parentId", snapshot.parentId());
    json.writeNumberField("sequenceNumber", snapshot.sequenceNumber());
    json.writeNumberField("timestampMs", snapshot.timestampMillis());
    json.writeStringField("operation", snapshot.operation());
    if (snapshot.schemaId() != null) json.writeNumberField("schemaId", snapshot.schemaId());
    json.writeStringField("manifestList", snapshot.manifestListLocation());
    json.writeFieldName("summary");
    json.writeStartObject();
    for (Map.Entry<String, String> entry : snapshot.summary().entrySet()) json.writeStringField(entry.getKey(), entry.getValue());
    json.writeEndObject();
    json.writeEndObject();
  }

  /** Snapshot IDs are random 63-bit numbers: a JSON number would lose digits in JavaScript. */
  private static void writeId(JsonGenerator json, String name, Long id) throws IOException {
    if (id == null) json.writeNullField(name);
    else json.writeStringField(name, Long.toString(id));
  }

  private static void writeStruct(JsonGenerator json, Types.StructType type, StructLike row) throws IOException {
    json.writeStartObject();
    List<Types.NestedField> fields = type.fields();
    for (int i = 0; i < fields.size(); i++) {
      Types.NestedField field = fields.get(i);
      json.writeFieldName(field.name());
      writePlain(json, jsonValue(field.type(), row.get(i, Object.class)));
    }
    json.writeEndObject();
  }

  /**
   * The JSON form of a value: longs, decimals and big IDs as strings (exact in JavaScript),
   * timestamps as ISO-8601 in UTC with every fractional digit the type holds, bytes as base64.
   */
  static Object jsonValue(Type type, Object value) {
    if (value == null) return null;
    switch (type.typeId()) {
      case LONG:
        return Long.toString((Long) value);
      case DECIMAL:
        return ((BigDecimal) value).toPlainString();
      case DATE:
        return ((LocalDate) value).toString();
      case TIME:
        return ((LocalTime) value).format(DateTimeFormatter.ofPattern("HH:mm:ss.SSSSSS"));
      case TIMESTAMP:
        return timestamp(value, MICROS);
      case TIMESTAMP_NANO:
        return timestamp(value, NANOS);
      case UUID:
        return ((UUID) value).toString();
      case FIXED:
      case BINARY:
        return Base64.getEncoder().encodeToString(bytes(value));
      case FLOAT:
      case DOUBLE: {
        double d = ((Number) value).doubleValue();
        return Double.isFinite(d) ? value : Double.toString(d);
      }
      case STRUCT: {
        Map<String, Object> object = new LinkedHashMap<>();
        List<Types.NestedField> fields = type.asStructType().fields();
        StructLike struct = (StructLike) value;
        for (int i = 0; i < fields.size(); i++) {
          object.put(fields.get(i).name(), jsonValue(fields.get(i).type(), struct.get(i, Object.class)));
        }
        return object;
      }
      case LIST: {
        List<Object> list = new ArrayList<>();
        for (Object element : (List<?>) value) list.add(jsonValue(type.asListType().elementType(), element));
        return list;
      }
      case MAP: {
        List<Object> entries = new ArrayList<>();
        for (Map.Entry<?, ?> entry : ((Map<?, ?>) value).entrySet()) {
          Map<String, Object> pair = new LinkedHashMap<>();
          pair.put("key", jsonValue(type.asMapType().keyType(), entry.getKey()));
          pair.put("value", jsonValue(type.asMapType().valueType(), entry.getValue()));
          entries.add(pair);
        }
        return entries;
      }
      default:
        return value;
    }
  }

  private static String timestamp(Object value, DateTimeFormatter format) {
    if (value instanceof OffsetDateTime zoned) return zoned.withOffsetSameInstant(ZoneOffset.UTC).format(format) + "Z";
    return ((LocalDateTime) value).format(format);
  }

  private static byte[] bytes(Object value) {
    if (value instanceof byte[] array) return array;
    ByteBuffer buffer = ((ByteBuffer) value).duplicate();
    byte[] array = new byte[buffer.remaining()];
    buffer.get(array);
    return array;
  }

  /** Writes what jsonValue produced: strings, numbers, booleans, lists and maps. */
  private static void writePlain(JsonGenerator json, Object value) throws IOException {
    if (value == null) {
      json.writeNull();
    } else if (value instanceof String text) {
      json.writeString(text);
    } else if (value instanceof Boolean bool) {
      json.writeBoolean(bool);
    } else if (value instanceof Integer number) {
      json.writeNumber(number);
    } else if (value instanceof Float number) {
      json.writeNumber(number);
    } else if (value instanceof Double number) {
      json.writeNumber(number);
    } else if (value instanceof Map<?, ?> map) {
      json.writeStartObject();
      for (Map.Entry<?, ?> entry : map.entrySet()) {
        json.writeFieldName(String.valueOf(entry.getKey()));
        writePlain(json, entry.getValue());
      }
      json.writeEndObject();
    } else if (value instanceof List<?> list) {
      json.writeStartArray();
      for (Object element : list) writePlain(json, element);
      json.writeEndArray();
    } else {
      json.writeString(value.toString());
    }
  }

  /** An unambiguous text for a key (a JSON object), unlike Map.toString with commas in values. */
  private static String keyText(Map<String, Object> key) throws IOException {
    StringWriter text = new StringWriter();
    try (JsonGenerator json = JSON.createGenerator(text)) {
      writePlain(json, key);
    }
    return text.toString();
  }
}
