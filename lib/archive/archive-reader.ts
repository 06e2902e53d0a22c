/** The raw archive as reprocessing reads it (port; S3 adapter in lib/storage/s3-archive-reader.ts). */
export interface ArchiveReader {
  /** Keys of the archive objects of one arrival-hour partition (`arrival_hour=...`). */
  list(partition: string, signal?: AbortSignal): Promise<string[]>;
  get(key: string, signal?: AbortSignal): Promise<Uint8Array>;
}
