/**
 * npm run dead-letters -- <command>: export the dead-letter queue to a file, look at it, and
 * redrive chosen records into the stream exactly once per dead-letter ID (docs/recovery.md).
 * AWS settings as for the functions (AWS_REGION, credentials, or the local stack's endpoint
 * variables: `set -a; . .local/stack.env`).
 */
import { readFileSync } from 'node:fs';
import { createSqsClient } from '../../lib/aws-clients';
import { loadAwsEndpoints } from '../../lib/config';
import type { DeadLetterMessage } from '../../lib/dead-letters/dead-letter';
import {
  type DeadLetterFilter,
  filterDeadLetters,
  parseDeadLetterFile,
} from '../../lib/dead-letters/dead-letter-file';
import { exportDeadLetterQueue } from '../../lib/dead-letters/dead-letter-queue-export';
import { createDeadLetterRedrive } from '../../lib/wiring/dead-letter-redrive';
import { KafkaRedrivePublisher } from './kafka-redrive-publisher';

const HELP = `Usage: npm run dead-letters -- <command> [options]

Commands:
  export --out FILE           drain the dead-letter queue into FILE (JSON Lines, appended): each
                              message is written and flushed before it is deleted from the queue
                              (the queue is FIFO: it cannot be paged through and put back)
  list FILE [filters]         one line per dead letter: ID, arrival time, channel, reason
  show FILE ID                one dead letter, whole
  redrive FILE [filters] (--stream NAME | --kafka BOOTSTRAP [--topic T]) [--resend ID,...]
                              [--edited FILE] [--yes]
                              put the chosen records back into the Kinesis stream, or into their
                              Kafka topic and partition (PLAINTEXT brokers), exactly once
                              per dead-letter ID (marks in the ledger table). A record an earlier
                              run may have sent is reported as ambiguous and not sent again
                              unless named with --resend. --edited FILE: an export whose payloads
                              the operator fixed (base64) replaces the original bytes of the
                              IDs it holds. Dry run unless --yes.

Filters: --reason CLASS (e.g. InvalidTimestampError), --from ISO, --to ISO (arrival time),
         --channel PREFIX (kind/stream[/partition]), --ids ID,...

Options: --queue URL (default DEAD_LETTER_QUEUE_URL), --table NAME (default LEDGER_TABLE),
         --json, --help
`;

interface Args {
  command: string | undefined;
  positional: string[];
  flags: Map<string, string>;
  yes: boolean;
  json: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { command: undefined, positional: [], flags: new Map(), yes: false, json: false };
  const valued = new Set([
    '--out',
    '--reason',
    '--from',
    '--to',
    '--channel',
    '--ids',
    '--stream',
    '--kafka',
    '--topic',
    '--resend',
    '--edited',
    '--queue',
    '--table',
  ]);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--yes') args.yes = true;
    else if (arg === '--json') args.json = true;
    else if (valued.has(arg)) {
      const value = argv[++i];
      if (value === undefined) throw new Error(`${arg} needs a value`);
      args.flags.set(arg, value);
    } else if (arg.startsWith('--')) throw new Error(`unknown option ${arg} (--help lists them)`);
    else if (args.command === undefined) args.command = arg;
    else args.positional.push(arg);
  }
  return args;
}

const list = (value: string | undefined): Set<string> | undefined =>
  value === undefined
    ? undefined
    : new Set(
        value
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      );

function readLetters(file: string | undefined): DeadLetterMessage[] {
  if (!file) throw new Error('which export file? (npm run dead-letters -- export --out FILE makes one)');
  return parseDeadLetterFile(readFileSync(file, 'utf-8'));
}

