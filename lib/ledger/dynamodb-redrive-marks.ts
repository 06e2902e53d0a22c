/**
 * Redrive marks in the ledger table (docs/recovery.md): pk = "REDRIVE", sk = dead-letter ID,
 * `state` sending | done, `position` once done. One conditional write creates a mark; the
 * ledger's channel items are untouched (no channel is called REDRIVE: channel IDs start with
 * their source kind).
 */
import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { RedriveMarks, RedriveState } from './redrive-marks';

const PK = 'REDRIVE';

export class DynamoDbRedriveMarks implements RedriveMarks {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async begin(deadLetterId: string): Promise<RedriveState> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: {
            pk: { S: PK },
            sk: { S: deadLetterId },
            state: { S: 'sending' },
            startedAt: { S: this.now().toISOString() },
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return 'new';
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
    const out = await this.client.send(
      new GetItemCommand({
        TableName: this.table,
        Key: { pk: { S: PK }, sk: { S: deadLetterId } },
        ConsistentRead: true,
      }),
    );
    return out.Item?.state?.S === 'done' ? 'done' : 'sending';
  }

  async finish(deadLetterId: string, position: string): Promise<void> {
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.table,
        Key: { pk: { S: PK }, sk: { S: deadLetterId } },
        UpdateExpression: 'SET #state = :done, #position = :position, finishedAt = :at',
        ExpressionAttributeNames: { '#state': 'state', '#position': 'position' },
        ExpressionAttributeValues: {
          ':done': { S: 'done' },
          ':position': { S: position },
          ':at': { S: this.now().toISOString() },
        },
      }),
    );
  }
}
