import { createAdminHandler } from '../../lib/admin/handler.js';
import { teamActions } from '../../lib/admin/teams.js';

export const handler = createAdminHandler('teams', teamActions);
