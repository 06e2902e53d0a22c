/**
 * Composition root of the search sink (OpenSearch client, index template, dead letters).
 * Kept apart from the lake sink's so its bundle does not load Arrow and parquet-wasm.
 */
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { Client } from '@opensearch-project/opensearch';
import { AwsSigv4Signer } from '@opensearch-project/opensearch/aws';
import { createS3Client, createSqsClient } from '../aws-clients';
import type { SearchSinkConfig } from '../config';
import { SqsDeadLetterSink } from '../dead-letters/sqs-dead-letter-sink';
import { SearchSink } from '../pipeline/search-sink';
import { type Provider, RetryingSetup, setupStep } from '../runtime/retrying-setup';
import { compileIndexTemplate } from '../search/index-names';
import { indexTemplateFor } from '../search/index-template';
import { OpenSearchIndex } from '../search/search-index';
import { S3ObjectStore } from '../storage/s3-object-store';
import { createTripTransform } from './transform';

/** OpenSearch client for the configured endpoint and authentication mode. */
export function createSearchClient(config: SearchSinkConfig): Client {
  const common = {
    node: config.endpoint,
    maxRetries: 0,
    requestTimeout: config.requestTimeoutMs,
    compression: 'gzip' as const,
  };
  switch (config.auth.mode) {
    case 'none':
      return new Client(common);
    case 'basic':
      return new Client({
        ...common,
        auth: { username: config.auth.username, password: config.auth.password },
      });
    case 'sigv4': {
      const provider = defaultProvider();
      return new Client({
        ...common,
        ...AwsSigv4Signer({
          region: config.aws.region,
          service: config.auth.service,
          getCredentials: () => provider(),
        }),
      });
    }
  }
}

export async function createSearchSink(config: SearchSinkConfig): Promise<SearchSink> {
  const index = new OpenSearchIndex(createSearchClient(config));
  if (config.installTemplate) {
    const template = indexTemplateFor(config.indexTemplate, {
      shards: config.indexShards,
      replicas: config.indexReplicas,
      priority: config.templatePriority,
    });
    await setupStep(
      `install index template ${template.name} (${template.pattern}, priority ${template.priority}) on ${config.endpoint}`,
      () => index.ensureTemplate(template),
    );
  }
  const s3 = createS3Client(config.aws);
  const deadLetters = new SqsDeadLetterSink(createSqsClient(config.aws), {
    queueUrl: config.deadLetterQueueUrl,
    maxMessageBytes: config.deadLetterMaxMessageBytes,
    payloadStore: new S3ObjectStore(s3, config.deadLetterBucket ?? 'missing-dead-letter-bucket'),
    payloadPrefix: config.deadLetterPayloadPrefix,
    origin: { functionName: config.functionName, functionVersion: config.functionVersion },
  });
  return new SearchSink(
    {
      transform: await createTripTransform(config),
      indexName: compileIndexTemplate(config.indexTemplate, config.defaultService),
      index,
      deadLetters,
    },
    {
      maxBulkActions: config.maxBulkActions,
      maxBulkBytes: config.maxBulkBytes,
      maxRetries: config.maxRetries,
      retryBaseMs: config.retryBaseMs,
      retryMaxMs: config.retryMaxMs,
      deadlineMarginMs: config.deadlineMarginMs,
      deadLetterPoison: config.deadLetterPoison,
    },
  );
}

/** What the handler keeps at module scope: the search sink, built at cold start and retried until it succeeds. */
export function searchSinkProvider(config: SearchSinkConfig): Provider<SearchSink> {
  return new RetryingSetup(() => createSearchSink(config), {
    what: 'search sink setup',
    marginMs: config.deadlineMarginMs,
  }).start();
}
