/**
 * Port for the object storage the lake and oversized dead letters live in. `signal` cancels
 * the request: the caller gave up on it (the Lambda deadline is near); its outcome is unknown.
 */
export interface ObjectStore {
  readonly bucket: string;
  put(key: string, body: Uint8Array, contentType: string, signal?: AbortSignal): Promise<void>;
  /** Server-side copy within the bucket. */
  copy(fromKey: string, toKey: string, signal?: AbortSignal): Promise<void>;
  delete(key: string, signal?: AbortSignal): Promise<void>;
  /** Size of the object, or null when there is none. */
  size(key: string, signal?: AbortSignal): Promise<number | null>;
}
