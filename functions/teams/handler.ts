import { teamActions } from '../../lib/admin/actions/teams.js';
import { createAdminHandler } from '../../lib/admin/http/handler.js';

export const handler = createAdminHandler('teams', teamActions);
