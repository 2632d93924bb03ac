/**
 * API Gateway's side of the contract: the decision as a Lambda authorizer result. An Allow
 * covers the whole stage, so a cached policy is never wrong for a sibling route; a Deny carries
 * the error for the ACCESS_DENIED gateway response to render; nobody-we-know is the
 * `Unauthorized` error that API Gateway turns into its 401.
 */
import type { APIGatewayAuthorizerResult } from 'aws-lambda';
import type { AuthorizerContextValue } from './context.js';
import type { Decision } from './decide.js';

/** `arn:aws:execute-api:region:account:api/stage/GET/path` -> `arn:...:api/stage/*` */
export function stageWideResource(methodArn: string): string {
  // The resource starts after the fifth colon: the path after it may hold colons (`ft:gpt-4o:org`).
  const parts = methodArn.split(':');
  if (parts.length < 6) return methodArn;
  const [apiId, stage] = parts.slice(5).join(':').split('/');
  if (!apiId || !stage) return methodArn;
  return `${parts.slice(0, 5).join(':')}:${apiId}/${stage}/*`;
}

/** Gateway response templates insert context values into JSON: keep them JSON-string safe. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what must not reach a JSON template.
const templateSafe = (s: string): string => s.replace(/["\\]/g, "'").replace(/[\u0000-\u001f]/g, ' ');

export class UnauthorizedError extends Error {
  constructor() {
    // The exact message API Gateway looks for to answer 401.
    super('Unauthorized');
    this.name = 'UnauthorizedError';
  }
}

export function toAuthorizerResult(decision: Decision, methodArn: string): APIGatewayAuthorizerResult {
  if (decision.effect === 'unauthorized') throw new UnauthorizedError();
  const resource = stageWideResource(methodArn);
  if (decision.effect === 'deny') {
    const e = decision.error;
    return {
      principalId: decision.caller?.keyHash ?? decision.caller?.userId ?? 'anonymous',
      policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Deny', Resource: resource }] },
      context: { message: templateSafe(e.message), type: e.type, code: e.code, status: e.status },
    };
  }
  const context: Record<string, AuthorizerContextValue> = { ...(decision.context ?? {}) };
  const caller = decision.caller;
  return {
    principalId: caller?.keyHash ?? caller?.userId ?? caller?.teamId ?? caller?.principal ?? 'anonymous',
    policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: resource }] },
    context,
  };
}
