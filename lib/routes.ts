/**
 * The one route table. The CDK stack and the local gateway are both built from it; the
 * authorizer reads a route's group from it to decide by role. Paths use API Gateway's
 * resource syntax: `{name}` for one segment, `{proxy+}` for the rest of the path.
 */

export type RouteGroup = 'llm' | 'info' | 'management' | 'public';

/** The function that serves a route: one Lambda each (public health is answered by the gateway). */
export type FunctionName =
  | 'llm'
  | 'keys'
  | 'teams'
  | 'users'
  | 'organizations'
  | 'customers'
  | 'budgets'
  | 'models'
  | 'audit'
  | 'spend'
  | 'health';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** Request bodies API Gateway passes base64-encoded (its binaryMediaTypes): uploads for audio, images, files. */
export const BINARY_MEDIA_TYPES: readonly string[] = ['multipart/form-data', 'application/octet-stream', 'audio/*', 'image/*'];

export interface RouteDef {
  path: string;
  methods: readonly HttpMethod[];
  group: RouteGroup;
  fn: FunctionName;
  /** The entity function's action (admin routes). */
  action?: string;
  /**
   * Management routes a non-admin may reach; the entity function then limits them to the
   * caller's own scope (own keys, teams the caller administers).
   */
  selfService?: boolean;
  /** LLM routes that spend money; `/models` does not, so the proxy budget never blocks it. */
  spends?: boolean;
  /** The answer may be a server-sent event stream (API Gateway response streaming). */
  streams?: boolean;
  /**
   * LLM routes: what the request body is. `json`: JSON by definition, read as JSON whatever its
   * content type says (a lenient upstream would), so its `model` and every object it names are
   * checked; any other body is a 400 (a form's fields would reach the upstream unchecked);
   * `upload`: a form or bytes (audio, images, files), passed on as they came unless they open as
   * a JSON object.
   */
  body?: 'json' | 'upload';
  /** LLM routes: where the model the call uses is named (`none`: the passthrough model serves it). */
  model?: 'body' | 'path' | 'none';
  /** A stream reports usage only when asked (`stream_options.include_usage`): Tollgate always asks. */
  streamsUsage?: boolean;
  /** The call produces output tokens (not embeddings or moderations): strict mode reserves for them. */
  generates?: boolean;
  /**
   * Its output is not text but audio (speech) or images: an answer without usage cannot be
   * counted, so its output is charged at the estimate's, never as the 0 tokens its text holds;
   * output tokens a usage does not split by kind are of this kind (priced at the model's audio or
   * image output price where it has one).
   */
  outputNotText?: 'audio' | 'image';
  /**
   * The call runs the tools it names (the Responses API): its `file_search` calls, billed per call,
   * which strict mode holds as many of as its `max_tool_calls` allows, and a stored `prompt`'s
   * tools, which strict mode refuses. Elsewhere (an assistant made with the tool) none runs.
   */
  runsHostedTools?: boolean;
  /** Answered by Tollgate from the model registry, not forwarded. */
  answer?: 'model_list' | 'model_info';
  /**
   * An Azure OpenAI path (`/openai/...`): the upstream path is this, its parameters filled from the
   * route's, and `api-version` is Azure's own, never passed on.
   */
  azureUpstreamPath?: string;
}

/** What an LLM POST path is: its answer may stream; its stream carries usage only when asked; its body is JSON by definition; it generates output tokens; it runs the hosted tools it names (file searches, a stored prompt's). */
interface PostFacts {
  streams?: true;
  usageOnRequest?: true;
  json?: true;
  noOutput?: true;
  notText?: 'audio' | 'image';
  hostedTools?: true;
}

/** Every LLM POST path with its facts, once. Paths without `json` take uploads (forms or bytes). */
const LLM_POSTS = new Map<string, PostFacts>([
  ['chat/completions', { streams: true, usageOnRequest: true, json: true }],
  ['completions', { streams: true, usageOnRequest: true, json: true }],
  ['embeddings', { json: true, noOutput: true }],
  ['moderations', { json: true, noOutput: true }],
  ['responses', { streams: true, json: true, hostedTools: true }],
  // Anthropic's Messages API (Claude Code, the Anthropic SDKs): served by Anthropic models and Claude on Bedrock.
  ['messages', { streams: true, json: true }],
  ['rerank', { json: true }],
  ['images/generations', { json: true, notText: 'image' }],
  ['images/edits', { notText: 'image' }],
  ['images/variations', { notText: 'image' }],
  ['audio/speech', { json: true, notText: 'audio' }],
  ['audio/transcriptions', {}],
  ['audio/translations', {}],
]);

