/**
 * What a credential looks like: one detector for every place that must keep secrets out (audit
 * redaction, ids, request tags, error messages). A name says a value is secret (`api_key`,
 * `OpenAIKey`, `slackWebhookURL`, `pwd`); a value can say so itself (`sk-...`, `Basic ...`,
 * a JWT, a URL with `?token=...`, a long random run of letters and digits), also URL-encoded. Pure.
 */

/** What stands in for a secret that was removed. */
export const REDACTED = '[redacted]';

/**
 * Key and token shapes that are secret wherever they stand, in any text: also glued after a name
 * with `_` (`web_search_sk-...`), which a word boundary (`\b` takes `_` for a letter) missed.
 */
const CREDENTIAL =
  /(?<![A-Za-z0-9])(?:sk|rk|pk|sess)[-_][A-Za-z0-9_-]{16,}|(?<![A-Za-z0-9])AIza[A-Za-z0-9_-]{30,}|(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}\b|(?<![A-Za-z0-9])eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]+)?|(?<![A-Za-z0-9])(?:ghp|gho|ghu|ghs|ghr|github_pat|xox[abprse]|glpat|hf|npm)[-_][A-Za-z0-9_-]{8,}|(?<![A-Za-z0-9])bearer\s+[A-Za-z0-9._~+/=-]{8,}|https?:\/\/hooks\.slack\.com\/\S+|https?:\/\/[^\s/]*\b(?:webhook\.office|discord(?:app)?\.com\/api\/webhooks)\S*|https?:\/\/[^\s/@]+:[^\s/@]+@/i;
/** An Authorization header's value under any name: `Basic dXNlcjpw...`, `Token 9f8e...`, `Digest username=...`. */
const AUTH_HEADER_VALUE = /^\s*(?:(?:basic|token)\s+[A-Za-z0-9._~+/-]{8,}={0,2}\s*$|digest\s+[a-z]+=)/i;

/** Words that, as a name's last word, mark its value as a credential: `api_key`, `x-api-key`, `clientSecret`. */
const SECRET_WORDS = new Set([
  'key',
  'apikey',
  'apikeys',
  'token',
  'secret',
  'secrets',
  'password',
  'passwords',
  'passwd',
  'pwd',
  'passphrase',
  'authorization',
  'credential',
  'credentials',
  'cookie',
  'webhook',
  'webhooks',
  // `auth`, `x-auth`, `upstream.auth`; a `bearer` field (as SECRET_QUERY_NAMES already had `auth`).
  'auth',
  'bearer',
]);
/**
 * Last two words that do: `webhook_url`, `slackWebhookURL`, `access_tokens`, `api_keys` (a
 * plain `keys` is a list or a count: `deleted_keys`).
 */
const SECRET_PAIRS = new Set([
  'webhook url',
  'webhook uri',
  'api keys',
  'secret keys',
  'access keys',
  'private keys',
  'upstream keys',
  'provider keys',
  'access tokens',
  'refresh tokens',
  'auth tokens',
  'api tokens',
]);
/**
 * Names written as one word (`OPENAIAPIKEY`, `accesstoken`) that end with a credential: only
 * compounds, never a bare `key` (`monkey`, `turkey`).
 */
const SECRET_SUFFIX =
  /(?:apikeys?|accesskey|secretkey|privatekey|masterkey|signingkey|accesstokens?|refreshtokens?|authtokens?|apitokens?|idtoken|bearertoken|secrets?|passwords?|passwd|passphrase|authorization|credentials?|webhooks?|webhookurl)$/;

