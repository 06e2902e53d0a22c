import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { ArchiveReader } from '../archive/archive-reader';

/** The raw archive's objects on S3, one arrival-hour partition at a time. */
export class S3ArchiveReader implements ArchiveReader {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly prefix: string,
  ) {}

  async list(partition: string, signal?: AbortSignal): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: `${this.prefix}/${partition}/`,
          ContinuationToken: token,
        }),
        { abortSignal: signal },
      );
      for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys.sort();
  }

  async get(key: string, signal?: AbortSignal): Promise<Uint8Array> {
    const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }), {
      abortSignal: signal,
    });
    if (!out.Body) throw new Error(`empty body for s3://${this.bucket}/${key}`);
    return out.Body.transformToByteArray();
  }
}
