import { createAdminHandler } from '../../lib/admin/handler.js';
import { keyActions } from '../../lib/admin/keys.js';

export const handler = createAdminHandler('keys', keyActions);
