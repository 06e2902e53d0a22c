/**
 * Refuses to package or deploy a configuration the lake sink's commit protocol cannot keep
 * exactly-once: a Kinesis mapping with ParallelizationFactor > 1 (batches of one shard
 * would commit out of order), or one without ReportBatchItemFailures / with a tumbling
 * window. See docs/commit-protocol.md.
 */
class TaxiStreamGuard {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = {
      'before:package:initialize': () => this.check(),
      'before:deploy:deploy': () => this.check(),
    };
  }

  check() {
    const problems = [];
    const functions = this.serverless.service.functions || {};
    for (const [name, fn] of Object.entries(functions)) {
      for (const event of fn.events || []) {
        const stream = event.stream;
        if (!stream || typeof stream !== 'object') continue;
        const factor = Number(stream.parallelizationFactor ?? 1);
        if (factor !== 1) {
          problems.push(
            `${name}: parallelizationFactor is ${factor}; the per-shard commit protocol needs 1 (add shards instead)`,
          );
        }
        if (stream.functionResponseType !== 'ReportBatchItemFailures') {
          problems.push(`${name}: functionResponseType must be ReportBatchItemFailures`);
        }
        if (stream.tumblingWindowInSeconds) problems.push(`${name}: tumbling windows are not supported`);
      }
    }
    if (problems.length > 0) {
      throw new this.serverless.classes.Error(
        `taxi-stream guard refused the configuration:\n- ${problems.join('\n- ')}`,
      );
    }
  }
}

module.exports = TaxiStreamGuard;