/** The route facts of an LLM POST path (`model` says where its model is named). */
function postRoute(path: string, facts: PostFacts, model: 'body' | 'path'): RouteDef {
  return {
    path,
    methods: ['POST'],
    group: 'llm',
    fn: 'llm',
    spends: true,
    streams: facts.streams === true,
    body: facts.json ? 'json' : 'upload',
    model,
    streamsUsage: facts.usageOnRequest === true,
    generates: facts.noOutput !== true,
    ...(facts.notText ? { outputNotText: facts.notText } : {}),
    ...(facts.hostedTools ? { runsHostedTools: true } : {}),
  };
}

const ANY: readonly HttpMethod[] = ['GET', 'POST', 'DELETE'];

/**
 * An LLM route passed on as it came, its model the passthrough model's (or a stored object's
 * maker's). Its body is JSON (the ids it names are checked), but for file uploads.
 */
const passthroughRoute = (path: string, methods: readonly HttpMethod[], spends = true, body: 'json' | 'upload' = 'json'): RouteDef => ({
  path,
  methods,
  group: 'llm',
  fn: 'llm',
  spends,
  body,
  model: 'none',
  generates: true,
});

function openAiRoutes(prefix: '' | '/v1'): RouteDef[] {
  const post = [...LLM_POSTS].map(([p, facts]) => postRoute(`${prefix}/${p}`, facts, 'body'));
  const llm = (path: string, methods: readonly HttpMethod[], spends = true, body: 'json' | 'upload' = 'json'): RouteDef =>
    passthroughRoute(`${prefix}${path}`, methods, spends, body);
  return [
    ...post,
    { ...llm('/models', ['GET'], false), answer: 'model_list' },
    { ...llm('/models/{model}', ['GET'], false), model: 'path', answer: 'model_info' },
    llm('/responses/{proxy+}', ANY),
    llm('/files', ['GET', 'POST'], true, 'upload'),
    llm('/files/{proxy+}', ANY),
    llm('/batches', ['GET', 'POST']),
    llm('/batches/{proxy+}', ANY),
    llm('/assistants', ['GET', 'POST']),
    llm('/assistants/{proxy+}', ANY),
    llm('/threads', ['POST']),
    llm('/threads/{proxy+}', ANY),
  ];
}

/**
 * Azure OpenAI's paths, as the `openai` client's AzureOpenAI class calls them: the deployment
 * paths (the model in the path, the upstream path the tail), and the Responses API at
 * `/openai/responses[/...]` (an `endpoint`'s) and `/openai/v1/responses[/...]` (a v1 API
 * `baseURL`'s, which LiteLLM serves too); the deployment is in the body's `model`, and a stored
 * response is the same object as at `/v1/responses/{id}`.
 */
const azureRoutes: RouteDef[] = [
  ...['chat/completions', 'completions', 'embeddings'].map((p) => ({
    ...postRoute(`/openai/deployments/{model}/${p}`, LLM_POSTS.get(p) as PostFacts, 'path'),
    azureUpstreamPath: `/${p}`,
  })),
  ...['/openai', '/openai/v1'].flatMap((prefix) => [
    { ...postRoute(`${prefix}/responses`, LLM_POSTS.get('responses') as PostFacts, 'body'), azureUpstreamPath: '/responses' },
    { ...passthroughRoute(`${prefix}/responses/{proxy+}`, ANY), azureUpstreamPath: '/responses/{proxy+}' },
  ]),
];

type AdminSpec = [path: string, methods: readonly HttpMethod[], action: string, group?: RouteGroup, selfService?: boolean];

function admin(fn: FunctionName, specs: AdminSpec[]): RouteDef[] {
  return specs.map(([path, methods, action, group = 'management', selfService = false]) => ({
    path,
    methods,
    group,
    fn,
    action,
    ...(selfService ? { selfService } : {}),
  }));
}

const customerSpecs = (base: '/customer' | '/end_user'): AdminSpec[] => [
  [`${base}/new`, ['POST'], 'new'],
  [`${base}/update`, ['POST'], 'update'],
  [`${base}/delete`, ['POST'], 'delete'],
  [`${base}/info`, ['GET'], 'info', 'info'],
  [`${base}/list`, ['GET'], 'list'],
  [`${base}/block`, ['POST'], 'block'],
  [`${base}/unblock`, ['POST'], 'unblock'],
];

