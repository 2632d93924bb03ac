/** The one route table: matching concrete paths, API Gateway resources, and the admin API of issue 3. */
import { describe, expect, it } from 'vitest';
import { type FunctionName, type HttpMethod, matchRoute, pathExists, routeByResource, routes, routesOf } from '../../lib/routes.js';

const OPENAI_POST = [
  'chat/completions',
  'completions',
  'embeddings',
  'moderations',
  'responses',
  'rerank',
  'images/generations',
  'images/edits',
  'images/variations',
  'audio/speech',
  'audio/transcriptions',
  'audio/translations',
];
const STREAMING = ['chat/completions', 'completions', 'responses'];

/** Concrete calls to the OpenAI-compatible routes, with the resource each must match. */
const OPENAI_CALLS: [HttpMethod, string, string][] = [
  ...OPENAI_POST.map((p): [HttpMethod, string, string] => ['POST', `/${p}`, `/${p}`]),
  ['GET', '/models', '/models'],
  ['GET', '/models/gpt-4o', '/models/{model}'],
  ['GET', '/responses/resp_123', '/responses/{proxy+}'],
  ['DELETE', '/responses/resp_123', '/responses/{proxy+}'],
  ['GET', '/responses/resp_123/input_items', '/responses/{proxy+}'],
  ['GET', '/files', '/files'],
  ['POST', '/files', '/files'],
  ['GET', '/files/file-abc/content', '/files/{proxy+}'],
  ['DELETE', '/files/file-abc', '/files/{proxy+}'],
  ['GET', '/batches', '/batches'],
  ['POST', '/batches', '/batches'],
  ['POST', '/batches/batch_1/cancel', '/batches/{proxy+}'],
  ['GET', '/assistants', '/assistants'],
  ['POST', '/assistants', '/assistants'],
  ['DELETE', '/assistants/asst_1', '/assistants/{proxy+}'],
  ['POST', '/threads', '/threads'],
  ['POST', '/threads/th_1/messages', '/threads/{proxy+}'],
  ['GET', '/threads/th_1/runs/run_1', '/threads/{proxy+}'],
];

describe('OpenAI-compatible LLM routes, with and without /v1', () => {
  const calls = OPENAI_CALLS.flatMap(([m, path, resource]) => [
    [m, path, resource],
    [m, `/v1${path}`, `/v1${resource}`],
  ]) as [HttpMethod, string, string][];

  it.each(calls)('%s %s -> %s (llm)', (method, path, resource) => {
    const hit = matchRoute(method, path);
    expect(hit?.route).toMatchObject({ path: resource, group: 'llm', fn: 'llm' });
    expect(hit?.method).toBe(method);
  });

  it.each(OPENAI_POST)('POST /%s spends; streams only for chat, completions and responses', (p) => {
    for (const prefix of ['', '/v1']) {
      const route = matchRoute('POST', `${prefix}/${p}`)!.route;
      expect(route.spends).toBe(true);
      expect(route.streams).toBe(STREAMING.includes(p));
    }
  });

  it('only /models and /models/{model} do not spend among LLM routes', () => {
    const free = routes.filter((r) => r.group === 'llm' && !r.spends).map((r) => r.path);
    expect(free.sort()).toEqual(['/models', '/models/{model}', '/v1/models', '/v1/models/{model}']);
  });

  it('no route outside the LLM group spends', () => {
    expect(routes.filter((r) => r.group !== 'llm' && r.spends)).toEqual([]);
  });
});

describe('Azure-style /openai/deployments/{model}/...', () => {
  it.each([
    ['chat/completions', true],
    ['completions', true],
    ['embeddings', false],
  ])('POST .../%s: llm, spends, streams %s', (p, streams) => {
    const hit = matchRoute('POST', `/openai/deployments/gpt-4o/${p}`);
    expect(hit?.route).toMatchObject({ path: `/openai/deployments/{model}/${p}`, group: 'llm', fn: 'llm', spends: true, streams });
    expect(hit?.params).toEqual({ model: 'gpt-4o' });
  });

  it.each([
    ['my%20model', 'my model'],
    ['openai%2Fgpt-4o', 'openai/gpt-4o'],
    ['ft%3Agpt-4o%3Aorg', 'ft:gpt-4o:org'],
    ['caf%C3%A9', 'café'],
    ['bad%E0%A4%A', 'bad%E0%A4%A'],
  ])('the model parameter is URL-decoded: %s -> %s', (raw, model) => {
    expect(matchRoute('POST', `/openai/deployments/${raw}/chat/completions`)?.params.model).toBe(model);
  });

  it('an empty or slash-containing deployment does not match', () => {
    expect(matchRoute('POST', '/openai/deployments//chat/completions')).toBeUndefined();
    expect(matchRoute('POST', '/openai/deployments/a/b/chat/completions')).toBeUndefined();
  });
});

