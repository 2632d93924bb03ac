import { customerActions } from '../../lib/admin/actions/customers.js';
import { createAdminHandler } from '../../lib/admin/http/handler.js';

export const handler = createAdminHandler('customers', customerActions);
