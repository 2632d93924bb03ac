import { createAdminHandler } from '../../lib/admin/http/handler.js';
import { keyActions } from '../../lib/admin/actions/keys.js';

export const handler = createAdminHandler('keys', keyActions);
