import { keyActions } from '../../lib/admin/actions/keys.js';
import { createAdminHandler } from '../../lib/admin/http/handler.js';

export const handler = createAdminHandler('keys', keyActions);
