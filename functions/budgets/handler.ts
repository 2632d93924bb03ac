import { createAdminHandler } from '../../lib/admin/http/handler.js';
import { budgetActions } from '../../lib/admin/actions/budgets.js';

export const handler = createAdminHandler('budgets', budgetActions);
