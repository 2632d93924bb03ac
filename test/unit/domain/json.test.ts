/** How a body's opening is read, whatever its content type says (lib/domain/json). */
import { describe, expect, it } from 'vitest';
import { isObject, opensAsEvents, opensAsObject, parseJson } from '../../../lib/domain/json.js';

const b = (s: string) => Buffer.from(s, 'utf8');
const BOM = '\uFEFF';

describe('a body that opens as a JSON object', () => {
  it.each(['{}', '  {"a":1}', `${BOM}{"a":1}`, `${BOM}\r\n\t {"a":1}`, `${' '.repeat(10_000)}{`])('%j: yes', (s) =>
    expect(opensAsObject(b(s))).toBe(true),
  );
  it.each(['', '   ', '[{}]', 'data: {}', 'a={"b":1}', `${BOM}`, '\u00a0{'])('%j: no', (s) => expect(opensAsObject(b(s))).toBe(false));
});

describe('a body that opens as server-sent events', () => {
  it.each([
    'data: {}',
    'data:{}',
    'event: message\ndata: x',
    `${BOM}\n\ndata: x`,
    '  event:ping',
    'id: 1\ndata: x',
    'retry: 1000\n\ndata: x',
    ': keep-alive\n\ndata: x',
  ])('%j: yes', (s) => expect(opensAsEvents(b(s))).toBe(true));
  it.each(['', '{"data": 1}', 'dat', 'DATA: x', 'identity: x', 'hello'])('%j: no', (s) => expect(opensAsEvents(b(s))).toBe(false));
});

describe('parseJson and isObject', () => {
  it('parse, or nothing', () => {
    expect(parseJson('{"a":1}')).toEqual({ a: 1 });
    expect(parseJson(b('[1]'))).toEqual([1]);
    expect(parseJson('{')).toBeUndefined();
  });
  it.each([
    [{}, true],
    [[], false],
    [null, false],
    ['x', false],
  ])('%j is an object: %s', (v, yes) => expect(isObject(v)).toBe(yes));
});
