/**
 * A client of the Iceberg REST catalog protocol (the OpenAPI spec in apache/iceberg,
 * open-api/rest-catalog-open-api.yaml): just what the table committer needs. Apache Iceberg's
 * own REST server runs it locally; on AWS the Glue Data Catalog and S3 Tables serve it.
 *
 * Every 64-bit number (snapshot IDs, sequence numbers) stays exact: responses are parsed with
 * lossless-json and IDs are BigInt, requests are written the same way. Java-made snapshot IDs
 * pass 2^53, and a rounded ID in an `assert-ref-snapshot-id` requirement fails every commit.
 */
import { parse, parseNumberAndBigInt, stringify } from 'lossless-json';
import type { IcebergSchema, PartitionSpec } from './table-schema';

export interface Snapshot {
  readonly snapshotId: bigint;
  readonly parentSnapshotId: bigint | null;
  readonly sequenceNumber: bigint;
  readonly timestampMs: number;
  readonly manifestList: string;
  readonly summary: Readonly<Record<string, string>>;
  readonly schemaId?: number;
}

export interface TableMetadata {
  readonly formatVersion: number;
  readonly tableUuid: string;
  readonly location: string;
  readonly lastSequenceNumber: bigint;
  readonly currentSnapshotId: bigint | null;
  readonly snapshots: readonly Snapshot[];
  readonly properties: Readonly<Record<string, string>>;
  readonly currentSchemaId: number;
  readonly defaultSpecId: number;
  /** Every schema the table has had, by ID (fields as the catalog gave them). */
  readonly schemas: ReadonlyArray<{
    readonly schemaId: number;
    readonly fields: ReadonlyArray<{ id: number; name: string }>;
  }>;
  readonly lastColumnId: number;
  /** Snapshot IDs named by refs (branches and tags: main and any other). */
  readonly refSnapshotIds: readonly bigint[];
  /** Earlier metadata files the table still lists (`metadata-log`). */
  readonly metadataLog: readonly string[];
}

export interface LoadedTable {
  readonly metadataLocation: string;
  readonly metadata: TableMetadata;
}

/** The catalog refused the request for good (4xx other than a commit conflict). */
export class CatalogError extends Error {
  constructor(
    message: string,
    readonly status: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CatalogError';
  }
}

/** 409 on a commit: the table moved since it was loaded. Reload and try again. */
export class CatalogConflictError extends CatalogError {
  constructor(message: string) {
    super(message, 409);
    this.name = 'CatalogConflictError';
  }
}

/**
 * No answer, a timeout or a 5xx: the commit may or may not have happened. Reload and look for
 * the snapshot before trying again (spec: CommitStateUnknownException).
 */
export class CatalogStateUnknownError extends CatalogError {
  constructor(message: string, status: number, options?: { cause?: unknown }) {
    super(message, status, options);
    this.name = 'CatalogStateUnknownError';
  }
}

export interface RestCatalogOptions {
  /** e.g. http://127.0.0.1:8181 (without /v1). */
  readonly uri: string;
  /** Sent as ?warehouse= to /v1/config (Glue: the account ID; S3 Tables: the table bucket ARN). */
  readonly warehouse?: string;
  readonly requestTimeoutMs?: number;
  /** Adds authentication headers (SigV4 on AWS); none locally. */
  readonly sign?: (request: {
    method: string;
    url: string;
    headers: Record<string, string>;
    body?: string;
  }) => Promise<Record<string, string>>;
  readonly fetch?: typeof fetch;
}

export type TableRequirement =
  | { readonly type: 'assert-table-uuid'; readonly uuid: string }
  | { readonly type: 'assert-current-schema-id'; readonly 'current-schema-id': number }
  | { readonly type: 'assert-ref-snapshot-id'; readonly ref: string; readonly 'snapshot-id': bigint | null };

export type TableUpdate =
  | {
      readonly action: 'add-snapshot';
      readonly snapshot: {
        readonly 'snapshot-id': bigint;
        readonly 'parent-snapshot-id'?: bigint;
        readonly 'sequence-number': bigint;
        readonly 'timestamp-ms': number;
        readonly 'manifest-list': string;
        readonly summary: Readonly<Record<string, string>>;
        readonly 'schema-id': number;
      };
    }
  | {
      readonly action: 'set-snapshot-ref';
      readonly 'ref-name': string;
      readonly type: 'branch';
      readonly 'snapshot-id': bigint;
    }
  | { readonly action: 'set-properties'; readonly updates: Readonly<Record<string, string>> }
  | { readonly action: 'remove-snapshots'; readonly 'snapshot-ids': readonly bigint[] }
  | { readonly action: 'add-schema'; readonly schema: IcebergSchema; readonly 'last-column-id': number }
  /** -1: the schema added by this same commit. */
  | { readonly action: 'set-current-schema'; readonly 'schema-id': number };

