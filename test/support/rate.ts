/** Writing rate-limit items as a dead instance would have left them. */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../lib/app/index.js';
import { tableName } from '../../lib/store/client.js';
import type { Item } from '../../lib/store/codec.js';

export const putItem = (item: Item) => documentClient().send(new PutCommand({ TableName: tableName(), Item: item }));
