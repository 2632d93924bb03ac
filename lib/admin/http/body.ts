/**
 * An admin request's raw input, read so that it says one thing: a JSON object body in which no
 * object names a key twice, or a query string in which no parameter comes twice. `JSON.parse`
 * and API Gateway's `queryStringParameters` would keep the last of two, so
 * `{"max_budget": 1, "max_budget": 1000}` would be read as whichever a reader's parser keeps:
 * a 400 naming the field instead.
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { type JSONPath, visit } from 'jsonc-parser';
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

/** The path (`a.b.0.c`) of the first key an object of `text` (valid JSON) names twice, or undefined. */
export function duplicateKey(text: string): string | undefined {
  const open: Set<string>[] = [];
  let found: JSONPath | undefined;
  visit(text, {
    onObjectBegin: () => {
      open.push(new Set());
    },
    onObjectEnd: () => {
      open.pop();
    },
    onObjectProperty: (name, _offset, _length, _line, _column, path) => {
      const keys = open.at(-1) as Set<string>;
      if (keys.has(name)) found ??= [...path(), name];
      keys.add(name);
    },
  });
  return found?.map(String).join('.').slice(0, 256);
}
