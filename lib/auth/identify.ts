/**
 * Who is calling: the master key, a virtual key, or a JWT, and every entity the caller points to,
 * loaded through the cached reader. Unknown credentials are authentication errors (401); known
 * callers that are not allowed are left to the checks (403).
 */
import type { Caller, Role } from '../domain/caller.js';
import type { EntityState, KeyRecord, UserRecord } from '../domain/records.js';
import { InvalidApiKeyError, InvalidJwtError, PermissionDeniedError, SecretUnavailableError } from '../errors.js';
import type { EntityReader } from '../store/entities.js';
import { type CredentialSource, extractCredential, type HeaderBag, headerValues, type MultiHeaderBag } from './credentials.js';
import type { JwtAuthenticator } from './jwt.js';
import { digestMatchesSecret, looksLikeJwt, sha256, VIRTUAL_KEY_PREFIX } from './keys.js';

export interface IdentifyDeps {
  reader: EntityReader;
  masterKey: () => Promise<string | undefined>;
  /** Absent when no JWT issuer is configured: tokens are then unknown credentials. */
  jwt?: JwtAuthenticator | undefined;
  /** Creates a user a JWT names but the store does not know (TOLLGATE_JWT_UPSERT_USER). */
  upsertUser?: ((userId: string) => Promise<UserRecord>) | undefined;
  /**
   * The one header a credential is taken from (Config.credentialHeader): API Gateway caches the
   * decision by it. A credential found in another is refused (401): found by review, a request
   * with `x-litellm-api-key: Bearer` (empty) and a key in `Authorization` was decided for that key
   * and cached under `Bearer`, which anyone could then send.
   */
  credentialHeader?: CredentialSource | undefined;
}

export interface IdentifyRequest {
  headers: HeaderBag;
  multiValueHeaders?: MultiHeaderBag;
  /** Load the proxy-wide spend too (a proxy budget is set and the route spends). */
  needGlobal: boolean;
  now: number;
}

export async function identify(req: IdentifyRequest, deps: IdentifyDeps): Promise<Caller> {
  const credential = extractCredential(headerValues(req.headers, req.multiValueHeaders));
  if (deps.credentialHeader && credential.source !== deps.credentialHeader)
    throw new InvalidApiKeyError(`this deployment takes the credential in the \`${deps.credentialHeader}\` header only`);
  const token = credential.value;
  // One hash per request: it is compared with the master key's and, as hex, finds a virtual key.
  const digest = sha256(token);

  // Virtual keys and JWTs first: they never need the master key, so a Secrets Manager outage
  // (or a cold instance that cannot read it) leaves every virtual key and token working.
  if (token.startsWith(VIRTUAL_KEY_PREFIX)) {
    const key = await deps.reader.key(digest.toString('hex'));
    if (key) return identifyVirtualKey(key, req, deps);
  } else if (deps.jwt && looksLikeJwt(token)) {
    return identifyJwt(token, req, deps, deps.jwt);
  }
  if (await isMasterKey(digest, deps)) {
    const state = await deps.reader.state({ global: req.needGlobal });
    return { principal: 'master_key', role: 'proxy_admin', state };
  }
  throw new InvalidApiKeyError();
}

/** Whether the credential is the master key; the master key unreadable is a 503, never a 401 or an Allow. */
async function isMasterKey(digest: Buffer, deps: IdentifyDeps): Promise<boolean> {
  let master: string | undefined;
  try {
    master = await deps.masterKey();
  } catch {
    throw new SecretUnavailableError('the master key');
  }
  return master !== undefined && digestMatchesSecret(digest, master);
}

/** A replaced key stays valid only until the end of its grace period. */
const isRetired = (key: KeyRecord, now: number): boolean => !!key.replaced_by && !(key.grace_until && Date.parse(key.grace_until) >= now);

async function identifyVirtualKey(presented: KeyRecord, req: IdentifyRequest, deps: IdentifyDeps): Promise<Caller> {
  if (isRetired(presented, req.now)) throw new InvalidApiKeyError();
  // A copy in its grace period acts as the newest key: one budget, one set of counters and limits.
  const key = presented.replaced_by ? await deps.reader.newestKey(presented) : presented;
  if (!key) throw new InvalidApiKeyError();
  const keyHash = key.token;
  const teamId = key.team_id ?? undefined;
  const userId = key.user_id ?? undefined;
  const state = await deps.reader.state({ userId, teamId, orgId: key.organization_id ?? undefined, global: req.needGlobal });
  if (teamId && !state.team)
    throw new PermissionDeniedError('team_not_found', `team \`${teamId}\` of key \`${key.key_name}\` does not exist`);
  // An orphan (a cascade missed it) would otherwise act as a default internal user with no user budget.
  if (userId && !state.user)
    throw new PermissionDeniedError('user_not_found', `user \`${userId}\` of key \`${key.key_name}\` does not exist`);
  const role: Role = state.user?.user_role ?? 'internal_user';
  return {
    principal: 'virtual_key',
    role,
    userId,
    teamId,
    orgId: state.org?.organization_id ?? key.organization_id ?? undefined,
    keyHash,
    keyName: key.key_name,
    state: { ...state, key },
  };
}

async function identifyJwt(token: string, req: IdentifyRequest, deps: IdentifyDeps, jwt: JwtAuthenticator): Promise<Caller> {
  const payload = await jwt.verify(token);
  const id = jwt.identity(payload);
  if (id.isAdmin) return jwtAdmin(id.userId, await deps.reader.state({ userId: id.userId, global: req.needGlobal }));
  const state = await deps.reader.state({
    userId: id.userId,
    teamId: id.teamId,
    orgId: id.orgId,
    endUserId: id.endUserId,
    global: req.needGlobal,
  });
  // A user stored as a proxy admin is one too, whatever team the token names (same reason).
  if (state.user?.user_role === 'proxy_admin') return jwtAdmin(id.userId, state);
  if (id.teamId && !state.team) throw new PermissionDeniedError('team_not_found', `team \`${id.teamId}\` named by the JWT does not exist`);
  if (id.userId && !state.user && deps.upsertUser) state.user = await deps.upsertUser(id.userId);
  const role = jwtRole(state.user?.user_role, id.teamId);
  if (!role) throw new InvalidJwtError('the token names no known user and no team');
  return {
    principal: 'jwt',
    role,
    userId: id.userId,
    teamId: id.teamId,
    orgId: state.org?.organization_id ?? id.orgId,
    endUserId: id.endUserId,
    // A member record only counts for a known user.
    state: state.user ? state : { ...state, member: undefined },
  };
}

/**
 * A JWT of a proxy admin (the admin scope, or a user stored as one) is the proxy admin, as the
 * master key is and as LiteLLM has it: a team, organization or end user the token names (or the
 * default team) does not gate it. Else a blocked team, or an IdP group that is no team yet, would
 * lock every admin token out of the very routes that unblock or create it.
 */
function jwtAdmin(userId: string | undefined, state: EntityState): Caller {
  return { principal: 'jwt', role: 'proxy_admin', userId, state: { user: state.user, global: state.global } };
}

/**
 * Without the admin scope: a known user's stored role; else a token naming a team acts as that
 * team. A token with neither is nobody we know.
 */
function jwtRole(userRole: Role | undefined, teamId: string | undefined): Role | undefined {
  if (userRole) return userRole;
  if (teamId) return 'team';
  return undefined;
}
