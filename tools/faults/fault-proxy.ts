/**
 * A fault-injecting HTTP reverse proxy for the reliability tests: it sits on 127.0.0.1 (an
 * ephemeral port) in front of one real local service (the S3/SQS emulator, dynalite, an
 * OpenSearch node), forwards every request byte for byte (method, path, raw headers with the
 * client's Host, so a SigV4 signature made for the proxy's address still verifies, and the
 * body, streamed) and answers the service's response as it came. Programmable rules replace
 * that behaviour for the requests they match: a canned error response, a connection reset
 * before any answer, an answer lost after the service acted, a held request, or a rewritten
 * response. `down()` refuses connections altogether (a node that is gone) until `up()`.
 *
 * Realistic errors for S3, DynamoDB, SQS and OpenSearch, and matchers for their operations,
 * live in ./service-faults.ts.
 */
import { once } from 'node:events';
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';

/** What a rule sees of a request. */
export interface RequestView {
  readonly method: string;
  /** Path without the query string, as sent (percent-encoded). */
  readonly path: string;
  readonly query: URLSearchParams;
  /** Lower-case header names, as node:http gives them. */
  readonly headers: IncomingHttpHeaders;
  /** The body exactly as sent (possibly compressed); only when a live rule asked for it. */
  readonly body?: Buffer;
}

export interface ResponseView {
  readonly status: number;
  /** Header names in lower case; content-encoding already undone in `body`. */
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

export type FaultAction =
  /** Answer this instead of the service (the request body is read and discarded first). */
  | {
      readonly kind: 'respond';
      readonly status: number;
      readonly headers?: Readonly<Record<string, string>>;
      readonly body?: string | ((request: RequestView) => string);
    }
  /** Destroy the client connection at once: no answer, the service never sees the request. */
  | { readonly kind: 'reset' }
  /** Forward, let the service act, then destroy the connection: the answer is lost. */
  | { readonly kind: 'drop-response' }
  /** Hold the request until `release` resolves, then forward it. */
  | { readonly kind: 'hold'; readonly release: Promise<void> }
  /** Forward, then answer what `rewrite` makes of the service's (decoded) response. */
  | {
      readonly kind: 'rewrite';
      readonly rewrite: (response: ResponseView, request: RequestView) => ResponseView;
    };

export interface FaultRule {
  /** Names the rule in the counters and in `clear(name)`. */
  readonly name: string;
  readonly match: (request: RequestView) => boolean;
  readonly action: FaultAction;
  /** Let this many matching requests through untouched first. Default 0. */
  readonly skip?: number;
  /** Inject at most this many faults, then step aside. Default: until cleared. */
  readonly times?: number;
  /** Buffer the request body so that `match` can read it (it is still forwarded unchanged). */
  readonly inspectBody?: boolean;
}

interface LiveRule {
  readonly rule: FaultRule;
  skipped: number;
  fired: number;
}

export interface FaultProxyStats {
  /** Requests received. */
  requests: number;
  /** Requests passed on to the service (held and rewritten ones included). */
  forwarded: number;
  /** Faults injected, all rules together. */
  injected: number;
}

const LOOPBACK = '127.0.0.1';
/** Hop-by-hop headers are the proxy's own business on each leg; `expect` it answers itself. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'upgrade',
  'expect',
]);

function withoutHopByHop(raw: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    if (!HOP_BY_HOP.has(name.toLowerCase())) out.push(name, raw[i + 1] as string);
  }
  return out;
}

function decode(body: Buffer, encoding: string | undefined): Buffer {
  switch ((encoding ?? '').trim().toLowerCase()) {
    case 'gzip':
      return gunzipSync(body);
    case 'deflate':
      return inflateSync(body);
    case 'br':
      return brotliDecompressSync(body);
    default:
      return body;
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks);
}

export class FaultProxy {
  readonly stats: FaultProxyStats = { requests: 0, forwarded: 0, injected: 0 };
  private readonly upstream: URL;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  private readonly sockets = new Set<Socket>();
  private readonly rules: LiveRule[] = [];
  private readonly injectedByRule = new Map<string, number>();
  private readonly waiters: Array<{ name: string; count: number; resolve: () => void }> = [];
  private server: http.Server;
  private port = 0;
  private isDown = false;
  private closed = false;

  private constructor(upstream: string) {
    this.upstream = new URL(upstream);
    if (this.upstream.protocol !== 'http:')
      throw new Error(`fault proxy: only http upstreams, got ${upstream}`);
    this.server = this.newServer();
  }

  /** Starts a proxy on 127.0.0.1 (an ephemeral port unless `port` is given) in front of `upstream`. */
  static async start(upstream: string, port = 0): Promise<FaultProxy> {
    const proxy = new FaultProxy(upstream);
    await proxy.listen(port);
    return proxy;
  }

