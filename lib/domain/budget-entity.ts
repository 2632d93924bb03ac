/** Every kind of entity that may carry a budget, and how messages name it. */
export type BudgetEntity = 'key' | 'user' | 'team' | 'team_member' | 'organization' | 'end_user' | 'global';

export const BUDGET_ENTITIES: readonly BudgetEntity[] = ['key', 'user', 'team', 'team_member', 'organization', 'end_user', 'global'];

export const budgetEntityLabel: Readonly<Record<BudgetEntity, string>> = {
  key: 'key',
  user: 'user',
  team: 'team',
  team_member: 'team member',
  organization: 'organization',
  end_user: 'end user',
  global: 'the proxy',
};
