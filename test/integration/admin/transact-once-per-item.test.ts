/**
 * An admin transaction names each item once (found by review: deleting a key with the
 * predecessor it replaced put two deletes of that predecessor in one TransactWriteItems, which
 * DynamoDB refuses whole: a 503). The same delete again is written once; any other second op on
 * one item is a 400 that writes nothing.
 */
import { beforeAll, expect, it } from 'vitest';
import { iamActor as actor } from '../../../lib/admin/rules/actor.js';
import { adminStore } from '../../../lib/app/index.js';
import { InvalidRequestError, NotFoundError } from '../../../lib/errors.js';
import { refs } from '../../../lib/store/keys.js';
import { deleteAny, setFields } from '../../../lib/store/writes.js';
import { scanTable } from '../../support/refusals.js';
import { seedTeam } from '../../support/seed.js';
import { useTestTable } from '../../support/table.js';

beforeAll(async () => {
  await useTestTable();
  await seedTeam({ team_id: 't-once' });
});

const audit = { action: 'team.update', entity_type: 'team', entity_id: 't-once' };
const set = (fields: Record<string, unknown>) => setFields(refs.team('t-once'), fields, () => new NotFoundError('team', 't-once'));

it('the same delete twice is written once', async () => {
  await seedTeam({ team_id: 't-gone' });
  const gone = deleteAny(refs.team('t-gone'));
  await adminStore().transact([gone, gone], actor, { ...audit, entity_id: 't-gone', action: 'team.delete' }, new Date());
  expect(await adminStore().getOwnRecord(refs.team('t-gone'))).toBeUndefined();
});

it.each([
  ['the same update twice (it would apply twice)', { team_alias: 'one' }, { team_alias: 'one' }],
  ['two different updates', { team_alias: 'one' }, { team_alias: 'other' }],
])('%s on one item: a 400 naming the problem, and nothing is written', async (_, a, b) => {
  const before = await scanTable();
  const error = await adminStore()
    .transact([set(a), set(b)], actor, audit, new Date())
    .catch((e: unknown) => e);
  expect(error).toBeInstanceOf(InvalidRequestError);
  expect((error as InvalidRequestError).status).toBe(400);
  expect((error as InvalidRequestError).message).toContain('one item twice');
  expect(await scanTable()).toEqual(before);
});
