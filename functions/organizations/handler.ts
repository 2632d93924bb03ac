import { createAdminHandler } from '../../lib/admin/handler.js';
import { organizationActions } from '../../lib/admin/organizations.js';

export const handler = createAdminHandler('organizations', organizationActions);
