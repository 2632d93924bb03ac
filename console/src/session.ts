/**
 * The credential (master key, virtual key or JWT) lives in this tab's session storage only: it
 * is gone when the tab closes, never shared with other tabs, never written to local storage or a
 * cookie, and api.ts sends it to this origin only.
 */
const STORAGE_KEY = 'tollgate.credential';

export function credential(): string | null {
  return sessionStorage.getItem(STORAGE_KEY);
}

export function rememberCredential(value: string): void {
  sessionStorage.setItem(STORAGE_KEY, value);
}

export function forgetCredential(): void {
  sessionStorage.removeItem(STORAGE_KEY);
}
