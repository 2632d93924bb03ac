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
