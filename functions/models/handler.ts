import { createAdminHandler } from '../../lib/admin/handler.js';
import { modelActions } from '../../lib/admin/models.js';

export const handler = createAdminHandler('models', modelActions);
