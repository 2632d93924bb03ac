/** The sample events under functions/llm/events stay readable by the function. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { readCallerContext } from '../../../lib/authorizer/context.js';
import { parseLlmRequest } from '../../../lib/llm/request.js';

const dir = join(import.meta.dirname, '../../../functions/llm/events');
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

describe('sample events', () => {
  it('exist', () => expect(files.length).toBeGreaterThan(0));

  it.each(files)('%s parses, with an authorizer context', async (file) => {
    const event = JSON.parse(readFileSync(join(dir, file), 'utf8')) as APIGatewayProxyEvent;
    expect(readCallerContext(event.requestContext.authorizer)).toMatchObject({ principal: 'virtual_key', team_id: 't-search' });
    const req = await parseLlmRequest(event);
    expect(req.route.fn).toBe('llm');
    expect(req.requestId).toBe(event.requestContext.requestId);
  });
});
