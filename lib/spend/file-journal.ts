/**
 * Local mode's settlement journal: one file per kept settlement in a folder, written to a
 * temporary name, flushed to disk and renamed, so a file is either whole or absent. It survives a
 * DynamoDB Local restart and a restart of the gateway. The local gateway replays the folder every
 * few seconds (infra/local/stack.ts); a file is deleted only once its settlement has landed (or
 * had landed before). A file that cannot be read as a settlement is moved aside to `rejected/`,
 * as an SQS message would go to its dead-letter queue, never deleted.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { ObjectOwner } from '../domain/tenancy.js';
import { countMetric } from '../metrics.js';
import {
  JournalRecordError,
  journalRecord,
  ownersRecord,
  type ReplayTargets,
  replayJournalRecord,
  type SettlementJournal,
} from '../store/settlement-journal.js';
import type { Settlement } from '../store/spend-ledger.js';
import { logger } from '../telemetry.js';

/**
 * One replay of the journal, reported as the deployed stack reports its settlement queue's depth:
 * while some settlements wait, a `SettlementsWaiting` metric (EMF, when metrics are on) and a
 * warning with the count, at each replay; once more, with 0, when the last has landed. `before`:
 * how many waited after the previous replay. Resolves with how many wait now.
 */
export async function replayAndReport(journal: FileSettlementJournal, to: ReplayTargets, before: number): Promise<number> {
  const { waiting, landed, rejected } = await journal.replay(to);
  if (waiting > 0 || before > 0) await countMetric('SettlementsWaiting', waiting);
  if (waiting > 0) logger().warn('settlements waiting in the local journal: DynamoDB does not take them yet', { waiting, landed });
  else if (before > 0) logger().info('settlements waiting in the local journal: none left', { landed, rejected });
  return waiting;
}

const fileOf = (requestId: string): string => `${Buffer.from(requestId, 'utf8').toString('base64url')}.json`;

export class FileSettlementJournal implements SettlementJournal {
  constructor(private readonly dir: string) {}

  keep(s: Settlement): Promise<void> {
    return this.write(fileOf(s.requestId), journalRecord(s));
  }

  /** Each call its own file: owner records kept twice are written once by their replay. */
  keepOwners(owners: readonly ObjectOwner[]): Promise<void> {
    return this.write(fileOf(`owners:${randomUUID()}`), ownersRecord(owners));
  }

  private async write(name: string, text: string): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const tmp = join(this.dir, `.${name}.${process.pid}.tmp`);
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, join(this.dir, name));
  }

  /** Settlements kept and not yet landed. */
  async waiting(): Promise<number> {
    return (await this.files()).length;
  }

  /** Lands every kept record it can; the rest stay for the next replay. */
  async replay(to: ReplayTargets): Promise<{ landed: number; waiting: number; rejected: number }> {
    const out = { landed: 0, waiting: 0, rejected: 0 };
    for (const name of await this.files()) {
      const path = join(this.dir, name);
      try {
        await replayJournalRecord(to, await readFile(path, 'utf8'));
        await unlink(path);
        out.landed++;
      } catch (e) {
        if (e instanceof JournalRecordError) {
          await mkdir(join(this.dir, 'rejected'), { recursive: true });
          await rename(path, join(this.dir, 'rejected', name));
          logger().error('settlement journal record rejected', { file: name, reason: e.message });
          out.rejected++;
        } else out.waiting++;
      }
    }
    return out;
  }

  private async files(): Promise<string[]> {
    try {
      return (await readdir(this.dir)).filter((f) => f.endsWith('.json') && !f.startsWith('.'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }
}
