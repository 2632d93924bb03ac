/**
 * An admin transaction names each item once (found by review: deleting a key with the
 * predecessor it replaced put two deletes of that predecessor in one TransactWriteItems, which
 * DynamoDB refuses whole: a 503). The same op again is written once; two different ops on one
 * item are a 400 that writes nothing.
 */
import { beforeAll, expect, it } from 'vitest';
import { iamActor as actor } from '../../../lib/admin/rules/actor.js';
import { adminStore } from '../../../lib/app/index.js';
import { InvalidRequestError, NotFoundError } from '../../../lib/errors.js';
import { refs } from '../../../lib/store/keys.js';
import { setFields } from '../../../lib/store/writes.js';
import { scanTable } from '../../support/refusals.js';
import { seedTeam } from '../../support/seed.js';
import { useTestTable } from '../../support/table.js';

beforeAll(async () => {
  await useTestTable();
  await seedTeam({ team_id: 't-once' });
});

const audit = { action: 'team.update', entity_type: 'team', entity_id: 't-once' };
const set = (fields: Record<string, unknown>) => setFields(refs.team('t-once'), fields, () => new NotFoundError('team', 't-once'));

it('the same op twice is written once', async () => {
  await adminStore().transact([set({ team_alias: 'twice' }), set({ team_alias: 'twice' })], actor, audit, new Date());
  expect((await adminStore().getOwnRecord<{ team_alias?: string }>(refs.team('t-once')))?.team_alias).toBe('twice');
});

it('two different ops on one item are a 400 naming the problem, and nothing is written', async () => {
  const before = await scanTable();
  const error = await adminStore()
    .transact([set({ team_alias: 'one' }), set({ team_alias: 'other' })], actor, audit, new Date())
    .catch((e: unknown) => e);
  expect(error).toBeInstanceOf(InvalidRequestError);
  expect((error as InvalidRequestError).status).toBe(400);
  expect((error as InvalidRequestError).message).toContain('one item two different ways');
  expect(await scanTable()).toEqual(before);
});
