/** Port for the search cluster, and its OpenSearch adapter. */
import type { Client } from '@opensearch-project/opensearch';
import type { IndexTemplate } from './index-template';

/** One bulk `index` action, already serialised (so chunks can be cut by bytes). */
export interface BulkAction {
  readonly index: string;
  readonly id: string;
  /** NDJSON lines: action + source, each ending in \n. */
  readonly ndjson: string;
  readonly bytes: number;
}

export type BulkItemOutcome =
  | { readonly status: 'indexed' }
  /** 429, 5xx: another attempt may succeed. */
  | { readonly status: 'retryable'; readonly error: string }
  /** Other 4xx (a mapping conflict, a document the index refuses): it never will. */
  | { readonly status: 'rejected'; readonly httpStatus: number; readonly error: string };

export interface BulkOptions {
  /** Give up on the request after this long, if sooner than the client's own request timeout. */
  readonly timeoutMs?: number;
}

export interface SearchIndex {
  /** Installs the index template (PUT under its name: idempotent). */
  ensureTemplate(template: IndexTemplate): Promise<void>;
  /** One _bulk request. Throws when the request as a whole failed (connection, 429/5xx on the request, timeout). */
  bulk(actions: readonly BulkAction[], options?: BulkOptions): Promise<BulkItemOutcome[]>;
}

export function bulkAction(index: string, id: string, document: unknown): BulkAction {
  const ndjson = `${JSON.stringify({ index: { _index: index, _id: id } })}\n${JSON.stringify(document)}\n`;
  return { index, id, ndjson, bytes: Buffer.byteLength(ndjson) };
}

interface BulkResponseItem {
  index?: {
    status: number;
    error?: { type?: string; reason?: string; caused_by?: { type?: string; reason?: string } };
  };
}

function describeError(error: NonNullable<BulkResponseItem['index']>['error']): string {
  if (!error) return 'unknown error';
  const cause = error.caused_by ? ` (caused by ${error.caused_by.type}: ${error.caused_by.reason})` : '';
  return `${error.type}: ${error.reason}${cause}`.slice(0, 1000);
}

export class OpenSearchIndex implements SearchIndex {
  constructor(private readonly client: Client) {}

  async ensureTemplate(template: IndexTemplate): Promise<void> {
    await this.client.indices.putIndexTemplate({ name: template.name, body: template.body as never });
  }

  async bulk(actions: readonly BulkAction[], options: BulkOptions = {}): Promise<BulkItemOutcome[]> {
    const configured = Number(this.client.transport?.requestTimeout);
    const requestTimeout =
      options.timeoutMs === undefined
        ? undefined
        : Math.max(
            1,
            Number.isFinite(configured) ? Math.min(options.timeoutMs, configured) : options.timeoutMs,
          );
    // The client sends a string bulk body as is: actions are serialised once, when cut into chunks.
    const response = await this.client.bulk(
      { body: actions.map((a) => a.ndjson).join('') as never },
      requestTimeout === undefined ? {} : { requestTimeout },
    );
    const items = ((response.body as { items?: BulkResponseItem[] }).items ?? []) as BulkResponseItem[];
    if (items.length !== actions.length)
      throw new Error(`bulk answered ${items.length} items for ${actions.length} actions`);
    return items.map((item): BulkItemOutcome => {
      const result = item.index;
      const status = result?.status ?? 500;
      if (status >= 200 && status < 300) return { status: 'indexed' };
      if (status === 429 || status >= 500)
        return { status: 'retryable', error: describeError(result?.error) };
      return { status: 'rejected', httpStatus: status, error: describeError(result?.error) };
    });
  }
}
