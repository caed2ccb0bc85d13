// node-oidc-provider's documented adapter interface (upsert, find, findByUserCode, findByUid, consume,
// destroy, revokeByGrantId) on DynamoDB, through the AWS SDK for JavaScript v3 (lib-dynamodb's
// document client): the peer as a user would deploy it on Lambda. One table, every model in it:
//   modelId (S, partition key) = "<Model>:<id>", payload (M), expiresAt (N, epoch seconds: the TTL
//   attribute), and grantId / uid / userCode (S) only when the payload has them, each the key of a
//   sparse global secondary index (grantIdIndex, uidIndex, userCodeIndex; projection ALL), so a row
//   lands in an index only when something must find it that way. DynamoDB's TTL deletes late, so
//   reads check expiresAt themselves. Reads are strongly consistent: a token just revoked or
//   consumed must not read as live.
// The table is created by the benchmark (bench/peer.py), not here.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand, DeleteCommand, QueryCommand, BatchWriteCommand,
} from '@aws-sdk/lib-dynamodb';

const TABLE = process.env.OIDC_TABLE;
// Region, endpoint and credentials from the environment, as on Lambda (AWS_ENDPOINT_URL_DYNAMODB here).
const client = DynamoDBDocumentClient.from(new DynamoDBClient({}), {
  marshallOptions: { removeUndefinedValues: true },
});

const now = () => Math.floor(Date.now() / 1000);
const live = (item) => (item && !(item.expiresAt && item.expiresAt <= now()) ? item.payload : undefined);

export default class DynamoDBAdapter {
  constructor(name) {
    this.name = name;
  }

  key(id) {
    return `${this.name}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const item = { modelId: this.key(id), payload };
    if (expiresIn) item.expiresAt = now() + expiresIn;
    for (const attribute of ['grantId', 'uid', 'userCode']) {
      if (payload[attribute]) item[attribute] = payload[attribute];
    }
    await client.send(new PutCommand({ TableName: TABLE, Item: item }));
  }

  async find(id) {
    const { Item } = await client.send(new GetCommand({ TableName: TABLE, Key: { modelId: this.key(id) },
      ConsistentRead: true }));
    return live(Item);
  }

  async findBy(index, attribute, value) {
    const { Items } = await client.send(new QueryCommand({
      TableName: TABLE, IndexName: index, KeyConditionExpression: '#a = :v',
      ExpressionAttributeNames: { '#a': attribute }, ExpressionAttributeValues: { ':v': value },
    }));
    return live((Items || []).find((item) => item.modelId.startsWith(`${this.name}:`)));
  }

  async findByUid(uid) {
    return this.findBy('uidIndex', 'uid', uid);
  }

  async findByUserCode(userCode) {
    return this.findBy('userCodeIndex', 'userCode', userCode);
  }

  async consume(id) {
    await client.send(new UpdateCommand({
      TableName: TABLE, Key: { modelId: this.key(id) }, UpdateExpression: 'SET payload.consumed = :c',
      ConditionExpression: 'attribute_exists(modelId)', ExpressionAttributeValues: { ':c': now() },
    }));
  }

  async destroy(id) {
    await client.send(new DeleteCommand({ TableName: TABLE, Key: { modelId: this.key(id) } }));
  }

  async revokeByGrantId(grantId) {
    let ExclusiveStartKey;
    do {
      // eslint-disable-next-line no-await-in-loop
      const page = await client.send(new QueryCommand({
        TableName: TABLE, IndexName: 'grantIdIndex', KeyConditionExpression: 'grantId = :g',
        ExpressionAttributeValues: { ':g': grantId }, ProjectionExpression: 'modelId', ExclusiveStartKey,
      }));
      const keys = (page.Items || []).map(({ modelId }) => ({ DeleteRequest: { Key: { modelId } } }));
      for (let i = 0; i < keys.length; i += 25) {
        // eslint-disable-next-line no-await-in-loop
        await client.send(new BatchWriteCommand({ RequestItems: { [TABLE]: keys.slice(i, i + 25) } }));
      }
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
  }
}
