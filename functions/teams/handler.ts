import { createAdminHandler } from '../../lib/admin/http/handler.js';
import { teamActions } from '../../lib/admin/actions/teams.js';

export const handler = createAdminHandler('teams', teamActions);
