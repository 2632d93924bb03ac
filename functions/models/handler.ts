import { modelActions } from '../../lib/admin/actions/models.js';
import { createAdminHandler } from '../../lib/admin/http/handler.js';

export const handler = createAdminHandler('models', modelActions);
