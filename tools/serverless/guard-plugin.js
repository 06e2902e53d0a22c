/**
 * Refuses to package or deploy a configuration the lake sink's commit protocol cannot keep
 * exactly-once (docs/commit-protocol.md): an event source mapping with ParallelizationFactor
 * other than 1 (batches of one shard would commit out of order, and the per-shard high-water
 * mark would skip the records of the slower batch), one without ReportBatchItemFailures, one
 * with a tumbling window, or one without an on-failure destination (a batch that exhausts its
 * retries would be dropped without a trace).
 *
 * Two checks:
 * - the `stream` events of serverless.yml, early and with the function's name;
 * - every AWS::Lambda::EventSourceMapping of the compiled CloudFormation template, after osls
 *   has merged `resources` and `resources.extensions` into it, so that a mapping declared or
 *   changed there (or a `stream` event given as a bare ARN) cannot slip through. It runs
 *   before the template is saved (`package`) and before the stack is created or updated
 *   (`deploy`, also from a saved package: `deploy --package <dir>`).
 */
class TaxiStreamGuard {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = {
      'before:package:initialize': () => this.checkConfiguration(),
      'before:deploy:deploy': () => this.checkConfiguration(),
      'before:aws:package:finalize:saveServiceState': () => this.checkTemplate(),
      'before:aws:deploy:deploy:createStack': () => this.checkTemplate(),
    };
  }

  checkConfiguration() {
    const problems = [];
    const functions = this.serverless.service.functions || {};
    for (const [name, fn] of Object.entries(functions)) {
      for (const event of fn.events || []) {
        const stream = event.stream;
        // A bare ARN takes the defaults, which lack ReportBatchItemFailures: checkTemplate
        // names the mapping it becomes.
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
    this.refuse(problems);
  }

  checkTemplate() {
    const template = this.serverless.service.provider.compiledCloudFormationTemplate;
    this.refuse(mappingProblems(template));
  }

  refuse(problems) {
    if (problems.length > 0) {
      throw new this.serverless.classes.Error(
        `taxi-stream guard refused the configuration:\n- ${problems.join('\n- ')}`,
      );
    }
  }
}

/** What is wrong with each event source mapping of a CloudFormation template. */
function mappingProblems(template) {
  const problems = [];
  for (const [id, resource] of Object.entries(template?.Resources ?? {})) {
    if (resource?.Type !== 'AWS::Lambda::EventSourceMapping') continue;
    const p = resource.Properties ?? {};
    // Absent means 1. Anything but the literal 1 (a number, a string, an intrinsic function
    // resolved only at deploy time) is refused.
    const factor = p.ParallelizationFactor;
    if (factor !== undefined && factor !== 1 && factor !== '1') {
      problems.push(
        `${id}: ParallelizationFactor is ${JSON.stringify(factor)}; the per-shard commit protocol needs 1 (add shards instead)`,
      );
    }
    if (
      !Array.isArray(p.FunctionResponseTypes) ||
      !p.FunctionResponseTypes.includes('ReportBatchItemFailures')
    )
      problems.push(`${id}: FunctionResponseTypes must include ReportBatchItemFailures`);
    if (p.TumblingWindowInSeconds !== undefined && p.TumblingWindowInSeconds !== 0)
      problems.push(`${id}: tumbling windows are not supported (TumblingWindowInSeconds)`);
    if (!p.DestinationConfig?.OnFailure?.Destination)
      problems.push(`${id}: needs an on-failure destination (DestinationConfig.OnFailure)`);
  }
  return problems;
}

module.exports = TaxiStreamGuard;
module.exports.mappingProblems = mappingProblems;
