/** The authorizer's collaborators, built once per instance from the configuration. */
import { JwtAuthenticator } from '../auth/jwt.js';
import type { IdentifyDeps } from '../auth/identify.js';
import { config } from '../config.js';
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
