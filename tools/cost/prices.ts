/**
 * The price table the cost model uses: us-east-1, USD, list prices without free tiers (a
 * pipeline at these rates uses them up in hours), as read on the date below. AWS's own pricing
 * pages draw their numbers from client-side tokens, so their text (what could be read here)
 * mostly lacks them: each price says where it was confirmed, how, and how far to trust it.
 *
 * status: 'aws' = the number appears in text on an AWS page or in an AWS-owned repository;
 * 'secondary' = the number appears in one or more third-party pages or repositories that say
 * they copy AWS's page (cited); 'unverified' = no source found here, the figure is the best
 * knowledge at hand and is flagged as such in every output.
 */

export const PRICES_READ_ON = '2026-11-30';
export const PRICES_REGION = 'us-east-1';

export interface Price {
  readonly usd: number;
  readonly unit: string;
  readonly status: 'aws' | 'secondary' | 'unverified';
  readonly sources: readonly string[];
  readonly note?: string;
}

const price = (
  usd: number,
  unit: string,
  status: Price['status'],
  sources: readonly string[],
  note?: string,
): Price => ({ usd, unit, status, sources, ...(note ? { note } : {}) });

export const PRICES = {
  lambdaArmGbSecond: price(0.0000133334, 'GB-second, arm64 (first 7.5 billion GB-s a month)', 'secondary', [
    'https://cloudchipr.com/blog/aws-lambda-pricing (ARM: first 7.5 billion GB-seconds $0.0000133334)',
    'https://app.unpkg.com/artillery@2.0.28/files/lib/platform/aws-lambda/prices.js (arm64 1333340e-11, citing https://aws.amazon.com/lambda/pricing/)',
  ]),
  lambdaRequest: price(0.2 / 1e6, 'request ($0.20 per million)', 'secondary', [
    'https://git.mcrn.ar/mariano/lambda_local_runner/src/commit/957e45b8adae23ce50b966346229585b5df18b4d/docs/lambdas-md/lambda-13-cost.md (Requests $0.20 / 1M, x86_64 and arm64)',
    'https://raw.githubusercontent.com/api-evangelist/aws-lambda/refs/heads/main/plans/aws-lambda-plans-pricing.yml ($0.20 per million requests, read from https://aws.amazon.com/lambda/pricing/)',
  ]),
  kinesisShardHour: price(0.015, 'provisioned shard-hour', 'secondary', [
    'https://github.com/i05nagai/memorandum/blob/master/cloud/aws/kinesis_streams.md (0.015 USD per shard-hour, US East)',
    'https://kindatechnical.com/aws-kinesis/lesson-29-understanding-kinesis-pricing.html (5 shards x 24 h x $0.015)',
  ]),
  kinesisPutPayloadUnit: price(0.014 / 1e6, 'PUT payload unit of 25 KB ($0.014 per million)', 'secondary', [
    'https://github.com/i05nagai/memorandum/blob/master/cloud/aws/kinesis_streams.md ($0.014 per 1,000,000 units, US East)',
    'http://aws.amazon.com/kinesis/pricing/ (the 25 KB payload-unit rule, without the number)',
  ]),
  kinesisOnDemandStreamHour: price(0.04, 'on-demand stream-hour', 'secondary', [
    'a pricing module found by the code search (Korean comments, core/shared/aws/pricing/kinesis.py: "On-Demand: Stream-hour $0.04"; region given as ap-northeast-2, so us-east-1 is not confirmed)',
  ]),
  kinesisOnDemandGbIn: price(
    0.08,
    'GB written, on-demand (each record rounded up to 1 KB)',
    'unverified',
    ['https://aws.amazon.com/kinesis/data-streams/pricing/ (the 1 KB rounding rule, without the number)'],
    'the rate is not in any text found here',
  ),
  kinesisOnDemandGbOut: price(
    0.04,
    'GB read, on-demand (shared-throughput consumers)',
    'unverified',
    ['https://aws.amazon.com/kinesis/data-streams/pricing/ (data-out is billed per GB, without the number)'],
    'the rate is not in any text found here',
  ),
  s3StorageGbMonth: price(0.023, 'GB-month, S3 Standard (first 50 TB)', 'secondary', [
    'https://deepeshsoni.com/archives/256 (S3 Standard around $0.023 per GB-month for the first 50 TB, US East)',
    'https://www.cloudtoggle.com/?p=1823 (1 TB in S3 Standard around $23 a month)',
  ]),
  s3Put: price(
    0.005 / 1000,
    'PUT, COPY, POST or LIST request ($0.005 per 1,000)',
    'unverified',
    ['https://aws.amazon.com/s3/pricing/ (per-request charges, without the number in the text read)'],
    'not found in the text read here',
  ),
  s3Get: price(
    0.0004 / 1000,
    'GET request ($0.0004 per 1,000)',
    'unverified',
    ['https://aws.amazon.com/s3/pricing/ (per-request charges, without the number in the text read)'],
    'not found in the text read here',
  ),
  dynamoDbWriteRequestUnit: price(
    0.625 / 1e6,
    'on-demand write request unit ($0.625 per million)',
    'secondary',
    [
      'https://airbyte.com/data-engineering-resources/dynamodb-pricing (after the November 2024 cut: $0.625 per million WRU, $0.125 per million RRU, US East)',
    ],
  ),
  dynamoDbReadRequestUnit: price(
    0.125 / 1e6,
    'on-demand read request unit ($0.125 per million)',
    'secondary',
    ['https://airbyte.com/data-engineering-resources/dynamodb-pricing'],
  ),
  sqsFifoRequest: price(0.5 / 1e6, 'FIFO request of up to 64 KB ($0.50 per million)', 'secondary', [
    'https://www.factualminds.com/blog/amazon-sqs-pricing-64kb-rule-fifo-vs-standard/ ($0.40 standard, $0.50 FIFO per million, us-east-1, June 2026)',
    'https://cloudburn.io/blog/amazon-sqs-pricing (FIFO $0.50/M flat, March 2026)',
  ]),
  glueCatalogRequest: price(
    1 / 1e6,
    'Data Catalog request beyond the first million a month ($1 per million)',
    'aws',
    [
      'https://aws.amazon.com/cn/lake-formation/pricing/ (example: one million requests above the free tier is $1)',
    ],
  ),
  firehoseIngestGb: price(
    0.029,
    'GB ingested from Kinesis Data Streams or Direct PUT, first 500 TB a month (each record rounded up to 5 KB)',
    'unverified',
    [
      'https://aws.amazon.com/de/kinesis/data-firehose/pricing/ (tiered, per GB in 5 KB steps, without the number in the text read)',
    ],
    'the rate is not in any text found here',
  ),
  firehoseFormatConversionGb: price(
    0.018,
    'GB converted from JSON to Parquet (billed on the 5 KB-rounded ingested GB)',
    'unverified',
    [
      'https://aws.amazon.com/jp/kinesis/data-firehose/pricing/ (format conversion per GB in 5 KB steps, without the number in the text read)',
    ],
    'the rate is not in any text found here',
  ),
  firehoseDynamicPartitioningGb: price(
    0.02,
    'GB delivered with dynamic partitioning',
    'unverified',
    [
      'https://aws.amazon.com/de/kinesis/data-firehose/pricing/ (per GB delivered to S3, per object, optionally per JQ hour; without numbers in the text read)',
    ],
    'the rate is not in any text found here',
  ),
  firehoseDynamicPartitioningObject: price(
    0.005 / 1000,
    'S3 object delivered with dynamic partitioning ($0.005 per 1,000)',
    'unverified',
    ['https://aws.amazon.com/de/kinesis/data-firehose/pricing/ (charged per object, without the number)'],
    'the rate is not in any text found here',
  ),
  firehoseIcebergGb: price(
    0.029,
    'GB delivered to Apache Iceberg tables (modelled at the ingestion rate, 5 KB-rounded)',
    'unverified',
    [
      'https://docs.aws.amazon.com/firehose/latest/dev/apache-iceberg-destination.html (the destination; no price)',
    ],
    'no price for the Iceberg destination was found: this is the S3 ingestion rate, which may well be wrong',
  ),
  flinkKpuHour: price(0.11, 'KPU-hour (1 vCPU, 4 GB)', 'aws', [
    'https://raw.githubusercontent.com/aws/agent-toolkit-for-aws/main/skills/specialized-skills/analytics-skills/developing-applications-on-managed-service-for-apache-flink/references/pricing-calculator.md ($0.11 / KPU-hour, us-east-1, plus one orchestration KPU per application)',
    'https://raw.githubusercontent.com/api-evangelist/kinesis/refs/heads/main/plans/kinesis-plans-pricing.yml ($0.11 per KPU-hour, from the examples on https://aws.amazon.com/managed-service-apache-flink/pricing/)',
    'https://docs.aws.amazon.com/managed-flink/latest/java/how-pricing.html (one additional KPU per application for orchestration; per-second billing)',
  ]),
  flinkRunningStorageGbMonth: price(
    0.1,
    'GB-month of running application storage (50 GB per KPU)',
    'aws',
    [
      'https://raw.githubusercontent.com/api-evangelist/kinesis/refs/heads/main/plans/kinesis-plans-pricing.yml ($0.10 per GB/month, 50 GB allocated per KPU)',
    ],
    "AWS's agent toolkit (pricing-calculator.md, above) says the 50 GB per KPU are included and only storage above it is billed; modelled as billed, the larger figure ($5 per KPU-month)",
  ),
} as const satisfies Record<string, Price>;

export type PriceTable = { readonly [K in keyof typeof PRICES]: Price };