type Json = Record<string, unknown>;

const bigOrNull = (v: unknown): bigint | null =>
  v === undefined || v === null ? null : typeof v === 'bigint' ? v : BigInt(String(v));

function toMetadata(raw: Json): TableMetadata {
  const current = bigOrNull(raw['current-snapshot-id']);
  return {
    formatVersion: Number(raw['format-version']),
    tableUuid: String(raw['table-uuid']),
    location: String(raw.location),
    lastSequenceNumber: bigOrNull(raw['last-sequence-number']) ?? 0n,
    // v1 tables wrote -1 for "none".
    currentSnapshotId: current === -1n ? null : current,
    snapshots: ((raw.snapshots as Json[] | undefined) ?? []).map((s) => ({
      snapshotId: bigOrNull(s['snapshot-id']) as bigint,
      parentSnapshotId: bigOrNull(s['parent-snapshot-id']),
      sequenceNumber: bigOrNull(s['sequence-number']) ?? 0n,
      timestampMs: Number(s['timestamp-ms']),
      manifestList: String(s['manifest-list']),
      summary: (s.summary as Record<string, string> | undefined) ?? {},
      ...(s['schema-id'] === undefined ? {} : { schemaId: Number(s['schema-id']) }),
    })),
    properties: (raw.properties as Record<string, string> | undefined) ?? {},
    currentSchemaId: Number(raw['current-schema-id'] ?? 0),
    defaultSpecId: Number(raw['default-spec-id'] ?? 0),
    schemas: ((raw.schemas as Json[] | undefined) ?? []).map((s) => ({
      schemaId: Number(s['schema-id']),
      fields: ((s.fields as Json[] | undefined) ?? []).map((f) => ({
        id: Number(f.id),
        name: String(f.name),
      })),
    })),
    lastColumnId: Number(raw['last-column-id'] ?? 0),
    refSnapshotIds: [
      ...Object.values((raw.refs as Record<string, Json> | undefined) ?? {}).map(
        (ref) => bigOrNull(ref['snapshot-id']) as bigint,
      ),
      ...(current !== null && current !== -1n ? [current] : []),
    ],
    metadataLog: ((raw['metadata-log'] as Json[] | undefined) ?? []).map((m) => String(m['metadata-file'])),
  };
}

export class RestCatalog {
  private prefix: string | undefined;
  private readonly fetch: typeof fetch;

  constructor(private readonly options: RestCatalogOptions) {
    this.fetch = options.fetch ?? fetch;
  }

