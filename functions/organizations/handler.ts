import { organizationActions } from '../../lib/admin/actions/organizations.js';
import { createAdminHandler } from '../../lib/admin/http/handler.js';

export const handler = createAdminHandler('organizations', organizationActions);
