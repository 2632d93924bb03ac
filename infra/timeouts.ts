/**
 * How long each kind of function may run in AWS: the stack sets them, and the local gateway keeps
 * to them, so a call that would time out deployed times out locally too.
 */

/** API Gateway waits at most 10 s for an authorizer; a cold one with a JWKS fetch fits in 1024 MB. */
export const AUTHORIZER_TIMEOUT_SECONDS = 10;
/** A buffered Lambda proxy integration (every function but llm): API Gateway's integration timeout, 29 s. */
export const BUFFERED_FUNCTION_TIMEOUT_SECONDS = 29;
