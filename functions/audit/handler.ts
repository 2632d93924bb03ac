import { auditActions } from '../../lib/admin/audit-actions.js';
import { createAdminHandler } from '../../lib/admin/handler.js';

export const handler = createAdminHandler('audit', auditActions);
