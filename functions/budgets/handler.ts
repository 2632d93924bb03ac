import { budgetActions } from '../../lib/admin/actions/budgets.js';
import { createAdminHandler } from '../../lib/admin/http/handler.js';

export const handler = createAdminHandler('budgets', budgetActions);
