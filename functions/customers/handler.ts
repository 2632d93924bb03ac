import { createAdminHandler } from '../../lib/admin/http/handler.js';
import { customerActions } from '../../lib/admin/actions/customers.js';

export const handler = createAdminHandler('customers', customerActions);
