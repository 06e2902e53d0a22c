import type { Client } from '@opensearch-project/opensearch';
import { bulkAction, OpenSearchIndex } from '../../../lib/search/search-index';

/** Just enough of the client: its configured request timeout and a bulk call that records its options. */
function fakeClient(requestTimeout: number) {
  const calls: unknown[] = [];
  const client = {
    transport: { requestTimeout },
    bulk: async (_params: unknown, options: unknown) => {
      calls.push(options);
      return { body: { errors: false, items: [{ index: { status: 201 } }] } };
    },
  };
  return { client: client as unknown as Client, calls };
}

describe('OpenSearchIndex.bulk', () => {
  const actions = [bulkAction('trips-yellow-2018.01', '1', { trip_id: '1' })];

  it('shortens the request timeout to the caller budget, never lengthens it', async () => {
    const { client, calls } = fakeClient(30_000);
    const index = new OpenSearchIndex(client);
    expect(await index.bulk(actions, { timeoutMs: 4_000 })).toEqual([{ status: 'indexed' }]);
    await index.bulk(actions, { timeoutMs: 60_000 });
    await index.bulk(actions);
    expect(calls).toEqual([{ requestTimeout: 4_000 }, { requestTimeout: 30_000 }, {}]);
  });
});
