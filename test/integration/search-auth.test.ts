/**
 * The search client's authentication modes, seen from the server side: a plain HTTP server
 * on 127.0.0.1 records what each mode sends (Amazon OpenSearch Service cannot be reached
 * from here, so SigV4 is checked by its signature header, not by AWS accepting it).
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadSearchSinkConfig } from '../../lib/config';
import { createSearchClient } from '../../lib/wiring';

let server: Server;
let seen: IncomingHttpHeaders[] = [];
let url = '';

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(req.headers);
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({ name: 'fake', cluster_name: 'fake', version: { number: '2.19.6' }, tagline: 'x' }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  seen = [];
});

const base = () => ({
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'AKIDLOCALTEST',
  AWS_SECRET_ACCESS_KEY: 'local-secret',
  SEARCH_ENDPOINT: url,
  DEAD_LETTER_QUEUE_URL: 'http://127.0.0.1:1/000000000000/dlq.fifo',
});

describe('search authentication modes', () => {
  it('none: plain HTTP, no Authorization header', async () => {
    await createSearchClient(loadSearchSinkConfig(base())).info();
    expect(seen[0]?.authorization).toBeUndefined();
  });

  it('basic: HTTP basic authentication', async () => {
    const config = loadSearchSinkConfig({
      ...base(),
      SEARCH_AUTH: 'basic',
      SEARCH_USERNAME: 'taxi',
      SEARCH_PASSWORD: 's3cret',
    });
    await createSearchClient(config).info();
    expect(seen[0]?.authorization).toBe(`Basic ${Buffer.from('taxi:s3cret').toString('base64')}`);
  });

  it('sigv4: requests signed for the es service with the role credentials of the environment', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, base());
    try {
      const config = loadSearchSinkConfig({ ...base(), SEARCH_AUTH: 'sigv4' });
      await createSearchClient(config).info();
      const auth = String(seen[0]?.authorization);
      expect(auth).toMatch(
        /^AWS4-HMAC-SHA256 Credential=AKIDLOCALTEST\/\d{8}\/eu-west-1\/es\/aws4_request, SignedHeaders=.*host.*, Signature=[0-9a-f]{64}$/,
      );
      expect(seen[0]?.['x-amz-date']).toMatch(/^\d{8}T\d{6}Z$/);
    } finally {
      process.env = saved;
    }
  });

  it('refuses basic authentication without a password, naming the variable', () => {
    expect(() => loadSearchSinkConfig({ ...base(), SEARCH_AUTH: 'basic', SEARCH_USERNAME: 'taxi' })).toThrow(
      'SEARCH_PASSWORD',
    );
    expect(() => loadSearchSinkConfig({ ...base(), SEARCH_AUTH: 'kerberos' })).toThrow('SEARCH_AUTH');
  });
});
