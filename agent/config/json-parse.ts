// json-parse.ts: a small strict JSON (RFC 8259) parser for rule files. It exists for two things
// JSON.parse cannot do: error positions as "line L, column C" with the same wording on every Node
// version, and reporting duplicate object keys (JSON.parse silently keeps the last one).
// Objects come back with a null prototype, so keys like "__proto__" are plain data.

export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export interface DuplicateKey {
  /** Field path of the object holding the key ("" for the top level), e.g. "rules[2]". */
  readonly path: string;
  readonly key: string;
}

export type JsonParseResult =
  | { readonly ok: true; readonly value: JsonValue; readonly duplicates: readonly DuplicateKey[] }
  | { readonly ok: false; readonly message: string; readonly line: number; readonly column: number };

/** Nesting deeper than this is refused (rule files are 3 levels deep). */
const MAX_DEPTH = 64;

class JsonSyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

// JSON forbids raw control characters inside strings; the class excludes them on purpose.
// eslint-disable-next-line no-control-regex
const STRING_RE = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const NUMBER_RE = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

export function parseJson(text: string): JsonParseResult {
  const duplicates: DuplicateKey[] = [];
  let pos = 0;
  if (text.charCodeAt(0) === 0xfeff) pos = 1; // tolerate a UTF-8 byte order mark

  const skipWs = (): void => {
    for (;;) {
      const c = text.charCodeAt(pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) pos++;
      else return;
    }
  };

  const describe = (at: number): string => {
    if (at >= text.length) return 'unexpected end of input';
    const cp = text.codePointAt(at) ?? 0;
    if (cp < 0x20 || cp === 0x7f)
      return `unexpected control character U+${cp.toString(16).padStart(4, '0').toUpperCase()}`;
    return `unexpected character ${JSON.stringify(String.fromCodePoint(cp))}`;
  };

  const fail = (expected: string, at = pos): never => {
    throw new JsonSyntaxError(`${describe(at)}, expected ${expected}`, at);
  };

  const parseString = (): string => {
    STRING_RE.lastIndex = pos;
    const m = STRING_RE.exec(text);
    if (m === null) {
      // Find where the string goes wrong, for the position.
      let i = pos + 1;
      for (; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (c === 0x22) break;
        if (c < 0x20) throw new JsonSyntaxError(`${describe(i)} in string (escape it)`, i);
        if (c === 0x5c) {
          const n = text[i + 1];
          if (n === 'u') {
            if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
              throw new JsonSyntaxError('invalid \\u escape in string', i);
            }
            i += 5;
          } else if (n !== undefined && '"\\/bfnrt'.includes(n)) {
            i++;
          } else {
            throw new JsonSyntaxError(
              `invalid escape ${JSON.stringify('\\' + (n ?? ''))} in string (a regex backslash must be written as \\\\)`,
              i,
            );
          }
        }
      }
      throw new JsonSyntaxError('unterminated string', pos);
    }
    pos += m[0].length;
    return JSON.parse(m[0]) as string;
  };

  const parseValue = (path: string, depth: number): JsonValue => {
    skipWs();
    const c = text[pos];
    switch (c) {
      case '{':
        return parseObject(path, depth + 1);
      case '[':
        return parseArray(path, depth + 1);
      case '"':
        return parseString();
      case 't':
      case 'f':
      case 'n': {
        for (const [word, value] of [
          ['true', true],
          ['false', false],
          ['null', null],
        ] as const) {
          if (text.startsWith(word, pos)) {
            pos += word.length;
            return value;
          }
        }
        return fail('a value');
      }
      default: {
        NUMBER_RE.lastIndex = pos;
        const m = c === '-' || (c !== undefined && c >= '0' && c <= '9') ? NUMBER_RE.exec(text) : null;
        if (m === null) return fail('a value');
        pos += m[0].length;
        return Number(m[0]);
      }
    }
  };

  const parseObject = (path: string, depth: number): JsonObject => {
    if (depth > MAX_DEPTH) throw new JsonSyntaxError('nesting too deep', pos);
    pos++; // {
    const obj: JsonObject = Object.create(null) as JsonObject;
    skipWs();
    if (text[pos] === '}') {
      pos++;
      return obj;
    }
    for (;;) {
      skipWs();
      if (text[pos] !== '"') fail('a property name in double quotes');
      const key = parseString();
      skipWs();
      if (text[pos] !== ':') fail('":" after property name');
      pos++;
      const childPath = path === '' ? key : `${path}.${key}`;
      const value = parseValue(childPath, depth);
      if (Object.prototype.hasOwnProperty.call(obj, key)) duplicates.push({ path, key });
      obj[key] = value;
      skipWs();
      if (text[pos] === ',') {
        pos++;
        continue;
      }
      if (text[pos] === '}') {
        pos++;
        return obj;
      }
      fail('"," or "}" after property value');
    }
  };

  const parseArray = (path: string, depth: number): JsonValue[] => {
    if (depth > MAX_DEPTH) throw new JsonSyntaxError('nesting too deep', pos);
    pos++; // [
    const arr: JsonValue[] = [];
    skipWs();
    if (text[pos] === ']') {
      pos++;
      return arr;
    }
    for (;;) {
      arr.push(parseValue(`${path}[${arr.length}]`, depth));
      skipWs();
      if (text[pos] === ',') {
        pos++;
        continue;
      }
      if (text[pos] === ']') {
        pos++;
        return arr;
      }
      fail('"," or "]" after array element');
    }
  };

  try {
    const value = parseValue('', 0);
    skipWs();
    if (pos < text.length) fail('end of input after the top-level value');
    return { ok: true, value, duplicates };
  } catch (e) {
    if (!(e instanceof JsonSyntaxError)) throw e;
    const { line, column } = lineColumn(text, e.offset);
    return { ok: false, message: e.message, line, column };
  }
}

/** 1-based line and column (in UTF-16 code units, counting a tab as one) of an offset. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}
