/**
 * Primary keys of the single table. Everything the authorizer reads is addressed by PK/SK,
 * so reads on the authorization path never touch an index.
 */

export interface ItemRef {
  PK: string;
  SK: string;
}

export const refKey = (ref: ItemRef): string => `${ref.PK}|${ref.SK}`;

export const refs = {
  key: (tokenHash: string): ItemRef => ({ PK: `KEY#${tokenHash}`, SK: 'KEY' }),
  user: (userId: string): ItemRef => ({ PK: `USER#${userId}`, SK: 'USER' }),
  team: (teamId: string): ItemRef => ({ PK: `TEAM#${teamId}`, SK: 'TEAM' }),
  member: (teamId: string, userId: string): ItemRef => ({ PK: `TEAM#${teamId}`, SK: `MEMBER#${userId}` }),
  org: (orgId: string): ItemRef => ({ PK: `ORG#${orgId}`, SK: 'ORG' }),
  endUser: (endUserId: string): ItemRef => ({ PK: `END_USER#${endUserId}`, SK: 'END_USER' }),
  budget: (budgetId: string): ItemRef => ({ PK: `BUDGET#${budgetId}`, SK: 'BUDGET' }),
  model: (modelName: string): ItemRef => ({ PK: `MODEL#${modelName}`, SK: 'MODEL' }),
  globalSpend: (): ItemRef => ({ PK: 'GLOBAL', SK: 'SPEND' }),
  settlement: (requestId: string): ItemRef => ({ PK: `REQ#${requestId}`, SK: 'SETTLEMENT' }),
} as const;

/** Index names: GSI1 lists one kind of item; GSI2 lists by owning user; GSI3 by parent team or org. */
export const INDEX = { byKind: 'GSI1', byUser: 'GSI2', byParent: 'GSI3' } as const;
