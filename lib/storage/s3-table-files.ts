/** Table metadata files by `s3://bucket/key` URI: the TableFiles port of the table committer. */
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';

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
}
