/** Spend set by an admin, as the item attributes an update writes. */

/**
 * `spend` set by an admin, as item attributes: lifetime spend and, with a budget period, the
 * current window's counter, each with its committed twin (strict mode), so the budget check and
 * the reservations see the value. Defined beside spendFields in lib/admin/budget.
 */
export { spendAttributes } from './budget.js';