describe('Anthropic /v1/messages', () => {
  it('POST /v1/messages is an LLM route that spends and streams', () => {
    expect(matchRoute('POST', '/v1/messages')?.route).toMatchObject({ group: 'llm', fn: 'llm', spends: true, streams: true });
  });

  it('POST /messages is the same route without /v1, like every LLM path', () => {
    expect(matchRoute('POST', '/messages')?.route).toMatchObject({ group: 'llm', fn: 'llm', spends: true, streams: true, body: 'json' });
  });
});

describe('literal paths before parameterised ones', () => {
  it('GET /models is the list, not /models/{model} with an empty model', () => {
    expect(matchRoute('GET', '/models')).toMatchObject({ route: { path: '/models' }, params: {} });
    expect(matchRoute('GET', '/v1/models')).toMatchObject({ route: { path: '/v1/models' }, params: {} });
  });

  it('GET /models/gpt-4o is /models/{model}', () => {
    expect(matchRoute('GET', '/models/gpt-4o')).toMatchObject({ route: { path: '/models/{model}' }, params: { model: 'gpt-4o' } });
  });

  it('/v1/model/info is the admin route, not an LLM route', () => {
    expect(matchRoute('GET', '/v1/model/info')?.route).toMatchObject({ fn: 'models', group: 'info' });
  });
});

describe('{proxy+} routes take the rest of the path', () => {
  it('the proxy parameter holds every remaining segment', () => {
    expect(matchRoute('GET', '/v1/threads/th_1/runs/run_1/steps')?.params).toEqual({ proxy: 'th_1/runs/run_1/steps' });
  });

  it('the bare prefix is not the proxy route', () => {
    expect(matchRoute('GET', '/threads')).toBeUndefined(); // /threads is POST only
    expect(matchRoute('GET', '/responses')).toBeUndefined(); // /responses is POST only
  });
});

describe('path normalisation', () => {
  it.each(['/chat/completions/', '/chat/completions//', '/v1/models/'])('a trailing slash is ignored: %s', (path) => {
    const hit = matchRoute(path.includes('models') ? 'GET' : 'POST', path);
    expect(hit).toBeDefined();
    expect(hit?.path).toBe(path.replace(/\/+$/, ''));
  });

  it('the method is case-insensitive', () => {
    expect(matchRoute('post', '/chat/completions')?.method).toBe('POST');
  });

  it.each([
    ['GET', '/chat/completions'],
    ['PUT', '/key/generate'],
    ['DELETE', '/models'],
    ['HEAD', '/health'],
    ['OPTIONS', '/chat/completions'],
    ['BREW', '/chat/completions'],
  ])('a wrong method gives undefined: %s %s', (method, path) => {
    expect(matchRoute(method, path)).toBeUndefined();
  });

  it.each(['/', '', '/v2/chat/completions', '/chat/completionsX', '/CHAT/COMPLETIONS', '/chat', '/v1', '/key/generate/extra'])(
    'an unknown path gives undefined: %j',
    (path) => {
      expect(matchRoute('POST', path)).toBeUndefined();
      expect(matchRoute('GET', path)).toBeUndefined();
    },
  );
});

describe('pathExists (404 versus 405)', () => {
  it('true for a known path whatever the method', () => {
    expect(pathExists('/chat/completions')).toBe(true);
    expect(pathExists('/chat/completions/')).toBe(true);
    expect(pathExists('/openai/deployments/x/embeddings')).toBe(true);
    expect(pathExists('/files/file-1/content')).toBe(true);
  });

  it('false for an unknown path', () => {
    expect(pathExists('/nope')).toBe(false);
    expect(pathExists('/')).toBe(false);
  });
});

describe('routeByResource (API Gateway matched the resource already)', () => {
  it('finds a route by its pattern and method', () => {
    expect(routeByResource('POST', '/openai/deployments/{model}/chat/completions')?.fn).toBe('llm');
    expect(routeByResource('get', '/v1/models/{model}')?.path).toBe('/v1/models/{model}');
  });

  it('a method the route does not serve gives undefined', () => {
    expect(routeByResource('GET', '/chat/completions')).toBeUndefined();
    expect(routeByResource('HEAD', '/health')).toBeUndefined();
  });

  it('a concrete path is not a resource', () => {
    expect(routeByResource('POST', '/openai/deployments/gpt-4o/chat/completions')).toBeUndefined();
  });

  it('every route is found by its own resource for each of its methods', () => {
    for (const r of routes) for (const m of r.methods) expect(routeByResource(m, r.path)).toBe(r);
  });
});

