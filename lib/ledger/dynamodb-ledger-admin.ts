/**
 * Operator actions on the commit ledger (docs/ledger.md): list channel heads, reset a
 * channel's high-water mark, move a head to a new channel ID. None of them runs in a Lambda
 * function; `npm run ledger` drives them. Each is one conditional write: it changes nothing
 * unless the head is still exactly what the operator was shown, and never a head whose last
 * commit is still being promoted.
 */
import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { ChannelHead, CommitManifest } from './commit-ledger';
import { DynamoDbCommitLedger } from './dynamodb-commit-ledger';
import { allItems } from './dynamodb-pages';

export interface HeadSummary {
  readonly channelId: string;
  readonly commitNo: number;
  readonly lastOffset: string | null;
  readonly lastPosition: string | null;
  readonly state: string;
  readonly epoch: number;
  readonly updatedAt: string | null;
  readonly resetAt: string | null;
}

/** Why an admin action did nothing; the caller tells the operator. */
export class LedgerAdminError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LedgerAdminError';
  }
}

export class DynamoDbLedgerAdmin {
  private readonly ledger: DynamoDbCommitLedger;

  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
  ) {
    this.ledger = new DynamoDbCommitLedger(client, table);
  }

  readHead(channelId: string): Promise<ChannelHead> {
    return this.ledger.readHead(channelId);
  }

  history(channelId: string): Promise<CommitManifest[]> {
    return this.ledger.history(channelId);
  }

  /** Every channel head, by channel ID. */
  async listHeads(): Promise<HeadSummary[]> {
    const items = await allItems((start) =>
      this.client.send(
        new ScanCommand({
          TableName: this.table,
          FilterExpression: 'sk = :head',
          ExpressionAttributeValues: { ':head': { S: 'HEAD' } },
          ProjectionExpression: 'pk, commitNo, lastOffset, lastPosition, #state, epoch, updatedAt, resetAt',
          ExpressionAttributeNames: { '#state': 'state' },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      ),
    );
    return items
      .map((item) => ({
        channelId: item.pk?.S ?? '',
        commitNo: Number(item.commitNo?.N ?? '0'),
        lastOffset: item.lastOffset?.S ?? null,
        lastPosition: item.lastPosition?.S ?? null,
        state: item.state?.S ?? 'unknown',
        epoch: Number(item.epoch?.N ?? '0'),
        updatedAt: item.updatedAt?.S ?? null,
        resetAt: item.resetAt?.S ?? null,
      }))
      .sort((a, b) => a.channelId.localeCompare(b.channelId));
  }

  /**
   * Forgets the channel's high-water mark, so records at any offset are committed again,
   * and starts a new epoch, so their objects get names of their own. For a source whose
   * offsets started over (a Kafka topic deleted and recreated); on a live source it makes
   * every redelivered record a duplicate in the lake. Commit numbers and history go on.
   */
  async reset(channelId: string, expectedCommitNo: number, now: Date): Promise<ChannelHead> {
    const head = await this.ledger.readHead(channelId);
    if (head.state === 'empty') throw new LedgerAdminError(`${channelId}: no such channel in the ledger`);
    if (head.commitNo !== expectedCommitNo) {
      throw new LedgerAdminError(
        `${channelId}: the head moved (commit ${head.commitNo}, expected ${expectedCommitNo}); look again`,
      );
    }
    if (head.state !== 'promoted') {
      throw new LedgerAdminError(
        `${channelId}: commit ${head.commitNo} is not promoted yet; let the function finish it (one more invocation) first`,
      );
    }
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: { pk: { S: channelId }, sk: { S: 'HEAD' } },
          UpdateExpression:
            'REMOVE lastOffset SET epoch = if_not_exists(epoch, :zero) + :one, resetAt = :now, resetFromPosition = :from',
          ConditionExpression: 'commitNo = :n AND #state = :promoted',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: {
            ':zero': { N: '0' },
            ':one': { N: '1' },
            ':now': { S: now.toISOString() },
            ':from': { S: head.lastOffset?.toString() ?? '' },
            ':n': { N: String(expectedCommitNo) },
            ':promoted': { S: 'promoted' },
          },
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException)
        throw new LedgerAdminError(`${channelId}: the head changed while resetting; nothing was changed`);
      throw error;
    }
    return this.ledger.readHead(channelId);
  }

  /**
   * Copies a channel's head to a new channel ID, which must not exist yet: the migration of
   * Kafka heads to IDs that name their cluster, or a self-managed cluster whose bootstrap
   * servers changed. The old head stays (its history lives under it).
   */
  async rename(fromId: string, toId: string): Promise<void> {
    const out = await this.client.send(
      new GetItemCommand({
        TableName: this.table,
        Key: { pk: { S: fromId }, sk: { S: 'HEAD' } },
        ConsistentRead: true,
      }),
    );
    const item = out.Item;
    if (!item) throw new LedgerAdminError(`${fromId}: no such channel in the ledger`);
    if (item.state?.S !== 'promoted') {
      throw new LedgerAdminError(
        `${fromId}: its last commit is not promoted yet; let the old function version finish it first`,
      );
    }
    const last = item.last?.S === undefined ? null : (JSON.parse(item.last.S) as CommitManifest);
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: {
            ...item,
            pk: { S: toId },
            renamedFrom: { S: fromId },
            ...(last ? { last: { S: JSON.stringify({ ...last, channelId: toId }) } } : {}),
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException)
        throw new LedgerAdminError(`${toId}: already in the ledger; nothing was changed`);
      throw error;
    }
  }
}

/** `kafka/<topic>/<partition>`: a Kafka channel ID from before channels named their cluster. */
export function legacyKafkaChannel(channelId: string): { topic: string; partition: string } | null {
  const m = /^kafka\/([A-Za-z0-9._-]+)\/(\d+)$/.exec(channelId);
  return m ? { topic: m[1] as string, partition: m[2] as string } : null;
}