export const routes: readonly RouteDef[] = [
  { path: '/health', methods: ['GET'], group: 'public', fn: 'health' },
  { path: '/health/liveliness', methods: ['GET'], group: 'public', fn: 'health' },
  { path: '/health/readiness', methods: ['GET'], group: 'public', fn: 'spend' },
  ...openAiRoutes(''),
  ...openAiRoutes('/v1'),
  ...azureRoutes,
  ...admin('keys', [
    ['/key/generate', ['POST'], 'generate', 'management', true],
    ['/key/update', ['POST'], 'update', 'management', true],
    ['/key/delete', ['POST'], 'delete', 'management', true],
    ['/key/regenerate', ['POST'], 'regenerate', 'management', true],
    ['/key/info', ['GET'], 'info', 'info'],
    ['/key/list', ['GET'], 'list', 'info'],
    ['/key/block', ['POST'], 'block', 'management', true],
    ['/key/unblock', ['POST'], 'unblock', 'management', true],
  ]),
  ...admin('teams', [
    ['/team/new', ['POST'], 'new'],
    ['/team/update', ['POST'], 'update', 'management', true],
    ['/team/delete', ['POST'], 'delete'],
    ['/team/info', ['GET'], 'info', 'info'],
    ['/team/list', ['GET'], 'list', 'info'],
    ['/team/block', ['POST'], 'block'],
    ['/team/unblock', ['POST'], 'unblock'],
    ['/team/member_add', ['POST'], 'member_add', 'management', true],
    ['/team/member_delete', ['POST'], 'member_delete', 'management', true],
    ['/team/member_update', ['POST'], 'member_update', 'management', true],
  ]),
  ...admin('users', [
    ['/user/new', ['POST'], 'new'],
    ['/user/update', ['POST'], 'update'],
    ['/user/delete', ['POST'], 'delete'],
    ['/user/info', ['GET'], 'info', 'info'],
    ['/user/list', ['GET'], 'list'],
  ]),
  ...admin('organizations', [
    ['/organization/new', ['POST'], 'new'],
    ['/organization/update', ['POST', 'PATCH'], 'update'],
    ['/organization/delete', ['POST', 'DELETE'], 'delete'],
    ['/organization/info', ['GET', 'POST'], 'info', 'info'],
    ['/organization/list', ['GET'], 'list'],
    ['/organization/member_add', ['POST'], 'member_add'],
  ]),
  ...admin('customers', [...customerSpecs('/customer'), ...customerSpecs('/end_user')]),
  ...admin('budgets', [
    ['/budget/new', ['POST'], 'new'],
    ['/budget/update', ['POST'], 'update'],
    ['/budget/delete', ['POST'], 'delete'],
    ['/budget/info', ['GET', 'POST'], 'info', 'info'],
    ['/budget/list', ['GET'], 'list'],
  ]),
  ...admin('models', [
    ['/model/new', ['POST'], 'new'],
    ['/model/update', ['POST'], 'update'],
    ['/model/delete', ['POST'], 'delete'],
    ['/model/info', ['GET'], 'info', 'info'],
    ['/v1/model/info', ['GET'], 'info', 'info'],
  ]),
  ...admin('audit', [['/audit', ['GET'], 'list']]),
  ...admin('spend', [
    ['/spend/logs', ['GET'], 'logs', 'info'],
    ['/global/spend', ['GET'], 'global_spend', 'info'],
    ['/global/spend/report', ['GET'], 'global_report', 'info'],
    ['/spend/tags', ['GET'], 'tags', 'info'],
    ['/user/daily/activity', ['GET'], 'daily_activity', 'info'],
  ]),
];

export interface RouteMatch {
  route: RouteDef;
  method: HttpMethod;
  /** The concrete path that was called. */
  path: string;
  params: Record<string, string>;
}

interface Compiled {
  route: RouteDef;
  regex: RegExp;
  names: string[];
}

function compile(route: RouteDef): Compiled {
  const names: string[] = [];
  const pattern = route.path
    .split('/')
    .map((seg) => {
      const m = /^\{(\w+)(\+?)\}$/.exec(seg);
      if (!m) return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(m[1] as string);
      return m[2] === '+' ? '(.+)' : '([^/]+)';
    })
    .join('/');
  return { route, regex: new RegExp(`^${pattern}$`), names };
}

// Literal paths first so `/models` never loses to a parameterised sibling.
const compiled: Compiled[] = routes.map(compile).sort((a, b) => Number(a.names.length > 0) - Number(b.names.length > 0));
const byResource = new Map(routes.map((r) => [r.path, r]));

const isMethod = (m: string): m is HttpMethod => ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].includes(m);

/** Finds the route a concrete path names (the local gateway's job; API Gateway does it in AWS). */
export function matchRoute(method: string, path: string): RouteMatch | undefined {
  const m = method.toUpperCase();
  if (!isMethod(m)) return undefined;
  const clean = path.length > 1 ? path.replace(/\/+$/, '') : path;
  for (const c of compiled) {
    const hit = c.regex.exec(clean);
    if (!hit || !c.route.methods.includes(m)) continue;
    const params: Record<string, string> = {};
    c.names.forEach((n, i) => {
      params[n] = safeDecode(hit[i + 1] as string);
    });
    return { route: c.route, method: m, path: clean, params };
  }
  return undefined;
}

/** True when some route has this path, whatever its methods (for 405 versus 404). */
export function pathExists(path: string): boolean {
  const clean = path.length > 1 ? path.replace(/\/+$/, '') : path;
  return compiled.some((c) => c.regex.test(clean));
}

