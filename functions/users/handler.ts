import { createAdminHandler } from '../../lib/admin/handler.js';
import { userActions } from '../../lib/admin/users.js';

export const handler = createAdminHandler('users', userActions);
