import { createAdminHandler } from '../../lib/admin/handler.js';
import { customerActions } from '../../lib/admin/customers.js';

export const handler = createAdminHandler('customers', customerActions);
