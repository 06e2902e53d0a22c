import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { ChannelHead, CommitLedger, CommitLog, CommitManifest, CommitOutcome } from './commit-ledger';
import { allItems } from './dynamodb-pages';

/**
 * Single-table layout (pk = channel ID, sk):
 *   sk = "HEAD"          commitNo, lastOffset, state, last (manifest JSON): the commit point
 *   sk = "C#<12 digits>" one item per commit: the history, written after the commit point
 * and one item per channel under pk = "CHANNELS" (sk = channel ID), written before the
 * channel's first commit, so that the table committer can list every channel with one query.
 * Only single-item conditional writes are used: no transactions (the local emulator has
 * none, and the protocol does not need them).
 */
const HEAD = 'HEAD';

export const historySortKey = (commitNo: number): string => `C#${String(commitNo).padStart(12, '0')}`;

const CHANNELS = 'CHANNELS';

export class DynamoDbCommitLedger implements CommitLedger, CommitLog {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
  ) {}

  async readHead(channelId: string, signal?: AbortSignal): Promise<ChannelHead> {
    const out = await this.client.send(
      new GetItemCommand({
        TableName: this.table,
        Key: { pk: { S: channelId }, sk: { S: HEAD } },
        ConsistentRead: true,
      }),
      { abortSignal: signal },
    );
    const item = out.Item;
    if (!item) return { channelId, commitNo: 0, lastOffset: null, state: 'empty', last: null };
    return {
      channelId,
      commitNo: Number(item.commitNo?.N ?? '0'),
      lastOffset: item.lastOffset?.S === undefined ? null : BigInt(item.lastOffset.S),
      state: item.state?.S === 'committed' ? 'committed' : 'promoted',
      last: item.last?.S === undefined ? null : (JSON.parse(item.last.S) as CommitManifest),
      ...(item.epoch?.N === undefined ? {} : { epoch: Number(item.epoch.N) }),
    };
  }

  async commit(
    expected: ChannelHead,
    manifest: CommitManifest,
    lastOffset: bigint,
    signal?: AbortSignal,
  ): Promise<CommitOutcome> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: {
            pk: { S: expected.channelId },
            sk: { S: HEAD },
            commitNo: { N: String(manifest.commitNo) },
            lastOffset: { S: lastOffset.toString() },
            lastPosition: { S: manifest.lastPosition },
            state: { S: 'committed' },
            last: { S: JSON.stringify(manifest) },
            updatedAt: { S: manifest.committedAt },
            // The whole item is replaced: carry the epoch an operator's reset set.
            ...(expected.epoch ? { epoch: { N: String(expected.epoch) } } : {}),
          },
          ConditionExpression:
            expected.commitNo === 0
              ? 'attribute_not_exists(pk)'
              : 'commitNo = :expected AND #state = :promoted',
          ExpressionAttributeNames: expected.commitNo === 0 ? undefined : { '#state': 'state' },
          ExpressionAttributeValues:
            expected.commitNo === 0
              ? undefined
              : { ':expected': { N: String(expected.commitNo) }, ':promoted': { S: 'promoted' } },
        }),
        { abortSignal: signal },
      );
      return 'committed';
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return 'conflict';
      throw error;
    }
  }

  async recordHistory(manifest: CommitManifest, signal?: AbortSignal): Promise<void> {
    await this.client.send(
      new PutItemCommand({
        TableName: this.table,
        Item: {
          pk: { S: manifest.channelId },
          sk: { S: historySortKey(manifest.commitNo) },
          commitNo: { N: String(manifest.commitNo) },
          firstPosition: { S: manifest.firstPosition },
          lastPosition: { S: manifest.lastPosition },
          rows: { N: String(manifest.trips) },
          objects: { N: String(manifest.objects.length) },
          manifest: { S: JSON.stringify(manifest) },
        },
      }),
      { abortSignal: signal },
    );
  }

  async markPromoted(channelId: string, commitNo: number, signal?: AbortSignal): Promise<void> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: { pk: { S: channelId }, sk: { S: HEAD } },
          UpdateExpression: 'SET #state = :promoted',
          ConditionExpression: 'commitNo = :n',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ':promoted': { S: 'promoted' }, ':n': { N: String(commitNo) } },
        }),
        { abortSignal: signal },
      );
    } catch (error) {
      // The head moved on: whoever moved it promoted this commit first (see the protocol).
      if (error instanceof ConditionalCheckFailedException) return;
      throw error;
    }
  }

  history(channelId: string, signal?: AbortSignal): Promise<CommitManifest[]> {
    return this.historySince(channelId, 0, signal);
  }

  async historySince(
    channelId: string,
    afterCommitNo: number,
    signal?: AbortSignal,
  ): Promise<CommitManifest[]> {
    const items = await allItems((start) =>
      this.client.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
          ExpressionAttributeValues: {
            ':pk': { S: channelId },
            ':from': { S: historySortKey(afterCommitNo + 1) },
            ':to': { S: historySortKey(999_999_999_999) },
          },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
        { abortSignal: signal },
      ),
    );
    return items.flatMap((item) => (item.manifest?.S ? [JSON.parse(item.manifest.S) as CommitManifest] : []));
  }

  async registerChannel(channelId: string, signal?: AbortSignal): Promise<void> {
    await this.client.send(
      new PutItemCommand({
        TableName: this.table,
        Item: { pk: { S: CHANNELS }, sk: { S: channelId } },
      }),
      { abortSignal: signal },
    );
  }

  async listChannels(signal?: AbortSignal): Promise<string[]> {
    const items = await allItems((start) =>
      this.client.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': { S: CHANNELS } },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
        { abortSignal: signal },
      ),
    );
    return items.flatMap((item) => (item.sk?.S ? [item.sk.S] : [])).sort();
  }
}
