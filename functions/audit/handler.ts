import { auditActions } from '../../lib/admin/actions/audit.js';
import { createAdminHandler } from '../../lib/admin/http/handler.js';

export const handler = createAdminHandler('audit', auditActions);