function filterOf(args: Args): DeadLetterFilter {
  const ids = list(args.flags.get('--ids'));
  return {
    ...(args.flags.get('--reason') ? { reason: args.flags.get('--reason') } : {}),
    ...(args.flags.get('--from') ? { from: args.flags.get('--from') } : {}),
    ...(args.flags.get('--to') ? { to: args.flags.get('--to') } : {}),
    ...(args.flags.get('--channel') ? { channel: args.flags.get('--channel') } : {}),
    ...(ids ? { ids } : {}),
  };
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv.length === 0 || argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(HELP);
    return 0;
  }
  const args = parseArgs(argv);
  const out = (value: unknown, text: string) =>
    process.stdout.write(args.json ? `${JSON.stringify(value)}\n` : `${text}\n`);
  const aws = loadAwsEndpoints(process.env);
  switch (args.command) {
    case 'export': {
      const file = args.flags.get('--out');
      const queue = args.flags.get('--queue') ?? process.env.DEAD_LETTER_QUEUE_URL;
      if (!file || !queue)
        throw new Error('export needs --out FILE and --queue URL (or DEAD_LETTER_QUEUE_URL)');
      const exported = await exportDeadLetterQueue(createSqsClient(aws), queue, file);
      out({ exported, file }, `${exported} dead letters exported to ${file} (and deleted from the queue)`);
      return 0;
    }
    case 'list': {
      const letters = filterDeadLetters(readLetters(args.positional[0]), filterOf(args));
      out(
        letters.map((l) => ({
          deadLetterId: l.deadLetterId,
          arrivalTime: l.source.arrivalTime,
          channel: `${l.source.kind}/${l.source.stream}/${l.source.partition}`,
          position: l.source.position,
          reason: l.reason.errorClass,
          message: l.reason.message,
        })),
        letters
          .map(
            (l) =>
              `${l.deadLetterId}  ${l.source.arrivalTime ?? '-'}  ${l.source.kind}/${l.source.stream}/${l.source.partition}@${l.source.position}  ${l.reason.errorClass}: ${l.reason.message}`,
          )
          .join('\n') || '(none)',
      );
      return 0;
    }
    case 'show': {
      const id = args.positional[1];
      const letter = readLetters(args.positional[0]).find((l) => l.deadLetterId === id);
      if (!letter) throw new Error(`no dead letter ${id} in ${args.positional[0]}`);
      out(letter, JSON.stringify(letter, null, 2));
      return 0;
    }
    case 'redrive': {
      const stream = args.flags.get('--stream');
      const bootstrap = args.flags.get('--kafka');
      const table = args.flags.get('--table') ?? process.env.LEDGER_TABLE;
      if ((stream === undefined) === (bootstrap === undefined) || !table)
        throw new Error(
          'redrive needs one of --stream NAME (Kinesis) or --kafka BOOTSTRAP, and --table NAME (or LEDGER_TABLE)',
        );
      const into =
        stream ??
        `Kafka ${bootstrap}${args.flags.get('--topic') ? ` topic ${args.flags.get('--topic')}` : ''}`;
      const letters = filterDeadLetters(readLetters(args.positional[0]), filterOf(args));
      const editedFile = args.flags.get('--edited');
      const edited = new Map(
        (editedFile ? parseDeadLetterFile(readFileSync(editedFile, 'utf-8')) : []).flatMap((l) =>
          l.payload.encoding === 'base64'
            ? [[l.deadLetterId, Buffer.from(l.payload.data, 'base64')] as const]
            : [],
        ),
      );
      if (!args.yes) {
        out(
          { dryRun: true, chosen: letters.length, edited: edited.size },
          `dry run: ${letters.length} dead letters chosen (${edited.size} with edited bytes); add --yes to redrive them into ${into}`,
        );
        return 0;
      }
      const kafka = bootstrap
        ? new KafkaRedrivePublisher(bootstrap.split(','), args.flags.get('--topic'))
        : undefined;
      try {
        const report = await createDeadLetterRedrive(
          { aws, ledgerTable: table, stream: stream ?? '' },
          kafka ? { publisher: kafka } : {},
        ).run(letters, { resend: list(args.flags.get('--resend')) ?? new Set(), edited });
        out(
          report,
          `${report.redriven.length} redriven into ${into}, ${report.alreadyDone.length} already redriven before, ${report.ambiguous.length} ambiguous${report.ambiguous.length ? ` (an earlier run died after marking them; check the stream, then --resend ${report.ambiguous.join(',')})` : ''}`,
        );
        return report.ambiguous.length > 0 ? 3 : 0;
      } finally {
        await kafka?.close();
      }
    }
    default:
      throw new Error(`unknown command ${args.command ?? ''} (--help lists them)`);
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`dead-letters failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
