/**
 * npx tsx tools/bench/partitions.ts [TLC CSV files...]: how many data files a batch becomes,
 * and how many rows each holds, under hourly, daily and monthly partitioning of pickup time,
 * for real TLC files in the order they are stored (the measurement behind the Iceberg table's
 * day(pickup_datetime) spec, docs/iceberg.md). Defaults to the samples in ../shared/data/tlc.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseIsoTimestamp } from '../../lib/domain/timestamps';
import { tlcCsvToTripEvents } from '../replay/tlc-csv';

const HELP = `Usage: npx tsx tools/bench/partitions.ts [file.csv ...]

For each TLC CSV file (default: every .csv in ../shared/data/tlc) and batch sizes 1,000 and
10,000, prints the data files per batch and rows per file with hourly, daily and monthly
partitions of pickup time.
`;

const UNITS: Record<string, (ms: number) => number> = {
  hour: (ms) => Math.floor(ms / 3_600_000),
  day: (ms) => Math.floor(ms / 86_400_000),
  month: (ms) => {
    const d = new Date(ms);
    return d.getUTCFullYear() * 12 + d.getUTCMonth();
  },
};

function main(): void {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(HELP);
    return;
  }
  const dir = path.join(__dirname, '..', '..', '..', 'shared', 'data', 'tlc');
  const files =
    args.length > 0
      ? args
      : existsSync(dir)
        ? readdirSync(dir)
            .filter((f) => f.endsWith('.csv'))
            .map((f) => path.join(dir, f))
        : [];
  if (files.length === 0) throw new Error('no TLC CSV files given and none in ../shared/data/tlc');
  for (const file of files) {
    const events = tlcCsvToTripEvents(readFileSync(file, 'utf8'), path.basename(file));
    const times = events.flatMap((e) => {
      const t = parseIsoTimestamp(String(e.pickup_datetime));
      return typeof t === 'number' ? [t] : [];
    });
    for (const batch of [1_000, 10_000]) {
      const cells = Object.entries(UNITS).map(([name, unit]) => {
        let objects = 0;
        let batches = 0;
        for (let i = 0; i < times.length; i += batch) {
          objects += new Set(times.slice(i, i + batch).map(unit)).size;
          batches++;
        }
        return `${name} ${(objects / batches).toFixed(1)} files/batch, ${(times.length / objects).toFixed(1)} rows/file`;
      });
      console.log(`${path.basename(file)} (${times.length} trips), batch ${batch}: ${cells.join(' | ')}`);
    }
  }
}

main();
