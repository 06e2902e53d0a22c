/** What the search indexes hold after a demo run, and its reconciliation against the lake. */
import type { Client } from '@opensearch-project/opensearch';

export interface SearchExport {
  readonly documents: number;
  readonly perIndex: Record<string, number>;
  /** trip_id of every document (documents without one are counted only). */
  readonly tripIds: string[];
}

export async function exportSearch(client: Client, pattern: string): Promise<SearchExport> {
  await client.indices.refresh({ index: pattern, ignore_unavailable: true, allow_no_indices: true } as never);
  const cat = await client.cat
    .indices({ index: pattern, format: 'json', h: 'index,docs.count' } as never)
    .catch(() => null);
  const rows = (cat?.body ?? []) as unknown as Array<{ index: string; 'docs.count': string }>;
  const perIndex: Record<string, number> = Object.fromEntries(
    rows.map((r): [string, number] => [r.index, Number(r['docs.count'])]).sort(),
  );
  const documents = Object.values(perIndex).reduce((a, b) => a + b, 0);
  const tripIds: string[] = [];
  let after: unknown[] | undefined;
  while (documents > 0) {
    const page = await client.search({
      index: pattern,
      body: {
        size: 10_000,
        _source: false,
        docvalue_fields: ['trip_id'],
        sort: [{ trip_id: 'asc' }, { 'source.position': 'asc' }],
        ...(after ? { search_after: after } : {}),
      } as never,
    });
    const hits = page.body.hits.hits as Array<{ fields?: { trip_id?: string[] }; sort?: unknown[] }>;
    if (hits.length === 0) break;
    for (const hit of hits) {
      const id = hit.fields?.trip_id?.[0];
      if (id !== undefined) tripIds.push(id);
    }
    after = hits[hits.length - 1]?.sort;
  }
  return { documents, perIndex, tripIds };
}

export interface SearchReconciliation {
  readonly reconciled: boolean;
  readonly documents: number;
  readonly expected: number;
  readonly missing: number;
  readonly duplicated: number;
  readonly unexpected: number;
}

/** Every trip of the lake is in the indexes exactly once, and nothing else is. */
export function reconcileSearch(search: SearchExport, lakeTripIds: readonly string[]): SearchReconciliation {
  const counts = new Map<string, number>();
  for (const id of search.tripIds) counts.set(id, (counts.get(id) ?? 0) + 1);
  const expected = new Set(lakeTripIds);
  let missing = 0;
  for (const id of expected) if (!counts.has(id)) missing++;
  let duplicated = 0;
  let unexpected = 0;
  for (const [id, n] of counts) {
    if (n > 1) duplicated += n - 1;
    if (!expected.has(id)) unexpected++;
  }
  const reconciled =
    missing === 0 && duplicated === 0 && unexpected === 0 && search.documents === expected.size;
  return {
    reconciled,
    documents: search.documents,
    expected: expected.size,
    missing,
    duplicated,
    unexpected,
  };
}
