/** JSON values as the code reads them: one definition of "a JSON object" and of "parse, or nothing". Pure. */

/** Whether a value is a JSON object (not null, not an array). */
export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The parsed value, or undefined when the text is no JSON. */
export function parseJson(text: Buffer | string): unknown {
  try {
    return JSON.parse(typeof text === 'string' ? text : text.toString('utf8'));
  } catch {
    return undefined;
  }
}

const isJsonBlank = (c: number | undefined) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

/** Where a body's text begins: after a UTF-8 byte order mark and JSON whitespace, however much. */
function textStart(bytes: Buffer): number {
  let i = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  while (i < bytes.length && isJsonBlank(bytes[i])) i++;
  return i;
}

/** True when a body's text opens as a JSON object (`{`), whatever its content type says. */
export const opensAsObject = (bytes: Buffer): boolean => bytes[textStart(bytes)] === 0x7b;

/** The fields an event stream's first line may open with (a line opening with `:` is a comment, a keep-alive). */
const EVENT_FIELDS = ['data:', 'event:', 'id:', 'retry:', ':'];

/** True when a body's text opens as server-sent events (any of their fields, or a comment), whatever its content type says. */
export function opensAsEvents(bytes: Buffer): boolean {
  const start = textStart(bytes);
  const head = bytes.subarray(start, start + 6).toString('latin1');
  return EVENT_FIELDS.some((f) => head.startsWith(f));
}
