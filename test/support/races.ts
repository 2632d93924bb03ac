/** A write that lands meanwhile: between an admin action's reads and its transaction. */
import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { vi } from 'vitest';
import { documentClient } from '../../lib/app/index.js';

/** Runs `meanwhile` just before the next transaction is sent: after its action has read, before it writes. */
export function beforeNextWrite(meanwhile: () => Promise<unknown>): void {
  const client = documentClient();
  const send = client.send.bind(client);
  let armed = true;
  vi.spyOn(client, 'send').mockImplementation((async (cmd: unknown) => {
    if (armed && cmd instanceof TransactWriteCommand) {
      armed = false;
      await meanwhile();
    }
    return send(cmd as never);
  }) as typeof client.send);
}
