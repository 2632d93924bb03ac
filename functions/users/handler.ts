import { createAdminHandler } from '../../lib/admin/http/handler.js';
import { userActions } from '../../lib/admin/actions/users.js';

export const handler = createAdminHandler('users', userActions);