/** The route API Gateway matched, from the event's `resource` (the pattern). */
export function routeByResource(method: string, resource: string): RouteDef | undefined {
  const r = byResource.get(resource);
  const m = method.toUpperCase();
  return r && isMethod(m) && r.methods.includes(m) ? r : undefined;
}

/** decodeURIComponent, or the string as it is when it does not decode. */
export function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * Route lists: what a key's `allowed_routes` and the JWT route settings (TOLLGATE_JWT_TEAM_ROUTES,
 * TOLLGATE_JWT_ADMIN_ROUTES) name, in LiteLLM's words. An entry is a group (`llm`, `info`,
 * `management`, `public`, or LiteLLM's `llm_api_routes`, `openai_routes`, `info_routes`,
 * `management_routes`), or a path of this table (a trailing `/` is the same path), or a path
 * ending in `*` as a plain prefix (`/key/*`). An LLM path and its `/v1` twin are one route.
 * A plain path is read as LiteLLM reads each list: a key's `allowed_routes` as a prefix of whole
 * segments too (`/v1/files` covers `/v1/files/{proxy+}`), a JWT route setting exactly.
 */
export type RouteListReading = 'segments' | 'exact';

export const ROUTE_LIST_GROUPS: ReadonlyMap<string, RouteGroup> = new Map([
  ['llm', 'llm'],
  ['llm_api_routes', 'llm'],
  ['openai_routes', 'llm'],
  ['info', 'info'],
  ['info_routes', 'info'],
  ['management', 'management'],
  ['management_routes', 'management'],
  ['public', 'public'],
]);

/** The longest entry of a route list. */
export const MAX_ROUTE_ENTRY = 200;

/** A route's path and, for a route with a `/v1` twin in the table, the twin's. */
const formsOf = (path: string): string[] => {
  const twin = path.startsWith('/v1/') ? path.slice(3) : `/v1${path}`;
  return byResource.has(twin) ? [path, twin] : [path];
};

function pathCovers(entry: string, path: string, reading: RouteListReading): boolean {
  if (entry.endsWith('*')) return path.startsWith(entry.slice(0, -1));
  const e = entry.replace(/\/+$/, '');
  if (reading === 'exact') return path === e;
  // `/` (nothing left once trailing slashes go) is the prefix of every path.
  return e === '' || path === e || path.startsWith(`${e}/`);
}

/** Whether one entry of a route list covers a route of the table. */
export function routeEntryCovers(entry: string, route: RouteDef, reading: RouteListReading): boolean {
  const group = ROUTE_LIST_GROUPS.get(entry);
  if (group !== undefined) return route.group === group;
  return entry.startsWith('/') && formsOf(route.path).some((p) => pathCovers(entry, p, reading));
}

/** Whether a route list covers a route. */
export const routeListCovers = (list: readonly string[], route: RouteDef, reading: RouteListReading): boolean =>
  list.some((e) => routeEntryCovers(e, route, reading));

/**
 * Why a route list's entry cannot be taken, else undefined: it is neither a group nor a path, or
 * covers no route (a typo, a concrete path of a parameterised route, `LLM`), so it would
 * silently allow nothing. The message never repeats the entry (it may be a pasted secret).
 */
export function routeEntryProblem(entry: string, reading: RouteListReading, among: readonly RouteDef[] = routes): string | undefined {
  if (entry.length === 0 || entry.length > MAX_ROUTE_ENTRY) return `must be 1 to ${MAX_ROUTE_ENTRY} characters`;
  if (!ROUTE_LIST_GROUPS.has(entry) && !entry.startsWith('/'))
    return `must be a route group (${[...ROUTE_LIST_GROUPS.keys()].join(', ')}) or a path starting with \`/\``;
  if (!among.some((r) => routeEntryCovers(entry, r, reading))) return 'covers no route Tollgate serves';
  return undefined;
}

/** The entries of a JWT route setting that name nothing (routeEntryProblem). */
const unknownRouteNames = (entries: readonly string[]): string[] => entries.filter((e) => routeEntryProblem(e, 'exact') !== undefined);

/** What is wrong with a JWT route setting, for its configuration error (the environment and the CDK options alike), else undefined. */
export function jwtRouteListProblem(entries: readonly string[]): string | undefined {
  const unknown = unknownRouteNames(entries);
  if (unknown.length === 0) return undefined;
  return `names no route group (${[...ROUTE_LIST_GROUPS.keys()].join(', ')}) and no route path: ${unknown.map((u) => `\`${u.slice(0, 120)}\``).join(', ')}`;
}

/** Routes served by one function, for wiring infrastructure. */
export const routesOf = (fn: FunctionName): RouteDef[] => routes.filter((r) => r.fn === fn);
