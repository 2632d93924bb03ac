/**
 * Entity ids: users, teams, organizations, end users, budgets, key aliases. One rule wherever an
 * id enters (the admin API, JWT claims, the body's `user`), so every id Tollgate can create the
 * admin API accepts (IdP subjects like `auth0|65f1c2`, `google-oauth2|1034`, emails, UUIDs), and
 * no two spellings name one entity: white space around an id or a control character in it is
 * refused, never trimmed silently. Nor may two ids look alike and differ: invisible formatting
 * characters (zero-width, direction marks and overrides, the BOM, soft hyphens, the word
 * joiner) and line or paragraph separators are refused, and an id is in Unicode's composed form
 * (NFC), so `José` typed with a combining accent is not a second José. And an id is never a
 * secret: a key or token put where an id goes (`"user": "sk-..."`) would be stored, logged and
 * listed as a name, so it is refused (lib/domain/secrets).
 */
import { looksLikeSecret } from './secrets.js';

export const MAX_ID_LENGTH = 256;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what an id may not hold.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
/** Unicode's format characters (category Cf): invisible, or reordering the text around them. */
const INVISIBLE = /\p{Cf}/u;
/** Half of a UTF-16 surrogate pair without its other half. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** What is wrong with an id, or undefined when it is one. */
export function idProblem(id: string): string | undefined {
  if (id.length === 0) return 'must not be empty';
  if (id.length > MAX_ID_LENGTH) return `must be at most ${MAX_ID_LENGTH} characters`;
  // Before white space: trim() takes a BOM for white space.
  if (INVISIBLE.test(id)) return 'must not contain invisible formatting characters (zero-width, direction marks)';
  if (id.trim() !== id) return 'must not start or end with white space';
  if (CONTROL.test(id)) return 'must not contain control characters';
  // A lone surrogate is no text: stored as U+FFFD, two such ids would name one entity.
  if (LONE_SURROGATE.test(id)) return 'must be well-formed Unicode (no lone surrogate)';
  if (id.normalize('NFC') !== id) return "must be in Unicode's composed form (NFC), as `é` rather than `e` and a combining accent";
  if (looksLikeSecret(id)) return 'must not be a secret: it looks like an API key or token';
  return undefined;
}

export const isEntityId = (id: string): boolean => idProblem(id) === undefined;
