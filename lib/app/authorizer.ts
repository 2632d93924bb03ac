/** The authorizer's dependencies (lib/app/wiring.ts is the seam). */
import type { IdentifyDeps } from '../auth/identify.js';
import { JwtAuthenticator } from '../auth/jwt.js';
import { config } from '../config.js';
import { createUserIfAbsent } from '../store/users.js';
import { dependency, documentClient, entityReader, masterKey } from './wiring.js';

export const jwtAuthenticator = /* @__PURE__ */ dependency('jwtAuthenticator', (c) =>
  c.jwt.issuers.length > 0 ? new JwtAuthenticator(c.jwt, undefined, { maxEntries: c.cache.maxEntries, ttlMs: c.cache.ttlMs }) : undefined,
);

export const upsertUser = /* @__PURE__ */ dependency('upsertUser', (c) =>
  c.jwt.upsertUser ? (userId: string) => createUserIfAbsent(documentClient(), c.tableName, entityReader(), userId) : undefined,
);

/** The authorizer's collaborators (lib/auth/identify). */
export const identifyDeps = (): IdentifyDeps => ({
  credentialHeader: config().credentialHeader,
  reader: entityReader(),
  masterKey: masterKey(),
  jwt: jwtAuthenticator(),
  upsertUser: upsertUser(),
});
