import { createAdminHandler } from '../../lib/admin/http/handler.js';
import { organizationActions } from '../../lib/admin/actions/organizations.js';

export const handler = createAdminHandler('organizations', organizationActions);
