#!/usr/bin/env node
// One local AWS emulator in this process, bound to 127.0.0.1 only. Prints "READY <port>"
// on stdout once it accepts connections; stops on SIGTERM/SIGINT or when its parent dies.
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

let running;
let stopping = false;
// After a signal the process ends by that same signal, once the server is closed: whoever
// watches it (tools/local-stack/service-watch.ts) then sees what stopped it, not a clean exit.
const stop = async (signal) => {
  if (stopping) return;
  stopping = true;
  if (signal) process.stderr.write(`${new Date().toISOString()} ${service}: ${signal} received, stopping\n`);
  const end = () => {
    if (!signal) process.exit(0);
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  };
  const timer = setTimeout(end, 2000);
  timer.unref();
  try {
    await running?.close();
  } finally {
    end();
  }
};
// In place before READY goes out: a signal may follow it at once.
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
// The parent holds our stdin open; when it goes away (even by SIGKILL) so do we.
process.stdin.on('end', () => stop());
process.stdin.on('error', () => stop());
process.stdin.resume();

running = await start();
process.stdout.write(`READY ${running.port}\n`);