  private async request(
    method: string,
    path: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<{ status: number; json: Json | null; text: string }> {
    const url = `${this.options.uri.replace(/\/+$/, '')}${path}`;
    const text = body === undefined ? undefined : (stringify(body) as string);
    let headers: Record<string, string> = { accept: 'application/json' };
    if (text !== undefined) headers['content-type'] = 'application/json';
    if (this.options.sign)
      headers = { ...headers, ...(await this.options.sign({ method, url, headers, body: text })) };
    const timeout = AbortSignal.timeout(this.options.requestTimeoutMs ?? 30_000);
    let response: Response;
    try {
      response = await this.fetch(url, {
        method,
        headers,
        ...(text === undefined ? {} : { body: text }),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (cause) {
      throw new CatalogStateUnknownError(`${method} ${path}: no answer from the catalog`, 0, { cause });
    }
    const raw = await response.text();
    let json: Json | null = null;
    try {
      json = raw === '' ? null : (parse(raw, null, parseNumberAndBigInt) as Json);
    } catch {
      json = null;
    }
    return { status: response.status, json, text: raw };
  }

  private fail(method: string, path: string, status: number, body: Json | null, text: string): never {
    const error = (body?.error ?? {}) as { message?: string; type?: string };
    const what =
      `${method} ${path}: HTTP ${status} ${error.type ?? ''} ${error.message ?? text.slice(0, 300)}`.trim();
    if (status >= 500 || status === 408 || status === 429) throw new CatalogStateUnknownError(what, status);
    throw new CatalogError(what, status);
  }

  /** The path prefix the catalog asks for in /v1/config (Glue: catalogs/<id>), once. */
  private async base(signal?: AbortSignal): Promise<string> {
    if (this.prefix === undefined) {
      const query = this.options.warehouse ? `?warehouse=${encodeURIComponent(this.options.warehouse)}` : '';
      const out = await this.request('GET', `/v1/config${query}`, undefined, signal);
      if (out.status !== 200) this.fail('GET', '/v1/config', out.status, out.json, out.text);
      const overrides = (out.json?.overrides ?? {}) as Record<string, string>;
      const defaults = (out.json?.defaults ?? {}) as Record<string, string>;
      const prefix = overrides.prefix ?? defaults.prefix;
      this.prefix = prefix ? `/v1/${prefix.replace(/^\/+|\/+$/g, '')}` : '/v1';
    }
    return this.prefix;
  }

  async ensureNamespace(namespace: string, signal?: AbortSignal): Promise<void> {
    const base = await this.base(signal);
    const out = await this.request(
      'POST',
      `${base}/namespaces`,
      { namespace: [namespace], properties: {} },
      signal,
    );
    if (out.status === 200 || out.status === 409) return;
    // Two creators racing can get a 5xx instead of a 409 (seen with Iceberg's JDBC catalog):
    // what counts is whether the namespace is there now.
    if (out.status >= 500) {
      const check = await this.request(
        'GET',
        `${base}/namespaces/${encodeURIComponent(namespace)}`,
        undefined,
        signal,
      );
      if (check.status === 200) return;
    }
    this.fail('POST', `${base}/namespaces`, out.status, out.json, out.text);
  }

  async loadTable(namespace: string, table: string, signal?: AbortSignal): Promise<LoadedTable | null> {
    const path = `${await this.base(signal)}/namespaces/${encodeURIComponent(namespace)}/tables/${encodeURIComponent(table)}`;
    const out = await this.request('GET', path, undefined, signal);
    if (out.status === 404) return null;
    if (out.status !== 200 || !out.json) this.fail('GET', path, out.status, out.json, out.text);
    return {
      metadataLocation: String(out.json['metadata-location']),
      metadata: toMetadata(out.json.metadata as Json),
    };
  }

  /** Creates the table unless it exists (then loads it). */
  async ensureTable(
    input: {
      readonly namespace: string;
      readonly table: string;
      readonly location: string;
      readonly schema: IcebergSchema;
      readonly spec: PartitionSpec;
      readonly properties?: Readonly<Record<string, string>>;
    },
    signal?: AbortSignal,
  ): Promise<LoadedTable> {
    const existing = await this.loadTable(input.namespace, input.table, signal);
    if (existing) return existing;
    const path = `${await this.base(signal)}/namespaces/${encodeURIComponent(input.namespace)}/tables`;
    const out = await this.request(
      'POST',
      path,
      {
        name: input.table,
        location: input.location,
        schema: input.schema,
        'partition-spec': input.spec,
        'stage-create': false,
        properties: { 'format-version': '2', ...input.properties },
      },
      signal,
    );
    if (out.status === 409 || out.status >= 500) {
      // Created meanwhile by another run (a 5xx can also mean it was created, answer lost).
      const raced = await this.loadTable(input.namespace, input.table, signal);
      if (raced) return raced;
    }
    if (out.status !== 200 || !out.json) this.fail('POST', path, out.status, out.json, out.text);
    return {
      metadataLocation: String(out.json['metadata-location']),
      metadata: toMetadata(out.json.metadata as Json),
    };
  }

  /**
   * One atomic table commit. CatalogConflictError when a requirement failed (409);
   * CatalogStateUnknownError when it is unknown whether it happened.
   */
  async commit(
    namespace: string,
    table: string,
    requirements: readonly TableRequirement[],
    updates: readonly TableUpdate[],
    signal?: AbortSignal,
  ): Promise<LoadedTable> {
    const path = `${await this.base(signal)}/namespaces/${encodeURIComponent(namespace)}/tables/${encodeURIComponent(table)}`;
    const out = await this.request(
      'POST',
      path,
      { identifier: { namespace: [namespace], name: table }, requirements, updates },
      signal,
    );
    if (out.status === 409) {
      const error = (out.json?.error ?? {}) as { message?: string };
      throw new CatalogConflictError(
        `commit to ${namespace}.${table} refused: ${error.message ?? out.text.slice(0, 300)}`,
      );
    }
    if (out.status !== 200 || !out.json) this.fail('POST', path, out.status, out.json, out.text);
    return {
      metadataLocation: String(out.json['metadata-location']),
      metadata: toMetadata(out.json.metadata as Json),
    };
  }
}
