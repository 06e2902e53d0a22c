/**
 * Matchers for the operations of S3, DynamoDB, SQS and OpenSearch as they look on the wire,
 * and the errors these services really answer when they are overloaded or failing, for
 * FaultProxy rules. Bodies and headers follow the services' documented error formats, so the
 * SDK clients parse them into the same exceptions (and retry decisions) as the real thing.
 */
import type { FaultAction, RequestView, ResponseView } from './fault-proxy';

let requestIds = 0;
/** Deterministic request IDs: a fault is easy to find in a log, and a rerun names the same ones. */
const requestId = (): string => `FAULT${String(++requestIds).padStart(8, '0')}`;

const header = (request: RequestView, name: string): string | undefined => {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

// ---------------------------------------------------------------- S3 (path-style requests)

/** The object key of a path-style request (`/<bucket>/<key>`), decoded; '' for bucket requests. */
export function s3Key(request: RequestView): string {
  const slash = request.path.indexOf('/', 1);
  return slash < 0 ? '' : decodeURIComponent(request.path.slice(slash + 1));
}

const isObjectRequest = (request: RequestView): boolean => s3Key(request) !== '';
const isPlainPut = (request: RequestView): boolean =>
  request.method === 'PUT' &&
  isObjectRequest(request) &&
  header(request, 'x-amz-copy-source') === undefined &&
  !request.query.has('uploadId');

export const s3 = {
  /** PutObject, optionally only under a key prefix. */
  putObject:
    (prefix = '') =>
    (request: RequestView): boolean =>
      isPlainPut(request) && s3Key(request).startsWith(prefix),
  /** CopyObject (a PUT with x-amz-copy-source), optionally only to keys under a prefix. */
  copyObject:
    (prefix = '') =>
    (request: RequestView): boolean =>
      request.method === 'PUT' &&
      header(request, 'x-amz-copy-source') !== undefined &&
      s3Key(request).startsWith(prefix),
  deleteObject:
    (prefix = '') =>
    (request: RequestView): boolean =>
      request.method === 'DELETE' && isObjectRequest(request) && s3Key(request).startsWith(prefix),
  headObject:
    (prefix = '') =>
    (request: RequestView): boolean =>
      request.method === 'HEAD' && isObjectRequest(request) && s3Key(request).startsWith(prefix),
  /** Any request that touches an object. */
  anyObject: (request: RequestView): boolean => isObjectRequest(request),
};

const S3_ERRORS = {
  SlowDown: { status: 503, message: 'Please reduce your request rate.' },
  InternalError: { status: 500, message: 'We encountered an internal error. Please try again.' },
  ServiceUnavailable: { status: 503, message: 'Service is unable to handle request.' },
} as const;

export type S3ErrorCode = keyof typeof S3_ERRORS;

function s3ErrorXml(code: S3ErrorCode, request: RequestView): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${code}</Code><Message>${S3_ERRORS[code].message}</Message>` +
    `<Resource>${request.path}</Resource><RequestId>${requestId()}</RequestId>` +
    '<HostId>ZmF1bHQtcHJveHk=</HostId></Error>'
  );
}

/** S3's error answer: 503 SlowDown, 500 InternalError, 503 ServiceUnavailable. */
export function s3Error(code: S3ErrorCode): FaultAction {
  return {
    kind: 'respond',
    status: S3_ERRORS[code].status,
    headers: { 'content-type': 'application/xml', 'x-amz-request-id': 'FAULT', 'x-amz-id-2': 'fault' },
    body: (request) => s3ErrorXml(code, request),
  };
}

/**
 * CopyObject's peculiar failure: 200 OK whose body is an <Error> (S3 may fail a copy after it
 * has started answering). The SDK turns it into a retryable error.
 */
export function s3ErrorIn200(code: S3ErrorCode = 'InternalError'): FaultAction {
  return {
    kind: 'respond',
    status: 200,
    headers: { 'content-type': 'application/xml', 'x-amz-request-id': 'FAULT' },
    body: (request) => s3ErrorXml(code, request),
  };
}

// ---------------------------------------------------------------- DynamoDB (JSON 1.0)

/** `PutItem` for `X-Amz-Target: DynamoDB_20120810.PutItem`. */
export function dynamoDbOperation(request: RequestView): string | undefined {
  const target = header(request, 'x-amz-target');
  return target?.startsWith('DynamoDB_') ? target.slice(target.indexOf('.') + 1) : undefined;
}

export const dynamoDb =
  (...operations: string[]) =>
  (request: RequestView): boolean =>
    operations.includes(dynamoDbOperation(request) ?? '');

const DYNAMODB_ERRORS = {
  ThrottlingException: { status: 400, message: 'Rate of requests exceeds the allowed throughput.' },
  ProvisionedThroughputExceededException: {
    status: 400,
    message:
      'The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.',
  },
  RequestLimitExceeded: {
    status: 400,
    message: 'Throughput exceeds the current throughput limit for your account.',
  },
  ConditionalCheckFailedException: { status: 400, message: 'The conditional request failed' },
  InternalServerError: { status: 500, message: 'Internal server error' },
} as const;

export type DynamoDbErrorType = keyof typeof DYNAMODB_ERRORS;

/** DynamoDB's error answer: `{"__type": "com.amazonaws.dynamodb.v20120810#<type>", "message": ...}`. */
export function dynamoDbError(type: DynamoDbErrorType): FaultAction {
  return {
    kind: 'respond',
    status: DYNAMODB_ERRORS[type].status,
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': 'FAULT' },
    body: () =>
      JSON.stringify({
        __type: `com.amazonaws.dynamodb.v20120810#${type}`,
        message: DYNAMODB_ERRORS[type].message,
      }),
  };
}

