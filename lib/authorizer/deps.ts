/** The authorizer's collaborators, built once per instance from the configuration. */
import { JwtAuthenticator } from '../auth/jwt.js';
import type { IdentifyDeps } from '../auth/identify.js';
import type { CheckSettings } from '../checks/checks.js';
import { config, type Config } from '../config.js';
import { masterKey } from '../secrets.js';
import { entityReader } from '../store/index.js';
import { createUserIfAbsent } from '../store/users.js';

let deps: IdentifyDeps | undefined;

export function authorizerDeps(): IdentifyDeps {
  if (!deps) {
    const c = config();
    deps = {
      reader: entityReader(),
      masterKey,
      jwt: c.jwt.issuers.length > 0 ? new JwtAuthenticator(c.jwt) : undefined,
      upsertUser: c.jwt.upsertUser ? createUserIfAbsent : undefined,
    };
  }
  return deps;
}

/** Replaces the collaborators (tests inject a JWT authenticator with a preloaded JWKS). */
export function setAuthorizerDeps(next: IdentifyDeps | undefined): void {
  deps = next;
}

export function checkSettings(c: Config = config()): CheckSettings {
  return {
    maxBudget: c.maxBudget,
    budgetDuration: c.budgetDuration,
    enforceUserParam: c.enforceUserParam,
    jwtTeamRoutes: c.jwt.teamRoutes,
    jwtAdminRoutes: c.jwt.adminRoutes,
  };
}
