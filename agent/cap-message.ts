// cap-message.ts: bounds untrusted text (kernel lines, rule matches) before it leaves the process
// as an Event message or a NodeCondition message: at most `limit` UTF-8 bytes, cut on a character
// boundary, with a marker saying it was cut. Pure; shared by the event exporter and the
// condition state so every consumer sees the same capped text.

/** Default cap: 1 KiB, for Event messages and condition messages alike. */
export const MESSAGE_LIMIT_BYTES = 1024;
export const TRUNCATION_MARKER = ' …[truncated]';

const MARKER_BYTES = Buffer.byteLength(TRUNCATION_MARKER, 'utf8');

/** Caps untrusted text at `limit` UTF-8 bytes, cutting on a character boundary and marking it. */
export function capMessage(text: string, limit = MESSAGE_LIMIT_BYTES): { text: string; truncated: boolean } {
  // Every UTF-16 code unit is at least one UTF-8 byte: a string longer than `limit` units is over
  // the limit, and only its first `limit` units can survive the cut (so a 16 MiB match costs
  // no more than a 1 KiB one).
  if (text.length <= limit && Buffer.byteLength(text, 'utf8') <= limit) return { text, truncated: false };
  const room = Math.max(0, limit - MARKER_BYTES);
  let cut = Buffer.from(text.slice(0, limit), 'utf8').subarray(0, room).toString('utf8');
  // A cut inside a multi-byte character decodes to U+FFFD; drop it.
  if (cut.endsWith('\uFFFD')) cut = cut.slice(0, -1);
  return { text: cut + TRUNCATION_MARKER, truncated: true };
}
