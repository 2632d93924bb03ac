/** Starts one DynamoDB Local for the whole run and hands its endpoint to the tests. */
import type { TestProject } from 'vitest/node';
import { type LocalDynamo, startLocalDynamo } from '../../infra/local/dynamodb.js';

let dynamo: LocalDynamo | undefined;

export async function setup(project: TestProject): Promise<void> {
  dynamo ??= await startLocalDynamo();
  project.provide('dynamoEndpoint', dynamo.endpoint);
}

export async function teardown(): Promise<void> {
  await dynamo?.stop();
  dynamo = undefined;
}

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
  }
}
