/**
 * npm run ledger -- <command>: look at and repair the commit ledger (docs/ledger.md).
 * Talks to the table named by --table or LEDGER_TABLE, through the usual AWS settings
 * (AWS_REGION, credentials, or DYNAMODB_ENDPOINT_URL for the local stack).
 */
import { createDynamoDbClient } from '../../lib/aws-clients';
import { loadAwsEndpoints } from '../../lib/config';
import {
  DynamoDbLedgerAdmin,
  LedgerAdminError,
  legacyKafkaChannel,
} from '../../lib/ledger/dynamodb-ledger-admin';

const HELP = `Usage: npm run ledger -- <command> [options]

Commands:
  list                          every channel head: commit number, last position, state, epoch
  show <channel>                one channel's head and its last commits
  reset <channel> --commit N    forget the channel's high-water mark (its offsets started over:
                                a Kafka topic deleted and recreated) and start a new epoch.
                                N is the commit number "show" printed: nothing changes if the
                                head moved since. Dry run unless --yes.
  rename <from> <to>            copy a head to a new channel ID that does not exist yet (a
                                self-managed Kafka cluster whose bootstrap servers changed).
                                Dry run unless --yes.
  migrate-kafka --cluster ID    copy every pre-cluster Kafka head kafka/<topic>/<partition> to
                                kafka/<ID>/<topic>/<partition>. ID is the MSK cluster ARN, or
                                the bootstrap servers as the channel IDs show them (lower case,
                                sorted, comma-separated). Dry run unless --yes.

Options:
  --table NAME   ledger table (default: LEDGER_TABLE)
  --yes          carry the change out
  --json         print JSON instead of text
  --help         this text
`;

interface Args {
  command: string | undefined;
  positional: string[];
  table: string | undefined;
  yes: boolean;
  json: boolean;
  commit: number | undefined;
  cluster: string | undefined;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = {
    command: undefined,
    positional: [],
    table: process.env.LEDGER_TABLE,
    yes: false,
    json: false,
    commit: undefined,
    cluster: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--help' || arg === '-h') args.command = 'help';
    else if (arg === '--table') args.table = value();
    else if (arg === '--yes') args.yes = true;
    else if (arg === '--json') args.json = true;
    else if (arg === '--commit') {
      const n = Number(value());
      if (!Number.isSafeInteger(n) || n < 1) throw new Error('--commit must be a commit number (1, 2, ...)');
      args.commit = n;
    } else if (arg === '--cluster') args.cluster = value();
    else if (arg.startsWith('--')) throw new Error(`unknown option ${arg}`);
    else if (args.command === undefined) args.command = arg;
    else args.positional.push(arg);
  }
  return args;
}

const out = (text: string): void => {
  process.stdout.write(`${text}\n`);
};

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.command === undefined || args.command === 'help') {
    process.stdout.write(HELP);
    return;
  }
  if (!args.table) throw new Error('name the ledger table with --table or LEDGER_TABLE');
  const admin = new DynamoDbLedgerAdmin(createDynamoDbClient(loadAwsEndpoints(process.env)), args.table);
  const print = (value: unknown, text: () => string): void =>
    out(args.json ? JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)) : text());
  const channelArg = (): string => {
    const channel = args.positional[0];
    if (!channel) throw new Error(`${args.command} needs a channel ID (see "list")`);
    return channel;
  };

  switch (args.command) {
    case 'list': {
      const heads = await admin.listHeads();
      print(heads, () =>
        heads.length === 0
          ? 'no channels'
          : heads
              .map(
                (h) =>
                  `${h.channelId}  commit ${h.commitNo}  last ${h.lastPosition ?? '-'}${h.lastOffset === null ? ' (reset)' : ''}  ${h.state}${h.epoch ? `  epoch ${h.epoch}` : ''}  ${h.updatedAt ?? ''}`,
              )
              .join('\n'),
      );
      return;
    }
    case 'show': {
      const channel = channelArg();
      const head = await admin.readHead(channel);
      const history = (await admin.history(channel)).slice(-5);
      print({ head, history }, () =>
        [
          `${channel}: commit ${head.commitNo}, last offset ${head.lastOffset ?? 'none'}, ${head.state}, epoch ${head.epoch ?? 0}`,
          ...history.map(
            (m) =>
              `  commit ${m.commitNo}: ${m.firstPosition}..${m.lastPosition}, ${m.records} records (${m.trips} trips, ${m.poison} poison), ${m.objects.length} objects, ${m.committedAt}`,
          ),
        ].join('\n'),
      );
      return;
    }
    case 'reset': {
      const channel = channelArg();
      if (args.commit === undefined)
        throw new Error('reset needs --commit N, the commit number "show" printed');
      const head = await admin.readHead(channel);
      if (!args.yes) {
        print({ dryRun: true, head }, () =>
          [
            `would reset ${channel}: commit ${head.commitNo}, last offset ${head.lastOffset ?? 'none'} -> no last offset, epoch ${(head.epoch ?? 0) + 1}`,
            'records at every offset will then be committed again. Run again with --yes to do it.',
          ].join('\n'),
        );
        return;
      }
      const after = await admin.reset(channel, args.commit, new Date());
      print(
        { reset: true, head: after },
        () => `${channel}: reset; epoch ${after.epoch ?? 0}, no last offset`,
      );
      return;
    }
    case 'rename': {
      const [from, to] = args.positional;
      if (!from || !to) throw new Error('rename needs <from> and <to> channel IDs');
      if (!args.yes) {
        print(
          { dryRun: true, from, to },
          () => `would copy the head of ${from} to ${to}; run again with --yes`,
        );
        return;
      }
      await admin.rename(from, to);
      print({ renamed: true, from, to }, () => `${from} -> ${to}: copied`);
      return;
    }
    case 'migrate-kafka': {
      const cluster = args.cluster?.trim();
      if (!cluster) throw new Error('migrate-kafka needs --cluster <MSK cluster ARN or bootstrap servers>');
      const moves = (await admin.listHeads()).flatMap((h) => {
        const legacy = legacyKafkaChannel(h.channelId);
        return legacy
          ? [{ from: h.channelId, to: `kafka/${cluster}/${legacy.topic}/${legacy.partition}` }]
          : [];
      });
      const done: Array<{ from: string; to: string; result: string }> = [];
      for (const move of moves) {
        if (!args.yes) {
          done.push({ ...move, result: 'dry run' });
          continue;
        }
        try {
          await admin.rename(move.from, move.to);
          done.push({ ...move, result: 'copied' });
        } catch (error) {
          if (!(error instanceof LedgerAdminError)) throw error;
          done.push({ ...move, result: error.message });
        }
      }
      print({ dryRun: !args.yes, moves: done }, () =>
        done.length === 0
          ? 'no pre-cluster Kafka channels in this ledger'
          : [
              ...done.map((d) => `${d.from} -> ${d.to}: ${d.result}`),
              ...(args.yes ? [] : ['run again with --yes to copy them']),
            ].join('\n'),
      );
      const refused = done.filter((d) => d.result !== 'copied' && d.result !== 'dry run');
      for (const d of refused) process.stderr.write(`ledger: not copied: ${d.result}\n`);
      if (refused.length > 0) process.exitCode = 2;
      return;
    }
    default:
      throw new Error(`unknown command "${args.command}" (see --help)`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`ledger: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(error instanceof LedgerAdminError ? 2 : 1);
});
