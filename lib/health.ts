/**
 * Health probes. `/health` and `/health/liveliness` are answered by API Gateway itself (the
 * process is up: nothing to ask); `/health/readiness` reads one item by key from the table, so a
 * deployment whose table does not answer is not ready. Neither says anything of the configuration.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { documentClient } from './app/wiring.js';
import { tableName } from './store/client.js';
import { refs } from './store/keys.js';

export async function readiness(): Promise<APIGatewayProxyResult> {
  const json = (statusCode: number, body: unknown) => ({
    statusCode,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  try {
    await documentClient().send(new GetCommand({ TableName: tableName(), Key: refs.readiness() }));
    return json(200, { status: 'ready' });
  } catch {
    return json(503, { status: 'not_ready' });
  }
}
