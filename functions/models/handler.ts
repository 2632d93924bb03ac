import { createAdminHandler } from '../../lib/admin/http/handler.js';
import { modelActions } from '../../lib/admin/actions/models.js';

export const handler = createAdminHandler('models', modelActions);
