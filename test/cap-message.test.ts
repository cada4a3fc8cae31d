// cap-message.test.ts: the shared byte cap for untrusted message text.
import { describe, expect, it } from 'vitest';
import { MESSAGE_LIMIT_BYTES, TRUNCATION_MARKER, capMessage } from '../agent/cap-message';
import * as exporter from '../agent/sinks/event-exporter';

describe('capMessage', () => {
  it('keeps short text, cuts long text on a character boundary with the marker', () => {
    expect(capMessage('a'.repeat(MESSAGE_LIMIT_BYTES))).toEqual({
      text: 'a'.repeat(MESSAGE_LIMIT_BYTES),
      truncated: false,
    });
    const ascii = capMessage('x'.repeat(MESSAGE_LIMIT_BYTES + 1));
    expect(ascii.truncated).toBe(true);
    expect(Buffer.byteLength(ascii.text)).toBe(MESSAGE_LIMIT_BYTES);
    expect(ascii.text.endsWith(TRUNCATION_MARKER)).toBe(true);
    // 3-byte characters: under 1024 UTF-16 units but over 1024 bytes.
    const cjk = capMessage('語'.repeat(400));
    expect(cjk.truncated).toBe(true);
    expect(Buffer.byteLength(cjk.text)).toBeLessThanOrEqual(MESSAGE_LIMIT_BYTES);
    expect(cjk.text).not.toContain('\uFFFD');
    // Surrogate pairs (4 bytes) are not split.
    const emoji = capMessage('😀'.repeat(2000));
    expect(Buffer.byteLength(emoji.text)).toBeLessThanOrEqual(MESSAGE_LIMIT_BYTES);
    expect(emoji.text.replace(TRUNCATION_MARKER, '')).toMatch(/^(😀)+$/u);
    expect(capMessage('é'.repeat(600), 100).text).toBe('é'.repeat(42) + TRUNCATION_MARKER);
  });

  it('the event exporter re-exports the same function and constants', () => {
    expect(exporter.capMessage).toBe(capMessage);
    expect(exporter.MESSAGE_LIMIT_BYTES).toBe(MESSAGE_LIMIT_BYTES);
    expect(exporter.TRUNCATION_MARKER).toBe(TRUNCATION_MARKER);
  });
});
