/**
 * Bundled in place of `@aws-sdk/credential-provider-node` (see infra/bundling.ts): in Lambda the
 * function role's credentials are always in the environment, so the SDK's full chain (profiles,
 * SSO, STS web identity, IMDS: ~80 KB minified) is dead weight in every cold start. Local mode
 * and tests run unbundled and keep the SDK's own chain.
 */
import { fromEnv } from '@aws-sdk/credential-provider-env';

export const defaultProvider = (_init?: unknown) => fromEnv();
