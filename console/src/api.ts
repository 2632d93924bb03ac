/**
 * Every call the console makes goes through here: to Tollgate's own API on this origin (fetch in
 * `same-origin` mode: a credential can never leave for another host), with the signed-in
 * credential, and every refusal surfaced as an ApiError carrying the API's own message, type,
 * code and `param`. The console decides nothing: what a caller may see or do is the API's answer.
 */
import { credential } from './session';

export interface ApiErrorBody {
  message: string;
  type: string;
  param: string | null;
  code: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ApiErrorBody,
  ) {
    super(body.message);
  }

  /** The route does not exist on this deployment (API Gateway's unknown-path answer). */
  get routeMissing(): boolean {
    return this.status === 404 && this.body.code === 'route_not_found';
  }
}

/**
 * Where the API lives: the console is served at `<base>/ui/`, so whatever prefix is in front
 * of `/ui` (none locally and behind CloudFront, `/prod` on a bare API stage) is the API's too.
 */
export const apiBase = location.pathname.replace(/\/ui(?:\/.*)?$/, '');

export type Query = Record<string, string | number | boolean | null | undefined>;

export async function api<T>(method: 'GET' | 'POST', path: string, opts: { query?: Query; body?: unknown } = {}): Promise<T> {
  const url = new URL(apiBase + path, location.origin);
  for (const [k, v] of Object.entries(opts.query ?? {})) {
    if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, String(v));
  }
  const headers: Record<string, string> = { accept: 'application/json' };
  const token = credential();
  if (token) headers.authorization = `Bearer ${token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers,
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
      mode: 'same-origin',
      credentials: 'omit',
      cache: 'no-store',
      redirect: 'error',
    });
  } catch (e) {
    throw new ApiError(0, {
      message: `The API could not be reached (${(e as Error).message})`,
      type: 'network_error',
      param: null,
      code: 'network_error',
    });
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const e = (json as { error?: Partial<ApiErrorBody> } | undefined)?.error;
    throw new ApiError(res.status, {
      message: typeof e?.message === 'string' && e.message ? e.message : `${method} ${path} answered HTTP ${res.status}`,
      type: e?.type ?? 'http_error',
      param: e?.param ?? null,
      code: e?.code ?? String(res.status),
    });
  }
  return json as T;
}

export const get = <T>(path: string, query?: Query) => api<T>('GET', path, query ? { query } : {});
export const post = <T>(path: string, body: unknown) => api<T>('POST', path, { body });

/** Any thrown value as an ApiError (a bug in the console shows as a message, never a blank page). */
export const asApiError = (e: unknown): ApiError =>
  e instanceof ApiError
    ? e
    : new ApiError(0, { message: (e as Error)?.message ?? String(e), type: 'console_error', param: null, code: 'console_error' });