describe('the table itself', () => {
  it('no path is listed twice', () => {
    const paths = routes.map((r) => r.path);
    expect(paths.filter((p, i) => paths.indexOf(p) !== i)).toEqual([]);
  });

  it('the health probes are the only public routes: /health and liveliness by the gateway, readiness by a function', () => {
    expect(routes.filter((r) => r.group === 'public')).toEqual([
      { path: '/health', methods: ['GET'], group: 'public', fn: 'health' },
      { path: '/health/liveliness', methods: ['GET'], group: 'public', fn: 'health' },
      { path: '/health/readiness', methods: ['GET'], group: 'public', fn: 'spend' },
    ]);
  });

  it('every LLM route is served by the llm function, and only LLM routes are', () => {
    expect(routes.filter((r) => (r.group === 'llm') !== (r.fn === 'llm'))).toEqual([]);
  });
});

/** The admin API of issue 3: path, method, function, action. */
const ADMIN: [string, HttpMethod, FunctionName, string][] = [
  ['/key/generate', 'POST', 'keys', 'generate'],
  ['/key/update', 'POST', 'keys', 'update'],
  ['/key/delete', 'POST', 'keys', 'delete'],
  ['/key/info', 'GET', 'keys', 'info'],
  ['/key/list', 'GET', 'keys', 'list'],
  ['/key/regenerate', 'POST', 'keys', 'regenerate'],
  ['/key/block', 'POST', 'keys', 'block'],
  ['/key/unblock', 'POST', 'keys', 'unblock'],
  ['/team/new', 'POST', 'teams', 'new'],
  ['/team/update', 'POST', 'teams', 'update'],
  ['/team/delete', 'POST', 'teams', 'delete'],
  ['/team/info', 'GET', 'teams', 'info'],
  ['/team/list', 'GET', 'teams', 'list'],
  ['/team/block', 'POST', 'teams', 'block'],
  ['/team/unblock', 'POST', 'teams', 'unblock'],
  ['/team/member_add', 'POST', 'teams', 'member_add'],
  ['/team/member_delete', 'POST', 'teams', 'member_delete'],
  ['/team/member_update', 'POST', 'teams', 'member_update'],
  ['/user/new', 'POST', 'users', 'new'],
  ['/user/update', 'POST', 'users', 'update'],
  ['/user/delete', 'POST', 'users', 'delete'],
  ['/user/info', 'GET', 'users', 'info'],
  ['/user/list', 'GET', 'users', 'list'],
  ['/organization/new', 'POST', 'organizations', 'new'],
  ['/organization/update', 'POST', 'organizations', 'update'],
  ['/organization/delete', 'POST', 'organizations', 'delete'],
  ['/organization/info', 'GET', 'organizations', 'info'],
  ['/organization/list', 'GET', 'organizations', 'list'],
  ['/organization/member_add', 'POST', 'organizations', 'member_add'],
  ...['/customer', '/end_user'].flatMap((base): [string, HttpMethod, FunctionName, string][] => [
    [`${base}/new`, 'POST', 'customers', 'new'],
    [`${base}/update`, 'POST', 'customers', 'update'],
    [`${base}/delete`, 'POST', 'customers', 'delete'],
    [`${base}/info`, 'GET', 'customers', 'info'],
    [`${base}/list`, 'GET', 'customers', 'list'],
    [`${base}/block`, 'POST', 'customers', 'block'],
    [`${base}/unblock`, 'POST', 'customers', 'unblock'],
  ]),
  ['/budget/new', 'POST', 'budgets', 'new'],
  ['/budget/update', 'POST', 'budgets', 'update'],
  ['/budget/delete', 'POST', 'budgets', 'delete'],
  ['/budget/info', 'GET', 'budgets', 'info'],
  ['/budget/list', 'GET', 'budgets', 'list'],
];

describe('every admin route of issue 3', () => {
  it.each(ADMIN)('%s %s -> %s.%s', (path, method, fn, action) => {
    const route = matchRoute(method, path)?.route;
    expect(route).toMatchObject({ path, fn, action });
    expect(['management', 'info']).toContain(route?.group);
    expect(routeByResource(method, path)).toBe(route);
  });

  it('`info` actions and the key and team lists (scoped to the caller) are info routes; the rest is management', () => {
    const infoLists = ['/key/list', '/team/list'];
    for (const [path, , , action] of ADMIN) {
      const group = routes.find((r) => r.path === path)?.group;
      expect([path, group]).toEqual([path, action === 'info' || infoLists.includes(path) ? 'info' : 'management']);
    }
  });

  it('routesOf lists a function’s routes', () => {
    expect(
      routesOf('keys')
        .map((r) => r.path)
        .sort(),
    ).toEqual(
      ADMIN.filter((a) => a[2] === 'keys')
        .map((a) => a[0])
        .sort(),
    );
    expect(routesOf('customers')).toHaveLength(14);
  });
});

