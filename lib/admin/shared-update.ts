/** Spend set by an admin, as the item attributes an update writes. */
import { WINDOW_SPEND_PREFIX } from '../store/codec.js';
import { spendFields } from './budget.js';

/**
 * `spend` set by an admin, as item attributes: lifetime spend and, with a budget period, the
 * current window's counter (its `ws#<window>` attribute), so the budget check sees the value.
 */
export function spendAttributes(spend: number, duration: string | null | undefined, now: Date): Record<string, number> {
  const { spend: lifetime, window_spend } = spendFields(spend, duration, now);
  const out: Record<string, number> = { spend: lifetime };
  for (const [id, v] of Object.entries(window_spend ?? {})) out[WINDOW_SPEND_PREFIX + id] = v;
  return out;
}
