/**
 * The one id rule (lib/domain/ids): what an identity provider hands out is accepted; two
 * spellings of one id, or two ids that look alike and differ, are refused.
 */
import { describe, expect, it } from 'vitest';
import { idProblem, isEntityId, MAX_ID_LENGTH } from '../../../lib/domain/ids.js';

describe('ids accepted', () => {
  it.each([
    'auth0|65f1c2',
    'google-oauth2|103475628',
    'ada.lovelace+tollgate@example.com',
    '0f8fad5b-d9cb-469f-a165-70867728950e',
    'CN=Ada, O=Example',
    'eu 1',
    'José',
    '山田太郎',
    'Ωμέγα',
    'user-🙂',
    'x'.repeat(MAX_ID_LENGTH),
  ])('%j', (id) => {
    expect(idProblem(id)).toBeUndefined();
    expect(isEntityId(id)).toBe(true);
  });
});

// Every format character (Unicode category Cf) that turns up in look-alike ids, and the separators.
const INVISIBLES: ReadonlyArray<[string, string]> = [
  ['U+00AD soft hyphen', '\u00ad'],
  ['U+061C Arabic letter mark', '\u061c'],
  ['U+180E Mongolian vowel separator', '\u180e'],
  ['U+200B zero-width space', '\u200b'],
  ['U+200C zero-width non-joiner', '\u200c'],
  ['U+200D zero-width joiner', '\u200d'],
  ['U+200E left-to-right mark', '\u200e'],
  ['U+200F right-to-left mark', '\u200f'],
  ['U+202A left-to-right embedding', '\u202a'],
  ['U+202B right-to-left embedding', '\u202b'],
  ['U+202C pop directional formatting', '\u202c'],
  ['U+202D left-to-right override', '\u202d'],
  ['U+202E right-to-left override', '\u202e'],
  ['U+2060 word joiner', '\u2060'],
  ['U+2061 function application', '\u2061'],
  ['U+2066 left-to-right isolate', '\u2066'],
  ['U+2067 right-to-left isolate', '\u2067'],
  ['U+2068 first strong isolate', '\u2068'],
  ['U+2069 pop directional isolate', '\u2069'],
  ['U+FEFF byte order mark', '\ufeff'],
  ['U+FFF9 interlinear annotation anchor', '\ufff9'],
  ['U+E0001 language tag', '\u{e0001}'],
  ['U+E0041 tag latin capital A', '\u{e0041}'],
];

describe('ids refused', () => {
  it.each(INVISIBLES)('an invisible %s, inside or at either end', (_, c) => {
    for (const id of [`al${c}ice`, `${c}alice`, `alice${c}`])
      expect(idProblem(id), JSON.stringify(id)).toBe('must not contain invisible formatting characters (zero-width, direction marks)');
  });

  it.each([
    ['U+2028 line separator', 'a\u2028b'],
    ['U+2029 paragraph separator', 'a\u2029b'],
    ['NUL', 'a\u0000b'],
    ['DEL', 'a\u007fb'],
    ['U+0085 next line', 'a\u0085b'],
  ])('a control character or separator: %s', (_, id) => {
    expect(idProblem(id)).toBe('must not contain control characters');
  });

  it.each([
    ['e and a combining acute accent', 'Jose\u0301'],
    ['the Angstrom sign (its NFC is Å)', '\u212bngstrom'],
    ['Hangul jamo that compose into one syllable', '\u1100\u1161'],
  ])('not in composed form (NFC): %s', (_, id) => {
    expect(idProblem(id)).toMatch(/^must be in Unicode's composed form \(NFC\)/);
    expect(idProblem(id.normalize('NFC'))).toBeUndefined();
  });

  it.each([
    ['empty', '', 'must not be empty'],
    ['too long', 'x'.repeat(MAX_ID_LENGTH + 1), `must be at most ${MAX_ID_LENGTH} characters`],
    ['white space around', ' alice', 'must not start or end with white space'],
    ['a no-break space around', 'alice\u00a0', 'must not start or end with white space'],
    ['a lone high surrogate', 'a\ud800b', 'must be well-formed Unicode (no lone surrogate)'],
    ['a lone low surrogate', 'a\udc00b', 'must be well-formed Unicode (no lone surrogate)'],
  ])('%s', (_, id, problem) => {
    expect(idProblem(id)).toBe(problem);
  });
});

describe('an id is never a secret (lib/domain/secrets)', () => {
  it.each([
    'sk-proj-Qw3rTy8UiOp2AsDfGhJkLzXcVbNm1234',
    'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1LTEifQ.c2lnbmF0dXJl',
    'Bearer abcdefgh12345678',
    'alice sk-Zq3vQm8TnR2pL5xW7yK9bC1dF4gH6jA0',
    'AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI',
  ])('%j is refused', (id) => {
    expect(idProblem(id)).toBe('must not be a secret: it looks like an API key or token');
  });

  it.each(['sk-learn-team', 'team-key-1', 'token-budget'])('%j is an id', (id) => expect(idProblem(id)).toBeUndefined());
});
