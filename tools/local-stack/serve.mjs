#!/usr/bin/env node
// One local AWS emulator in this process, bound to 127.0.0.1 only. Prints "READY <port>"
// on stdout once it accepts connections; exits on SIGTERM/SIGINT or when its parent dies.
// Usage: node tools/local-stack/serve.mjs <s3sqs|dynamodb|kinesis> <port>
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const [service, portArg] = process.argv.slice(2);
const port = Number(portArg ?? 0);
const HOST = '127.0.0.1';

async function start() {
  switch (service) {
    case 's3sqs': {
      // fauxqs' own startFauxqs() listens on 0.0.0.0; build its app and bind loopback ourselves.
      const { buildApp } = await import('fauxqs');
      const app = buildApp({ logger: false, host: HOST });
      await app.listen({ port, host: HOST });
      return { port: app.server.address().port, close: () => app.close() };
    }
    case 'dynamodb': {
      const dynalite = require('dynalite');
      const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
      await new Promise((resolve, reject) => server.listen(port, HOST, resolve).on('error', reject));
      return { port: server.address().port, close: () => new Promise((r) => server.close(r)) };
    }
    case 'kinesis': {
      const kinesalite = require('kinesalite');
      const server = kinesalite({ createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 100 });
      await new Promise((resolve, reject) => server.listen(port, HOST, resolve).on('error', reject));
      return { port: server.address().port, close: () => new Promise((r) => server.close(r)) };
    }
    default:
      throw new Error(`unknown service "${service}" (expected s3sqs, dynamodb or kinesis)`);
  }
}

const running = await start();
process.stdout.write(`READY ${running.port}\n`);
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  const timer = setTimeout(() => process.exit(0), 2000);
  timer.unref();
  try {
    await running.close();
  } finally {
    process.exit(0);
  }
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// The parent holds our stdin open; when it goes away (even by SIGKILL) so do we.
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