describe('route facts: everything code needs to know about an LLM route is in the table', () => {
  const llm = routes.filter((r) => r.fn === 'llm');
  const fact = (method: string, path: string) => matchRoute(method, path)?.route;

  it('every LLM route says what its body is and where its model comes from', () => {
    for (const r of llm) {
      expect([r.path, r.body !== undefined, r.model !== undefined]).toEqual([r.path, true, true]);
    }
  });

  it('bodies that are JSON by definition, with or without /v1, and uploads that pass through', () => {
    for (const prefix of ['', '/v1']) {
      for (const p of [
        'chat/completions',
        'completions',
        'embeddings',
        'moderations',
        'responses',
        'rerank',
        'images/generations',
        'audio/speech',
      ]) {
        expect([p, fact('POST', `${prefix}/${p}`)?.body]).toEqual([p, 'json']);
      }
      for (const p of ['images/edits', 'images/variations', 'audio/transcriptions', 'audio/translations', 'files']) {
        expect([p, fact('POST', `${prefix}/${p}`)?.body]).toEqual([p, 'upload']);
      }
      // Stored objects' routes name other objects in their bodies: JSON, so every id is checked.
      for (const p of ['batches', 'assistants', 'threads', 'threads/t/runs', 'responses/r/cancel', 'files/f', 'batches/b/cancel']) {
        expect([p, fact('POST', `${prefix}/${p}`)?.body]).toEqual([p, 'json']);
      }
    }
    // Every LLM route that takes a body is one or the other; only uploads take forms.
    for (const r of routes.filter((x) => x.fn === 'llm' && x.methods.includes('POST')))
      expect([r.path, r.body]).toEqual([r.path, expect.stringMatching(/^(json|upload)$/)]);
    expect(fact('POST', '/v1/messages')?.body).toBe('json');
    expect(fact('POST', '/openai/deployments/gpt-4o/chat/completions')?.body).toBe('json');
  });

  it('streams that carry usage only when asked: chat and text completions, OpenAI and Azure paths', () => {
    const asks = llm
      .filter((r) => r.streamsUsage)
      .map((r) => r.path)
      .sort();
    expect(asks).toEqual(
      [
        '/chat/completions',
        '/completions',
        '/openai/deployments/{model}/chat/completions',
        '/openai/deployments/{model}/completions',
        '/v1/chat/completions',
        '/v1/completions',
      ].sort(),
    );
  });

  it('embeddings and moderations generate no output tokens; every other LLM route may', () => {
    const silent = llm
      .filter((r) => r.generates === false)
      .map((r) => r.path)
      .sort();
    expect(silent).toEqual(
      ['/embeddings', '/moderations', '/openai/deployments/{model}/embeddings', '/v1/embeddings', '/v1/moderations'].sort(),
    );
  });

  it('the model: in the body for LLM posts, in the path for Azure deployments and /models/{model}, none for stateful objects', () => {
    expect(fact('POST', '/v1/chat/completions')?.model).toBe('body');
    expect(fact('POST', '/openai/deployments/gpt-4o/embeddings')?.model).toBe('path');
    expect(fact('GET', '/v1/models/gpt-4o')?.model).toBe('path');
    expect(fact('GET', '/v1/files/file-1')?.model).toBe('none');
  });

  it('the registry answers /models and /models/{model} itself; Azure routes name their upstream path', () => {
    expect([fact('GET', '/models')?.answer, fact('GET', '/v1/models')?.answer]).toEqual(['model_list', 'model_list']);
    expect(fact('GET', '/v1/models/gpt-4o')?.answer).toBe('model_info');
    expect(llm.filter((r) => r.answer).length).toBe(4);
    expect(fact('POST', '/openai/deployments/d-1/completions')?.azureUpstreamPath).toBe('/completions');
    expect(fact('POST', '/openai/responses')?.azureUpstreamPath).toBe('/responses');
    expect(fact('GET', '/openai/responses/resp_1/input_items')?.azureUpstreamPath).toBe('/responses/{proxy+}');
    expect(fact('POST', '/openai/v1/responses/resp_1/cancel')?.azureUpstreamPath).toBe('/responses/{proxy+}');
    // An Azure route is its upstream path below `/openai` (and a deployment, for the deployment paths).
    for (const r of llm.filter((r) => r.azureUpstreamPath))
      expect([
        `/openai${r.azureUpstreamPath}`,
        `/openai/v1${r.azureUpstreamPath}`,
        `/openai/deployments/{model}${r.azureUpstreamPath}`,
      ]).toContain(r.path);
  });
});
