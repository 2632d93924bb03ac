/**
 * DynamoDB Local on a port it picked (npm start, the test runs): the port is free when picked and
 * Java binds it about a second later, so another process may take it in between. A CI run lost
 * that race (on npm start's own port, fixed by PORT=0 in the tests; DynamoDB Local's pick is
 * this). The start tries another pick, never hangs on a server that accepts and never answers,
 * and never hands back another DynamoDB that held the port.
 */

import { createServer, type Server, type Socket } from 'node:net';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { freePort, type LocalDynamo, startLocalDynamo } from '../../infra/local/dynamodb.js';
import { ensureTable } from '../../lib/store/schema.js';

const started: LocalDynamo[] = [];
const servers: Server[] = [];
const sockets: Socket[] = [];

afterAll(async () => {
  await Promise.all(started.map((d) => d.stop()));
  for (const socket of sockets) socket.destroy();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

/** A TCP server that takes connections and never answers, as any other program's port would. */
async function silentServer(): Promise<number> {
  const server = createServer((socket) => sockets.push(socket));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return (server.address() as { port: number }).port;
}

const client = (endpoint: string) =>
  new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'l', secretAccessKey: 'l' } });

/** A picker whose first picks were taken by the time Java binds them. */
function picks(...first: number[]): () => Promise<number> {
  const queue = [...first];
  return async () => queue.shift() ?? freePort();
}

describe('DynamoDB Local on a picked port', () => {
  it('starts on another pick when the first was taken by a server that never answers', async () => {
    const taken = await silentServer();
    const dynamo = await startLocalDynamo({ pickPort: picks(taken) });
    started.push(dynamo);
    expect(dynamo.port).not.toBe(taken);
    const db = client(dynamo.endpoint);
    await expect(db.send(new ListTablesCommand({}))).resolves.toMatchObject({ TableNames: expect.any(Array) });
    db.destroy();
  }, 60_000);

  it('never hands back another DynamoDB that took the port', async () => {
    // The run's own DynamoDB Local holds this port; a table made here shows which one answers.
    const foreign = inject('dynamoEndpoint');
    const foreignPort = Number(new URL(foreign).port);
    const marker = `port-race-${process.pid}`;
    const db = client(foreign);
    await ensureTable(db, marker);
    db.destroy();

    const dynamo = await startLocalDynamo({ pickPort: picks(foreignPort, foreignPort) });
    started.push(dynamo);
    expect(dynamo.port).not.toBe(foreignPort);
    const ours = client(dynamo.endpoint);
    expect((await ours.send(new ListTablesCommand({}))).TableNames).not.toContain(marker);
    ours.destroy();
  }, 60_000);

  it('a port the caller chose that is taken fails at once, saying so', async () => {
    const taken = await silentServer();
    const t0 = Date.now();
    await expect(startLocalDynamo({ port: taken })).rejects.toThrow(`port ${taken} on 127.0.0.1 is already in use`);
    // Bounded by Java's own start, not by the 90 s wait for an answer.
    expect(Date.now() - t0).toBeLessThan(45_000);
  }, 60_000);
});
