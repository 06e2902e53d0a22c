/** Table metadata files by `s3://bucket/key` URI: the TableFiles port of the table committer. */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';

function parseS3Uri(uri: string): { bucket: string; key: string } {
  const m = /^s3a?:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (!m) throw new Error(`not an s3:// URI: ${uri}`);
  return { bucket: m[1] as string, key: m[2] as string };
}

export class S3TableFiles {
  constructor(private readonly client: S3Client) {}

  async put(uri: string, body: Uint8Array, signal?: AbortSignal): Promise<void> {
    const { bucket, key } = parseS3Uri(uri);
    await this.client.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/octet-stream' }),
      { abortSignal: signal },
    );
  }

  async get(uri: string, signal?: AbortSignal): Promise<Uint8Array> {
    const { bucket, key } = parseS3Uri(uri);
    const out = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), {
      abortSignal: signal,
    });
    if (!out.Body) throw new Error(`empty body for ${uri}`);
    return out.Body.transformToByteArray();
  }

  /** Every object under `prefixUri` (an s3:// URI ending in /), with when it was last written. */
  async list(
    prefixUri: string,
    signal?: AbortSignal,
  ): Promise<Array<{ uri: string; lastModifiedMs: number; bytes: number }>> {
    const { bucket, key: prefix } = parseS3Uri(prefixUri);
    const out: Array<{ uri: string; lastModifiedMs: number; bytes: number }> = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token, MaxKeys: 1000 }),
        { abortSignal: signal },
      );
      for (const o of page.Contents ?? []) {
        if (o.Key)
          out.push({
            uri: `s3://${bucket}/${o.Key}`,
            lastModifiedMs: o.LastModified?.getTime() ?? 0,
            bytes: o.Size ?? 0,
          });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  async delete(uri: string, signal?: AbortSignal): Promise<void> {
    const { bucket, key } = parseS3Uri(uri);
    await this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
  }
}
