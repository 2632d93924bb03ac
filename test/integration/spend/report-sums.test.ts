/**
 * Report totals are sums of exact amounts (found by review): the rollup rows' dollars were added
 * as binary fractions, so a month of a large proxy's spend (here 30 days, about 844,541 dollars)
 * came out a nano-dollar off the sum of its requests, and `/user/info`'s `keys_total_spend` off the
 * sum of its keys. Amounts are added in nano-dollars.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as spendHandler } from '../../../functions/spend/handler.js';
import { handler as usersHandler } from '../../../functions/users/handler.js';
import { spendLogStore } from '../../../lib/app/index.js';
import { dollarsToNanos } from '../../../lib/domain/cost.js';
import { callApi } from '../../support/admin.js';
import { seedKey, seedUser } from '../../support/seed.js';
import { spendLogFixture } from '../../support/spend-log.js';
import { useTestTable } from '../../support/table.js';

const SPENDS = [
  49558.219336904, 3328.28760147, 7967.962324619, 46803.31647396, 45575.761795043, 43319.845199584, 38782.358169555, 27155.256271362,
  27330.446243286, 32119.512557983, 19703.912734985, 39206.266403198, 25460.863113403, 46499.013900756, 16952.37159729, 46514.844894409,
  9791.231155395, 47298.194468021, 6436.556577682, 8777.947723865, 33098.927140235, 42394.852638244, 45831.704139709, 22499.299049377,
  2802.300453186, 21161.486208438, 37869.828939437, 10212.153196334, 36431.26040697, 3657.662868499,
];
const day = (i: number) => `2026-10-${String(i + 1).padStart(2, '0')}`;
const exact = SPENDS.reduce((t, s) => t + dollarsToNanos(s), 0);

beforeAll(async () => {
  await useTestTable();
  await seedUser({ user_id: 'big', user_role: 'internal_user' });
  for (const spend of SPENDS) await seedKey({ user_id: 'big', spend });
  await spendLogStore().applyMany(
    SPENDS.map((spend, i) => spendLogFixture({ request_id: `big-${i}`, user: 'big', spend, startTime: `${day(i)}T12:00:00.000Z` })),
  );
});

describe('a report total is the exact sum of its requests', () => {
  it("a user's activity over a month", async () => {
    const res = await callApi(spendHandler, 'GET', '/user/daily/activity', { user_id: 'big', start_date: day(0), end_date: day(29) });
    expect(res.status).toBe(200);
    expect(dollarsToNanos(res.body.metadata.total_spend)).toBe(exact);
    expect(dollarsToNanos(res.body.metadata.spend)).toBe(exact);
  });

  it("/user/info's keys_total_spend over the user's keys", async () => {
    const res = await callApi(usersHandler, 'GET', '/user/info', { user_id: 'big' });
    expect(dollarsToNanos(res.body.user_info.keys_total_spend)).toBe(exact);
  });
});
