// utc-time.ts: UTC timestamps as text (ISO 8601 as Date.prototype.toISOString writes it, and the
// HTTP Date header's IMF-fixdate), computed from epoch ms with integer arithmetic.
// Why not Date's own methods: on Node 20 and 24, V8's toISOString and toUTCString look up the
// host time zone and its display names through ICU on their first call, although the text they
// return is UTC. That first call costs about 1 MiB of RSS (ICU's zone data and code pages) that
// nothing else in the agent needs (README, Memory cuts: built-ins). Outside years 0-9999, or for
// a time that is not finite, these defer to Date's methods, which give (or throw) the same.

const DAY_MS = 86_400_000;
const WEEKDAYS = ['Thu', 'Fri', 'Sat', 'Sun', 'Mon', 'Tue', 'Wed']; // 1970-01-01 was a Thursday
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** Epoch ms of 0000-01-01 and of 10000-01-01: the years written with four digits. */
const MIN_MS = -62_167_219_200_000;
const END_MS = 253_402_300_800_000;

interface Civil {
  readonly year: number;
  readonly month: number; // 1-12
  readonly day: number;
  readonly msOfDay: number;
  readonly days: number; // since 1970-01-01
}

/** The proleptic Gregorian date of an epoch ms (Hinnant's days-to-civil). */
function civil(ms: number): Civil {
  const days = Math.floor(ms / DAY_MS);
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return { year, month, day, msOfDay: ms - days * DAY_MS, days };
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : `${n}`);
const pad3 = (n: number): string => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : `${n}`);
const pad4 = (n: number): string => (n < 1000 ? `000${n}`.slice(-4) : `${n}`);

function clock(msOfDay: number): string {
  const s = Math.floor(msOfDay / 1000);
  return `${pad2(Math.floor(s / 3600))}:${pad2(Math.floor(s / 60) % 60)}:${pad2(s % 60)}`;
}

/** `YYYY-MM-DDTHH:MM:SS`, the part ISO 8601 texts share. */
const dateTime = (c: Civil): string => `${pad4(c.year)}-${pad2(c.month)}-${pad2(c.day)}T${clock(c.msOfDay)}`;

/** Date.prototype.toISOString of epoch ms: `2026-12-06T05:52:22.123Z`. */
export function isoString(ms: number): string {
  if (!(ms >= MIN_MS && ms < END_MS)) return new Date(ms).toISOString(); // eslint-disable-line no-restricted-syntax -- the out-of-range case
  const c = civil(Math.trunc(ms));
  return `${dateTime(c)}.${pad3(c.msOfDay % 1000)}Z`;
}

/** RFC 3339 with whole seconds (metav1.Time on the wire): `2026-12-06T05:52:22Z`. */
export function isoSeconds(ms: number): string {
  if (!(ms >= MIN_MS && ms < END_MS)) return isoString(Math.floor(ms / 1000) * 1000).replace('.000Z', 'Z');
  return `${dateTime(civil(Math.floor(ms / 1000) * 1000))}Z`;
}

/** The HTTP Date header (IMF-fixdate, as Date.prototype.toUTCString): `Sun, 06 Dec 2026 05:52:22 GMT`. */
export function httpDate(ms: number): string {
  if (!(ms >= MIN_MS && ms < END_MS)) return new Date(ms).toUTCString(); // eslint-disable-line no-restricted-syntax -- out of range
  const c = civil(Math.trunc(ms));
  const wd = WEEKDAYS[((c.days % 7) + 7) % 7] as string;
  return `${wd}, ${pad2(c.day)} ${MONTHS[c.month - 1] as string} ${pad4(c.year)} ${clock(c.msOfDay)} GMT`;
}
