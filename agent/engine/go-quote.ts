// go-quote.ts: Go's %q (strconv.Quote) for the message NPD puts in a condition-change event:
// double quotes, backslash escapes for quotes, backslashes and control characters, printable
// Unicode kept as is.

const NAMED: Record<number, string> = {
  7: '\\a',
  8: '\\b',
  9: '\\t',
  10: '\\n',
  11: '\\v',
  12: '\\f',
  13: '\\r',
  34: '\\"',
  92: '\\\\',
};

export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    const named = NAMED[c];
    if (named !== undefined) out += named;
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if (
      (c >= 0x80 && c < 0xa0) ||
      c === 0xad ||
      (c >= 0xd800 && c <= 0xdfff) ||
      c === 0x2028 ||
      c === 0x2029 ||
      c === 0xfeff
    ) {
      out += c >= 0xd800 && c <= 0xdfff ? '\\ufffd' : `\\u${c.toString(16).padStart(4, '0')}`;
    } else out += ch;
  }
  return out + '"';
}

/** NPD's util.GenerateConditionChangeEvent message. */
export function conditionChangeMessage(type: string, status: string, reason: string, message: string): string {
  return `Node condition ${type} is now: ${status}, reason: ${reason}, message: ${goQuote(message)}`;
}
