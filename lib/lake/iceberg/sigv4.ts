/**
 * SigV4 for the Iceberg REST catalogs on AWS: the Glue Data Catalog's endpoint
 * (https://glue.<region>.amazonaws.com/iceberg, signing name `glue`) and S3 Tables'
 * (https://s3tables.<region>.amazonaws.com/iceberg, signing name `s3tables`). It is the
 * RestCatalog `sign` hook: headers to add to each request, the body's hash included.
 */
import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';

export type CatalogSigningService = 'glue' | 's3tables';

export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** SHA-256 and HMAC-SHA-256 from node:crypto in the shape the signer asks for. */
type SourceData = string | ArrayBuffer | ArrayBufferView;

const bytes = (data: SourceData): string | Uint8Array =>
  typeof data === 'string'
    ? data
    : ArrayBuffer.isView(data)
      ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      : new Uint8Array(data);

class NodeSha256 {
  private readonly hash;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

export function sigv4Signer(options: {
  readonly region: string;
  readonly service: CatalogSigningService;
  readonly credentials: () => Promise<AwsCredentials>;
  /** Fixed signing time (tests); default now. */
  readonly now?: () => Date;
}) {
  const signer = new SignatureV4({
    region: options.region,
    service: options.service,
    credentials: options.credentials,
    sha256: NodeSha256,
    uriEscapePath: true,
    // The payload hash is signed as part of the canonical request either way; only S3 wants it as a header.
    applyChecksum: false,
  });
  return async (request: {
    method: string;
    url: string;
    headers: Record<string, string>;
    body?: string;
  }): Promise<Record<string, string>> => {
    const url = new URL(request.url);
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = v;
    const signed = await signer.sign(
      {
        method: request.method,
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port ? { port: Number(url.port) } : {}),
        path: url.pathname,
        query,
        headers: { ...request.headers, host: url.host },
        ...(request.body === undefined ? {} : { body: request.body }),
      },
      options.now ? { signingDate: options.now() } : {},
    );
    const out: Record<string, string> = {};
    // fetch sets Host itself.
    for (const [k, v] of Object.entries(signed.headers)) if (k.toLowerCase() !== 'host') out[k] = String(v);
    return out;
  };
}
