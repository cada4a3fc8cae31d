// json-parse.test.ts: the strict JSON parser agrees with JSON.parse on valid input, and reports
// positions and duplicate keys the same way on every Node version.
import { describe, expect, it } from 'vitest';
import { lineColumn, parseJson } from '../../agent/config/json-parse';

describe('parseJson', () => {
  it.each([
    '{}',
    '[]',
    '{"a":[1,-2.5e3,0,true,false,null,"x\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00"]}',
    ' \n\t{"nested":{"deep":[{"k":"v"}]},"n":1E+2} \n',
    '"just a string"',
    '{"__proto__":{"polluted":true}}',
  ])('matches JSON.parse on %s', (text) => {
    const r = parseJson(text);
    expect(r.ok).toBe(true);
    if (r.ok) expect(JSON.stringify(r.value)).toBe(JSON.stringify(JSON.parse(text)));
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('tolerates a byte order mark', () => {
    expect(parseJson('\ufeff{"a":1}')).toMatchObject({ ok: true, value: { a: 1 } });
  });

  it('reports duplicate keys with their object path', () => {
    const r = parseJson('{"a":1,"rules":[{"p":1},{"p":1,"p":2}],"a":3}');
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.duplicates).toEqual([
        { path: 'rules[1]', key: 'p' },
        { path: '', key: 'a' },
      ]);
      expect(r.value).toMatchObject({ a: 3, rules: [{ p: 1 }, { p: 2 }] });
    }
  });

  it.each([
    ['', 1, 1, 'unexpected end of input, expected a value'],
    ['{"a":1,}', 1, 8, 'unexpected character "}", expected a property name in double quotes'],
    ['{\n  "a": 1\n  "b": 2\n}', 3, 3, 'unexpected character "\\"", expected "," or "}" after property value'],
    ['[1 2]', 1, 4, 'unexpected character "2", expected "," or "]" after array element'],
    ['{"a" 1}', 1, 6, 'unexpected character "1", expected ":" after property name'],
    ['{"a": tru}', 1, 7, 'unexpected character "t", expected a value'],
    ['{"a": 01}', 1, 8, 'unexpected character "1", expected "," or "}" after property value'],
    ['{"a": "x\\d"}', 1, 9, 'invalid escape "\\\\d" in string (a regex backslash must be written as \\\\)'],
    ['{"a": "x\ny"}', 1, 9, 'unexpected control character U+000A in string (escape it)'],
    ['{"a": "abc', 1, 7, 'unterminated string'],
    ['{"a": 1} x', 1, 10, 'unexpected character "x", expected end of input after the top-level value'],
    ["{'a': 1}", 1, 2, 'unexpected character "\'", expected a property name in double quotes'],
    ['{"a": 1 // comment\n}', 1, 9, 'unexpected character "/", expected "," or "}" after property value'],
  ])('rejects %j at %d:%d', (text, line, column, message) => {
    expect(parseJson(text)).toEqual({ ok: false, line, column, message });
  });

  it('refuses absurd nesting without overflowing the stack', () => {
    const r = parseJson('['.repeat(100_000));
    expect(r).toMatchObject({ ok: false, message: 'nesting too deep' });
  });

  it('lineColumn counts from 1', () => {
    expect(lineColumn('ab\ncd', 0)).toEqual({ line: 1, column: 1 });
    expect(lineColumn('ab\ncd', 4)).toEqual({ line: 2, column: 2 });
  });
});
