/**
 * A model's alias markers follow the aliases the model lists, also when changes race (found by
 * review: overlapping alias updates, or a delete racing one, left a marker no model lists), and a
 * name a key's `models` lists means a model or an access group, never both (found by review: a
 * key allowing group `cheap` reached alias `cheap -> o1-pro`).
 */
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { handler as models } from '../../../functions/models/handler.js';
import { refs } from '../../../lib/store/keys.js';
import { callApi } from '../../support/admin.js';
import { beforeNextWrite } from '../../support/races.js';
import { readItem } from '../../support/spend.js';
import { useTestTable } from '../../support/table.js';

const model = (name: string, info: Record<string, unknown> = {}) => ({
  model_name: name,
  litellm_params: { model: 'gpt-4o-2024-08-06', api_base: 'https://upstream.example/v1', api_key_secret: 'tollgate/openai' },
  model_info: { input_cost_per_million: 2.5, output_cost_per_million: 10, ...info },
});
const post = (path: string, body: Record<string, unknown>) => callApi(models, 'POST', path, body);
const marker = (alias: string) => readItem(refs.modelAlias(alias));

beforeAll(async () => {
  await useTestTable();
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe('model alias markers under racing changes', () => {
  it('two alias updates overlapping: the later-landing one is refused (409), no marker left over', async () => {
    await post('/model/new', model('race-m1'));
    beforeNextWrite(() => post('/model/update', { model_name: 'race-m1', model_info: { aliases: ['race-m1-b'] } }));
    const stale = await post('/model/update', { model_name: 'race-m1', model_info: { aliases: ['race-m1-a'] } });
    expect(stale.status).toBe(409);
    expect(stale.body.error.code).toBe('concurrent_update');
    expect(await readItem(refs.model('race-m1'))).toMatchObject({ aliases: ['race-m1-b'] });
    expect(await marker('race-m1-a')).toBeUndefined();
    expect(await marker('race-m1-b')).toMatchObject({ model_name: 'race-m1' });
  });

  it('a delete racing an alias update: refused (409), no marker left over', async () => {
    await post('/model/new', model('race-m2', { aliases: ['race-m2-a'] }));
    beforeNextWrite(() => post('/model/update', { model_name: 'race-m2', model_info: { aliases: ['race-m2-b'] } }));
    const stale = await post('/model/delete', { model_name: 'race-m2' });
    expect(stale.status).toBe(409);
    expect(stale.body.error.code).toBe('concurrent_update');
    expect((await post('/model/delete', { model_name: 'race-m2' })).status).toBe(200);
    expect(await marker('race-m2-a')).toBeUndefined();
    expect(await marker('race-m2-b')).toBeUndefined();
  });
});

describe('a name is a model or an access group, not both', () => {
  beforeAll(async () => {
    await post('/model/new', model('names-cheap-4o', { access_groups: ['names-cheap'], aliases: ['names-mini'] }));
  });

  const expectClash = (res: { status: number; body: any }, param: string) => {
    expect(res.status).toBe(400);
    expect(res.body.error.param).toBe(param);
  };

  it('/model/new: an alias named like an access group is refused, naming model_info.aliases', async () => {
    expectClash(await post('/model/new', model('names-o1-pro', { aliases: ['names-cheap'] })), 'model_info.aliases');
    expect(await readItem(refs.model('names-o1-pro'))).toBeUndefined();
  });

  it('/model/new: an access group named like an alias or a model is refused, naming model_info.access_groups', async () => {
    expectClash(await post('/model/new', model('names-x', { access_groups: ['names-mini'] })), 'model_info.access_groups');
    expectClash(await post('/model/new', model('names-y', { access_groups: ['names-cheap-4o'] })), 'model_info.access_groups');
    expectClash(await post('/model/new', model('names-z', { access_groups: ['names-z'] })), 'model_info.access_groups');
  });

  it('/model/new: its own alias and group the same name is refused', async () => {
    expectClash(await post('/model/new', model('names-w', { access_groups: ['names-w-g'], aliases: ['names-w-g'] })), 'model_info.aliases');
  });

  it('/model/new: a model named like an access group is refused, naming model_name', async () => {
    expectClash(await post('/model/new', model('names-cheap')), 'model_name');
  });

  it('/model/update: the same rules, for the aliases and groups it gives', async () => {
    expect((await post('/model/new', model('names-o3'))).status).toBe(200);
    expectClash(await post('/model/update', { model_name: 'names-o3', model_info: { aliases: ['names-cheap'] } }), 'model_info.aliases');
    expectClash(
      await post('/model/update', { model_name: 'names-o3', model_info: { access_groups: ['names-mini'] } }),
      'model_info.access_groups',
    );
    expect(await marker('names-cheap')).toBeUndefined();
    // A group shared with another model is what groups are for.
    expect((await post('/model/update', { model_name: 'names-o3', model_info: { access_groups: ['names-cheap'] } })).status).toBe(200);
  });
});