// ---------------------------------------------------------------- SQS (JSON or query protocol)

/** `SendMessageBatch` from `X-Amz-Target: AmazonSQS.SendMessageBatch`, or the query `Action`. */
export function sqsAction(request: RequestView): string | undefined {
  const target = header(request, 'x-amz-target');
  if (target?.startsWith('AmazonSQS.')) return target.slice('AmazonSQS.'.length);
  return request.query.get('Action') ?? undefined;
}

export const sqs =
  (...actions: string[]) =>
  (request: RequestView): boolean =>
    actions.includes(sqsAction(request) ?? '');

/** SQS unavailable: 503 in the protocol the client spoke (JSON with the query-compatible header, or XML). */
export function sqsError(code = 'ServiceUnavailable', status = 503): FaultAction {
  const message = 'The request has failed due to a temporary failure of the server.';
  return {
    kind: 'respond',
    status,
    headers: { 'x-amzn-requestid': 'FAULT', 'x-amzn-query-error': `${code};Receiver` },
    body: (request) =>
      header(request, 'x-amz-target')
        ? JSON.stringify({ __type: `com.amazonaws.sqs#${code}`, message })
        : `<ErrorResponse><Error><Type>Receiver</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>${requestId()}</RequestId></ErrorResponse>`,
  };
}

interface SendMessageBatchResult {
  Successful?: Array<{ Id: string }>;
  Failed?: Array<{ Id: string; SenderFault: boolean; Code: string; Message?: string }>;
}

/**
 * SendMessageBatch's partial failure: 200 OK, but the chosen entries are listed under `Failed`
 * (SQS answers per entry). The request is executed as sent, so a FIFO queue has the messages
 * and drops their re-sends by deduplication ID. JSON protocol answers only.
 */
export function sqsBatchEntriesFailed(
  fail: (entryId: string) => boolean,
  code = 'InternalError',
): FaultAction {
  return {
    kind: 'rewrite',
    rewrite: (response: ResponseView): ResponseView => {
      if (response.status !== 200) return response;
      let body: SendMessageBatchResult;
      try {
        body = JSON.parse(response.body.toString('utf8')) as SendMessageBatchResult;
      } catch {
        return response;
      }
      const successful = body.Successful ?? [];
      body.Successful = successful.filter((entry) => !fail(entry.Id));
      body.Failed = [
        ...(body.Failed ?? []),
        ...successful
          .filter((entry) => fail(entry.Id))
          .map((entry) => ({ Id: entry.Id, SenderFault: false, Code: code, Message: 'Internal error.' })),
      ];
      return { ...response, body: Buffer.from(JSON.stringify(body)) };
    },
  };
}

// ---------------------------------------------------------------- OpenSearch

/** `POST /_bulk` or `POST /<index>/_bulk`. */
export const openSearchBulk = (request: RequestView): boolean =>
  (request.method === 'POST' || request.method === 'PUT') && /(^|\/)_bulk$/.test(request.path);

const OPENSEARCH_ERRORS = {
  429: {
    type: 'rejected_execution_exception',
    reason:
      'rejected execution of coordinating operation [coordinating_and_primary_bytes=0, replica_bytes=0, all_bytes=0, coordinating_operation_bytes=1048576, max_coordinating_and_primary_bytes=53687091]',
  },
  503: {
    type: 'cluster_block_exception',
    reason: 'blocked by: [SERVICE_UNAVAILABLE/2/no cluster-manager];',
  },
  500: { type: 'exception', reason: 'internal error' },
} as const;

/** A whole-request error from OpenSearch: 429 (back-pressure), 503 (no cluster manager), 500. */
export function openSearchError(status: keyof typeof OPENSEARCH_ERRORS): FaultAction {
  const error = OPENSEARCH_ERRORS[status];
  return {
    kind: 'respond',
    status,
    headers: { 'content-type': 'application/json; charset=UTF-8' },
    body: () => JSON.stringify({ error: { root_cause: [error], ...error }, status }),
  };
}

interface BulkResponse {
  errors?: boolean;
  items?: Array<Record<string, { status: number; error?: unknown; result?: string }>>;
}

/**
 * Item-level back-pressure: the bulk request is executed, but the answer says the chosen items
 * were rejected with 429 (as a node whose write queue is full answers), so the client sends
 * them again. Exercises "retry overwrites the same document ID".
 */
export function openSearchBulkItemsRejected(reject: (item: number) => boolean): FaultAction {
  return {
    kind: 'rewrite',
    rewrite: (response: ResponseView): ResponseView => {
      if (response.status !== 200) return response;
      const body = JSON.parse(response.body.toString('utf8')) as BulkResponse;
      (body.items ?? []).forEach((item, i) => {
        if (!reject(i)) return;
        for (const op of Object.values(item)) {
          op.status = 429;
          op.error = { type: 'rejected_execution_exception', reason: OPENSEARCH_ERRORS[429].reason };
          delete op.result;
        }
        body.errors = true;
      });
      return { ...response, body: Buffer.from(JSON.stringify(body)) };
    },
  };
}

// ---------------------------------------------------------------- any service

/** The connection is cut before any answer (a crashed node, a reset by a load balancer). */
export const connectionReset: FaultAction = { kind: 'reset' };

/** The service acts, but its answer never arrives (the client will retry what already happened). */
export const answerLost: FaultAction = { kind: 'drop-response' };
