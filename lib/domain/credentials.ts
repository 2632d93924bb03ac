/** The headers a credential is read from, in precedence order (lib/auth/credentials reads them). Pure. */
export type CredentialSource = 'x-litellm-api-key' | 'authorization' | 'api-key' | 'x-api-key';
export const CREDENTIAL_HEADERS: readonly CredentialSource[] = ['x-litellm-api-key', 'authorization', 'api-key', 'x-api-key'];