  /** `http://127.0.0.1:<port>`: point the client's endpoint here. */
  get url(): string {
    return `http://${LOOPBACK}:${this.port}`;
  }

  /** Adds a rule; rules are tried in the order they were added, the first that fires wins. */
  inject(rule: FaultRule): this {
    this.rules.push({ rule, skipped: 0, fired: 0 });
    return this;
  }

  /** Removes the named rule, or every rule. Counters stay. */
  clear(name?: string): this {
    for (let i = this.rules.length - 1; i >= 0; i--) {
      if (name === undefined || this.rules[i]?.rule.name === name) this.rules.splice(i, 1);
    }
    return this;
  }

  /** Faults injected by the named rule (all rules of that name since the last reset), or in all. */
  injected(name?: string): number {
    if (name === undefined) return this.stats.injected;
    return this.injectedByRule.get(name) ?? 0;
  }

  /** Faults injected per rule name. */
  counters(): Record<string, number> {
    return Object.fromEntries([...this.injectedByRule].sort(([a], [b]) => a.localeCompare(b)));
  }

  resetCounters(): void {
    this.injectedByRule.clear();
    Object.assign(this.stats, { requests: 0, forwarded: 0, injected: 0 });
  }

  /** Resolves once the named rule has injected `count` faults in all. */
  whenInjected(name: string, count = 1): Promise<void> {
    if (this.injected(name) >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ name, count, resolve }));
  }

  /** The node goes away: open connections are cut and new ones refused, until `up()`. */
  async down(): Promise<void> {
    if (this.isDown || this.closed) return;
    this.isDown = true;
    const closing = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closing;
  }

  /** The node is back, on the same port. */
  async up(): Promise<void> {
    if (!this.isDown || this.closed) return;
    this.server = this.newServer();
    await this.listen(this.port);
    this.isDown = false;
  }

  get isUp(): boolean {
    return !this.isDown && !this.closed;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.down();
    this.closed = true;
    this.rules.length = 0;
    this.agent.destroy();
  }

  private newServer(): http.Server {
    const server = http.createServer((req, res) => {
      this.handle(req, res).catch(() => req.socket.destroy());
    });
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    // Answer `Expect: 100-continue` here; the header is not forwarded.
    server.on('checkContinue', (req, res) => {
      res.writeContinue();
      server.emit('request', req, res);
    });
    server.keepAliveTimeout = 5_000;
    return server;
  }

  private async listen(port: number): Promise<void> {
    this.server.listen(port, LOOPBACK);
    await once(this.server, 'listening');
    this.port = (this.server.address() as AddressInfo).port;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.stats.requests++;
    const url = new URL(req.url ?? '/', 'http://proxy');
    const wantsBody = this.rules.some((r) => r.rule.inspectBody && !this.exhausted(r));
    const body = wantsBody ? await readAll(req) : undefined;
    const view: RequestView = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      ...(body ? { body } : {}),
    };
    const live = this.pick(view);
    if (!live) {
      this.forward(req, res, body, 'pipe');
      return;
    }
    const { action } = live.rule;
    switch (action.kind) {
      case 'respond': {
        if (!body) await readAll(req);
        const text = typeof action.body === 'function' ? action.body(view) : (action.body ?? '');
        const payload = Buffer.from(text);
        res.writeHead(action.status, { ...action.headers, 'content-length': String(payload.length) });
        // A HEAD answer carries the length but no body.
        res.end(view.method === 'HEAD' ? undefined : payload);
        return;
      }
      case 'reset':
        req.socket.destroy();
        return;
      case 'hold':
        await action.release;
        // A client that gave up meanwhile has nothing left to send: the service never sees it.
        if (req.socket.destroyed || res.destroyed) return;
        this.forward(req, res, body, 'pipe');
        return;
      case 'drop-response':
        this.forward(req, res, body, 'drop');
        return;
      case 'rewrite':
        this.forward(req, res, body, (response) => action.rewrite(response, view));
        return;
    }
  }

  private exhausted(live: LiveRule): boolean {
    return live.rule.times !== undefined && live.fired >= live.rule.times;
  }

  /** The first rule that fires for this request; counts skips and injections. */
  private pick(view: RequestView): LiveRule | null {
    for (const live of this.rules) {
      if (this.exhausted(live)) continue;
      let matched: boolean;
      try {
        matched = live.rule.match(view);
      } catch {
        matched = false;
      }
      if (!matched) continue;
      if (live.skipped < (live.rule.skip ?? 0)) {
        live.skipped++;
        continue;
      }
      live.fired++;
      this.stats.injected++;
      const name = live.rule.name;
      const count = (this.injectedByRule.get(name) ?? 0) + 1;
      this.injectedByRule.set(name, count);
      for (let i = this.waiters.length - 1; i >= 0; i--) {
        const waiter = this.waiters[i] as (typeof this.waiters)[number];
        if (waiter.name === name && count >= waiter.count) {
          this.waiters.splice(i, 1);
          waiter.resolve();
        }
      }
      return live;
    }
    return null;
  }

  private forward(
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer | undefined,
    mode: 'pipe' | 'drop' | ((response: ResponseView) => ResponseView),
  ): void {
    this.stats.forwarded++;
    const upstreamReq = http.request(
      {
        host: this.upstream.hostname,
        port: this.upstream.port,
        method: req.method,
        path: req.url,
        headers: withoutHopByHop(req.rawHeaders),
        agent: this.agent,
      },
      (upstreamRes) => {
        if (mode === 'pipe') {
          res.writeHead(
            upstreamRes.statusCode ?? 502,
            upstreamRes.statusMessage,
            withoutHopByHop(upstreamRes.rawHeaders),
          );
          upstreamRes.pipe(res);
          upstreamRes.once('error', () => res.destroy());
          return;
        }
        readAll(upstreamRes).then(
          (raw) => {
            if (mode === 'drop') {
              req.socket.destroy();
              return;
            }
            const headers: Record<string, string> = {};
            for (const [name, value] of Object.entries(upstreamRes.headers)) {
              if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
            }
            const out = mode({
              status: upstreamRes.statusCode ?? 502,
              headers,
              body: decode(raw, headers['content-encoding']),
            });
            const sent: Record<string, string> = {};
            for (const [name, value] of Object.entries(out.headers)) {
              const lower = name.toLowerCase();
              if (HOP_BY_HOP.has(lower) || lower === 'content-encoding' || lower === 'transfer-encoding')
                continue;
              sent[lower] = value;
            }
            sent['content-length'] = String(out.body.length);
            res.writeHead(out.status, sent);
            res.end(out.body);
          },
          () => req.socket.destroy(),
        );
      },
    );
    // A service that fails mid-way looks to the client like a dropped connection, as it would.
    upstreamReq.once('error', () => req.socket.destroy());
    res.once('close', () => {
      if (!res.writableFinished) upstreamReq.destroy();
    });
    if (body) upstreamReq.end(body);
    else req.pipe(upstreamReq);
  }
}
