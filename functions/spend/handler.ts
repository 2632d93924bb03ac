/**
 * The spend function: spend logs and reports (lib/admin/actions/spend.ts), and the public
 * readiness probe (`/health/readiness`: the table answers), which says nothing of the configuration.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { spendActions } from '../../lib/admin/actions/spend.js';
import { createAdminHandler } from '../../lib/admin/http/handler.js';
import { readiness } from '../../lib/health.js';

const admin = createAdminHandler('spend', spendActions);

export const handler = async (event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult | unknown> =>
  (event as { resource?: string }).resource === '/health/readiness' ? readiness() : admin(event as never, context);
