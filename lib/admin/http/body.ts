/**
 * An admin request's raw input, read so that it says one thing: a JSON object body in which no
 * object names a key twice, or a query string in which no parameter comes twice. `JSON.parse`
 * and API Gateway's `queryStringParameters` would keep the last of two, so
 * `{"max_budget": 1, "max_budget": 1000}` would be read as whichever a reader's parser keeps:
 * a 400 naming the field instead.
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { createScanner, type SyntaxKind } from 'jsonc-parser';
import { InvalidRequestError } from '../../errors.js';

/** The request body (POST/PATCH/DELETE) or the query string (GET) as the action's raw input. */
export function apiInput(event: APIGatewayProxyEvent): unknown {
  if (event.httpMethod === 'GET') return queryInput(event);
  if (!event.body) return {};
  const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new InvalidRequestError('the request body is not valid JSON', 'invalid_body');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InvalidRequestError('the request body must be a JSON object', 'invalid_body');
  }
  const twice = duplicateKey(text);
  if (twice) throw new InvalidRequestError(`the request body gives \`${twice}\` twice: give each field once`, 'duplicate_field', twice);
  return parsed;
}

function queryInput(event: APIGatewayProxyEvent): Record<string, string | undefined> {
  for (const [name, values] of Object.entries(event.multiValueQueryStringParameters ?? {}))
    if ((values?.length ?? 0) > 1)
      throw new InvalidRequestError(
        `the query string gives \`${name.slice(0, 64)}\` ${values?.length} times: give it once`,
        'duplicate_field',
        name.slice(0, 64),
      );
  return { ...(event.queryStringParameters ?? {}) };
}

/** jsonc-parser's token kinds (a const enum, which this build cannot read at run time). */
const T = {
  OpenBrace: 1 as SyntaxKind,
  CloseBrace: 2 as SyntaxKind,
  OpenBracket: 3 as SyntaxKind,
  CloseBracket: 4 as SyntaxKind,
  Comma: 5 as SyntaxKind,
  String: 10 as SyntaxKind,
  EOF: 17 as SyntaxKind,
};

type Frame = { kind: 'object'; keys: Set<string>; key: string; expectKey: boolean } | { kind: 'array'; index: number };

/**
 * The path (`a.b.0.c`) of the first key an object of `text` (valid JSON) names twice, or
 * undefined. Token by token with a stack of its own, so no nesting depth can overflow the call
 * stack (the metadata depth bound is checked after this).
 */
export function duplicateKey(text: string): string | undefined {
  const scanner = createScanner(text, true);
  const frames: Frame[] = [];
  for (let t = scanner.scan(); t !== T.EOF; t = scanner.scan()) {
    const top = frames.at(-1);
    if (t === T.OpenBrace) frames.push({ kind: 'object', keys: new Set(), key: '', expectKey: true });
    else if (t === T.OpenBracket) frames.push({ kind: 'array', index: 0 });
    else if (t === T.CloseBrace || t === T.CloseBracket) frames.pop();
    else if (t === T.Comma && top) {
      if (top.kind === 'object') top.expectKey = true;
      else top.index++;
    } else if (t === T.String && top?.kind === 'object' && top.expectKey) {
      const name = scanner.getTokenValue();
      if (top.keys.has(name)) {
        const path = frames.slice(0, -1).map((f) => (f.kind === 'object' ? f.key : String(f.index)));
        return [...path, name].join('.').slice(0, 256);
      }
      top.keys.add(name);
      top.key = name;
      top.expectKey = false;
    }
  }
  return undefined;
}
