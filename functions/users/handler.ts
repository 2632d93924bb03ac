import { userActions } from '../../lib/admin/actions/users.js';
import { createAdminHandler } from '../../lib/admin/http/handler.js';

export const handler = createAdminHandler('users', userActions);
