import { createAdminHandler } from '../../lib/admin/handler.js';
import { budgetActions } from '../../lib/admin/budgets.js';

export const handler = createAdminHandler('budgets', budgetActions);
