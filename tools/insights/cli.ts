/**
 * npm run insights -- [options]: the reference dashboard's views as OpenSearch queries.
 */
import { writeFileSync } from 'node:fs';
import { loadSearchSinkConfig } from '../../lib/config';
import { formatInsights, queryInsights } from '../../lib/search/insights';
import { createSearchClient } from '../../lib/wiring';
import { insightsHtml } from './html';

const HELP = `Usage: npm run insights -- [options]

Queries the trip indexes and prints:
  - pickup hot spots: trips per pickup zone, and per geohash cell for trips with coordinates,
    over the last hour of event time (up to the newest pickup indexed);
  - the average trip duration to JFK, LGA and EWR per hour of pickup.

Options:
  --endpoint URL   OpenSearch endpoint (default $SEARCH_ENDPOINT); authentication as the
                   search sink: SEARCH_AUTH, SEARCH_USERNAME/SEARCH_PASSWORD, sigv4
  --index PATTERN  indexes to query (default trips-*)
  --window MIN     hot-spot window in minutes (default 60)
  --top N          hot spots to show (default 10)
  --json           print the result as JSON
  --html FILE      also write the views as charts into FILE, one self-contained HTML page
                   (no network needed to open it; docs/report.md)
  --help           this text
`;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(HELP);
    return;
  }
  const value = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i < 0 ? undefined : args[i + 1];
  };
  const endpoint = value('--endpoint') ?? process.env.SEARCH_ENDPOINT;
  if (!endpoint) throw new Error('give --endpoint URL or set SEARCH_ENDPOINT');
  // The client settings (auth modes) are the search sink's; the queue is not used here.
  const config = loadSearchSinkConfig({
    ...process.env,
    SEARCH_ENDPOINT: endpoint,
    DEAD_LETTER_QUEUE_URL: process.env.DEAD_LETTER_QUEUE_URL ?? 'http://localhost/0/unused',
  });
  const insights = await queryInsights(createSearchClient(config), value('--index') ?? 'trips-*', {
    windowMinutes: Number(value('--window') ?? 60),
    top: Number(value('--top') ?? 10),
  });
  process.stdout.write(
    args.includes('--json') ? `${JSON.stringify(insights, null, 2)}\n` : formatInsights(insights),
  );
  const html = value('--html');
  if (html) writeFileSync(html, await insightsHtml(insights, endpoint));
}

main().catch((error: unknown) => {
  process.stderr.write(`insights failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
