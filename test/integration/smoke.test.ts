import { beforeAll, describe, expect, it } from 'vitest';
import { handler } from '../../functions/authorizer/handler.js';
import { authorizerEvent, seedKey, seedTeam } from '../support/seed.js';
import { useTestTable } from '../support/table.js';

const invoke = (e: ReturnType<typeof authorizerEvent>) => handler(e, {} as never);

describe('authorizer smoke', () => {
  beforeAll(async () => {
    await useTestTable({ TOLLGATE_MASTER_KEY: 'sk-master-test-0123456789abcdef' });
  });

  it('allows a virtual key in a team', async () => {
    await seedTeam({ team_id: 't-1', max_budget: 10, spend: 1 });
    const { key } = await seedKey({ team_id: 't-1' });
    const res = await invoke(authorizerEvent({ headers: { Authorization: `Bearer ${key}` } }));
    expect(res.policyDocument.Statement[0]).toMatchObject({
      Effect: 'Allow',
      Resource: 'arn:aws:execute-api:us-east-1:123456789012:abc123/prod/*',
    });
    expect(res.context).toMatchObject({ principal: 'virtual_key', team_id: 't-1' });
  });

  it('answers Unauthorized for an unknown key', async () => {
    await expect(invoke(authorizerEvent({ headers: { authorization: 'Bearer sk-nope' } }))).rejects.toThrow('Unauthorized');
  });

  it('denies an over-budget team with a message naming it', async () => {
    await seedTeam({ team_id: 't-2', max_budget: 10, spend: 10 });
    const { key } = await seedKey({ team_id: 't-2' });
    const res = await invoke(authorizerEvent({ headers: { 'x-api-key': key } }));
    expect(res.policyDocument.Statement[0]?.Effect).toBe('Deny');
    expect(res.context).toMatchObject({ code: 'team_budget_exceeded', message: 'team `t-2` spent 10.00 of its 10.00 budget' });
  });

  it('lets the master key reach management routes', async () => {
    const res = await invoke(
      authorizerEvent({ resource: '/team/new', headers: { 'x-litellm-api-key': 'sk-master-test-0123456789abcdef' } }),
    );
    expect(res.policyDocument.Statement[0]?.Effect).toBe('Allow');
  });
});
