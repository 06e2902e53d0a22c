/**
 * npm run query -- <lake dir> "<SQL>": runs SQL with DuckDB over a lake folder (for example a
 * demo run's lake/), exposed as the view `lake` with hive partitioning.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';

const HELP = `Usage: npm run query -- <lake dir> "<SQL>"

Runs SQL over the Parquet files under <lake dir> (hive-partitioned), available as the view
"lake", with times shown in UTC. Example (either lake layout):
  npm run query -- .local/demo/<run>/lake "SELECT date_trunc('hour', pickup_datetime) AS hour, count(*) AS trips FROM lake GROUP BY ALL ORDER BY ALL"
`;

async function main(): Promise<void> {
  const [dir, sql] = process.argv.slice(2);
  if (!dir || !sql || dir === '--help' || dir === '-h') {
    process.stdout.write(HELP);
    return;
  }
  if (!existsSync(dir)) throw new Error(`no such folder: ${dir}`);
  const db = await DuckDBInstance.create(':memory:');
  const connection = await db.connect();
  // Partitions and event times are UTC; DuckDB would otherwise show timestamps in the machine's zone.
  await connection.run("SET TimeZone = 'UTC'");
  const glob = path.join(path.resolve(dir), '**', '*.parquet').replace(/'/g, "''");
  await connection.run(`CREATE VIEW lake AS SELECT * FROM read_parquet('${glob}', hive_partitioning = true)`);
  const reader = await connection.runAndReadAll(sql);
  console.table(reader.getRowObjectsJson());
  connection.closeSync();
  db.closeSync();
}

main().catch((error: unknown) => {
  process.stderr.write(`query failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
