/** Port for the object storage the lake and oversized dead letters live in. */
export interface ObjectStore {
  readonly bucket: string;
  put(key: string, body: Uint8Array, contentType: string): Promise<void>;
  /** Server-side copy within the bucket. */
  copy(fromKey: string, toKey: string): Promise<void>;
  delete(key: string): Promise<void>;
  /** Size of the object, or null when there is none. */
  size(key: string): Promise<number | null>;
}
