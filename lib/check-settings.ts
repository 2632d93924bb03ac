/**
 * The settings the checks run with, from the configuration. The authorizer and the llm function
 * both use it; it lives apart from either so the llm bundle does not pull in the authorizer's
 * JWT verifier, and apart from lib/checks, which reads no configuration.
 */
import type { CheckSettings } from './checks/checks.js';
import { config, type Config } from './config.js';

export function checkSettings(c: Config = config()): CheckSettings {
  return {
    maxBudget: c.maxBudget,
    budgetDuration: c.budgetDuration,
    enforceUserParam: c.enforceUserParam,
    jwtTeamRoutes: c.jwt.teamRoutes,
    jwtAdminRoutes: c.jwt.adminRoutes,
  };
}