/** A name's words, lower case, trailing numbers dropped: `OpenAIKey2` -> open, ai, key. */
function wordsOf(name: string): string[] {
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .replace(/([A-Za-z])([0-9])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
  while (words.length > 0 && /^[0-9]+$/.test(words[words.length - 1] as string)) words.pop();
  return words;
}

/** Whether a field, header or parameter name says its value is a credential (any case, separator or number). */
export function isSecretName(name: string): boolean {
  const words = wordsOf(name);
  const last = words[words.length - 1];
  if (last === undefined) return false;
  if (SECRET_WORDS.has(last)) return true;
  if (words.length >= 2 && SECRET_PAIRS.has(`${words[words.length - 2]} ${last}`)) return true;
  return words.length === 1 && SECRET_SUFFIX.test(last);
}

/** Query parameters whose value is a credential even where the name is short: `?sig=`, `?code=`. */
const SECRET_QUERY_NAMES = new Set(['sig', 'signature', 'code', 'auth', 'access_token', 'client_secret', 'x-amz-signature']);
const isSecretQueryName = (name: string): boolean => SECRET_QUERY_NAMES.has(name.toLowerCase()) || isSecretName(name);

/** `?name=value` and `&name=value` in a URL (or any text). */
const QUERY_PARAM = /([?&;])([^=&#;\s?]+)=([^&#;\s]*)/g;

function decoded(s: string): string {
  if (!s.includes('%')) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Where the case or a digit changes: `TeamAnalytics2025Q4` -> Team, Analytics, 2025, Q, 4. */
const PIECES = /[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+/g;
/**
 * How much more often English uses a letter than random text does (the log of the ratio), by
 * group: `etaoinshr` are 70% of English letters and 35% of random ones, `jkqvxz` 2% and 23%.
 */
const LETTER_WEIGHTS: ReadonlyArray<readonly [RegExp, number]> = [
  [/[etaoinshr]/gi, 0.7],
  [/[bcdfglmpuwy]/gi, -0.4],
  [/[jkqvxz]/gi, -2.35],
];

/** A piece a name is made of: a word that can be said (`Analytics`, `api`), or a number such as a year (`2025`). */
function isWord(piece: string): boolean {
  if (piece.length < 3) return false;
  if (/^[0-9]+$/.test(piece)) return piece.length >= 4;
  return /^[A-Z]?[a-z]+$/.test(piece) && /[aeiouy]/i.test(piece) && !/[^aeiouy]{5}/i.test(piece);
}

/**
 * Random, not words: split where the case or a digit changes, a name falls into words
 * (`Prod/OpenAI/TeamAnalytics/PrimaryKey2025`, found by review to be refused as a key), random
 * text into short pieces or long ones no one can say (`wJalrXUtnFEMI` -> w, Jalr, X, Utn, FEMI).
 * A name is at least 60% words and its letters are English's (jkqvxz rare). Random letters and
 * digits pass for a name about once in 100,000 at 40 characters, 250,000 at 44, 500,000 at 48.
 */
function looksRandom(s: string): boolean {
  const wordChars = (s.match(PIECES) ?? []).filter(isWord).join('').length;
  const english = LETTER_WEIGHTS.reduce((sum, [letters, weight]) => sum + weight * (s.match(letters)?.length ?? 0), 0);
  return wordChars < 0.6 * s.length || english < 0;
}

/**
 * Runs of letters and digits long enough to be a key (a run ends at anything else: `-`, `_`, `/`).
 * Such a run with both cases and digits, random, is a credential wherever it stands: Tollgate's own
 * generated master key (48, infra/constructs/secrets), Groq's after `gsk_`. Lower-case hex (a
 * sha256, an OpenAI `resp_` id) and a CamelCase name (`TeamAnalyticsProductionWorkspace2025Q4`)
 * are not. Longer than 256 random bits in base64 (43): an Entra ID subject is that, random, and an
 * id (found by review: a floor of 32 refused Entra ID users).
 */
const LONG_RUN = /[A-Za-z0-9]{44,}/g;
const isRandomKey = (run: string): boolean => /[a-z]/.test(run) && /[A-Z]/.test(run) && /[0-9]/.test(run) && looksRandom(run);
const hasRandomKey = (s: string): boolean => (s.match(LONG_RUN) ?? []).some(isRandomKey);

/** Whether text is, or holds, a key or token by its shape alone (also URL-encoded). */
export function hasCredentialShape(s: string): boolean {
  for (const v of new Set([s, decoded(s), decoded(s.replace(/\+/g, ' '))])) {
    if (CREDENTIAL.test(v) || AUTH_HEADER_VALUE.test(v) || hasRandomKey(v)) return true;
  }
  return false;
}

/** Whether text carries a query parameter with a secret's name and a value (`?token=...`, `&key=AIza...`). */
function hasSecretQuery(s: string): boolean {
  for (const m of s.matchAll(QUERY_PARAM)) if (m[3] && m[3] !== REDACTED && isSecretQueryName(decoded(m[2] ?? ''))) return true;
  return false;
}

/** Whether text looks like a credential, or holds one: what no id, tag or message may be. */
export function looksLikeSecret(s: string): boolean {
  return hasCredentialShape(s) || hasSecretQuery(s);
}

/** An AWS secret access key's shape: 40 characters of base64's alphabet, both cases (random: awsSecretKey). */
const AWS_SECRET_SHAPE = /^(?=.*[a-z])(?=.*[A-Z])[A-Za-z0-9/+]{40}$/;

/** An AWS secret access key: its shape, and random, not words (looksRandom). */
const awsSecretKey = (s: string): boolean => AWS_SECRET_SHAPE.test(s) && looksRandom(s);
/** Separators a name's words are joined with; a key's random run has none. */
const NAME_SEPARATORS = /[/_.@:=-]/;
/** A random run this long, of letters and digits, is a key, not a word: Azure's 32 hex, Mistral's 32, Cohere's 40, Groq's after `gsk_`. */
const KEY_RUN = 32;

/**
 * Whether a value given as the name of a secret (a Secrets Manager secret's, an environment variable's) is a key
 * itself, pasted where its name belongs: any credential shape, an AWS secret access key, or a
 * run of 32 or more letters and digits mixed, which no name's word is (found by review: an Azure
 * key, 32 hex digits, was stored as a secret's name and shown back). Pure.
 */
export function looksLikeKeyNotName(s: string): boolean {
  if (looksLikeSecret(s) || awsSecretKey(s)) return true;
  return s.split(NAME_SEPARATORS).some((run) => run.length >= KEY_RUN && /[0-9]/.test(run) && /[A-Za-z]/.test(run));
}

/** Text with the values of its secret query parameters replaced: `?token=[redacted]`, the rest of the URL kept. */
export function redactQuery(s: string): string {
  if (!s.includes('=')) return s;
  return s.replace(QUERY_PARAM, (whole, sep: string, name: string, value: string) =>
    value !== '' && isSecretQueryName(decoded(name)) ? `${sep}${name}=${REDACTED}` : whole,
  );
}

/** How an error names input that looks like a credential: never the input itself. */
export const NOT_REPEATED = '(looks like a key or token: not repeated)';

/** Text for a message: any part shaped like a credential replaced, so an error never repeats one. */
export function withoutSecrets(s: string): string {
  if (!looksLikeSecret(s)) return s;
  // Word by word: the message around the secret still says what went wrong.
  const shapesOut = s
    .replace(new RegExp(CREDENTIAL.source, 'gi'), NOT_REPEATED)
    .replace(LONG_RUN, (run) => (isRandomKey(run) ? NOT_REPEATED : run));
  const out = redactQuery(shapesOut)
    .split(/(\s+|`)/)
    .map((part) => (looksLikeSecret(part) ? NOT_REPEATED : part))
    .join('');
  return looksLikeSecret(out) ? `a message that would repeat a key or token ${NOT_REPEATED}` : out;
}
