// go-time.ts: Go reference-time layouts ("Jan _2 15:04:05", "2006-01-02T15:04:05.999999999-07:00",
// ...) compiled once into a parser returning epoch ms. It follows Go's time.Parse rules (fixed and
// variable-width numbers, "_2" space padding, runs of spaces, optional fractional seconds after
// the seconds field, range checks) with NPD's choices on top: no zone in the text means local time
// (time.ParseInLocation(..., time.Local)), and a layout without a year takes the current year,
// moved back one year when that would put the time more than a day in the future (new-year
// rollover; NPD just takes the current year). Zone abbreviations (MST) other than UTC/GMT are read
// as offset 0, which is what Go does for an abbreviation it does not know.

const enum Std {
  Literal,
  LongMonth,
  Month,
  NumMonth,
  ZeroMonth,
  LongWeekDay,
  WeekDay,
  Day,
  UnderDay,
  ZeroDay,
  UnderYearDay,
  ZeroYearDay,
  Hour,
  Hour12,
  ZeroHour12,
  Minute,
  ZeroMinute,
  Second,
  ZeroSecond,
  LongYear,
  Year,
  PM,
  pm,
  TZ,
  ISO8601TZ,
  ISO8601SecondsTZ,
  ISO8601ShortTZ,
  ISO8601ColonTZ,
  ISO8601ColonSecondsTZ,
  NumTZ,
  NumSecondsTz,
  NumShortTZ,
  NumColonTZ,
  NumColonSecondsTZ,
  FracSecond0,
  FracSecond9,
}

interface Chunk {
  readonly std: Std;
  /** Literal text, or for fractional seconds the digit count. */
  readonly text: string;
  readonly digits: number;
}

const LONG_MONTHS = [
  'january',
  'february',
  'march',
  'april',
  'may',
  'june',
  'july',
  'august',
  'september',
  'october',
  'november',
  'december',
];
const SHORT_MONTHS = LONG_MONTHS.map((m) => m.slice(0, 3));
const LONG_DAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
const SHORT_DAYS = LONG_DAYS.map((d) => d.slice(0, 3));

function isDigitAt(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  return c >= 48 && c <= 57;
}

/** Splits a layout into literal text and std chunks, as Go's nextStdChunk does. */
export function tokenizeLayout(layout: string): Chunk[] {
  const out: Chunk[] = [];
  let lit = '';
  const push = (std: Std, digits = 0): void => {
    if (lit !== '') out.push({ std: Std.Literal, text: lit, digits: 0 });
    lit = '';
    out.push({ std, text: '', digits });
  };
  let i = 0;
  const at = (s: string): boolean => layout.startsWith(s, i);
  while (i < layout.length) {
    const c = layout[i]!;
    let std: Std | undefined;
    let len = 0;
    switch (c) {
      case 'J':
        if (at('January')) [std, len] = [Std.LongMonth, 7];
        else if (at('Jan')) [std, len] = [Std.Month, 3];
        break;
      case 'M':
        if (at('Monday')) [std, len] = [Std.LongWeekDay, 6];
        else if (at('Mon')) [std, len] = [Std.WeekDay, 3];
        else if (at('MST')) [std, len] = [Std.TZ, 3];
        break;
      case '0':
        if (at('002')) [std, len] = [Std.ZeroYearDay, 3];
        else if (layout[i + 1] !== undefined && '123456'.includes(layout[i + 1]!)) {
          std = [Std.ZeroMonth, Std.ZeroDay, Std.ZeroHour12, Std.ZeroMinute, Std.ZeroSecond, Std.Year][
            Number(layout[i + 1]) - 1
          ]!;
          len = 2;
        }
        break;
      case '1':
        if (at('15')) [std, len] = [Std.Hour, 2];
        else [std, len] = [Std.NumMonth, 1];
        break;
      case '2':
        if (at('2006')) [std, len] = [Std.LongYear, 4];
        else [std, len] = [Std.Day, 1];
        break;
      case '_':
        if (at('_2')) {
          if (at('_2006')) {
            lit += '_';
            i += 1;
            continue;
          }
          [std, len] = [Std.UnderDay, 2];
        } else if (at('__2')) [std, len] = [Std.UnderYearDay, 3];
        break;
      case '3':
        [std, len] = [Std.Hour12, 1];
        break;
      case '4':
        [std, len] = [Std.Minute, 1];
        break;
      case '5':
        [std, len] = [Std.Second, 1];
        break;
      case 'P':
        if (at('PM')) [std, len] = [Std.PM, 2];
        break;
      case 'p':
        if (at('pm')) [std, len] = [Std.pm, 2];
        break;
      case '-':
        if (at('-070000')) [std, len] = [Std.NumSecondsTz, 7];
        else if (at('-07:00:00')) [std, len] = [Std.NumColonSecondsTZ, 9];
        else if (at('-0700')) [std, len] = [Std.NumTZ, 5];
        else if (at('-07:00')) [std, len] = [Std.NumColonTZ, 6];
        else if (at('-07')) [std, len] = [Std.NumShortTZ, 3];
        break;
      case 'Z':
        if (at('Z070000')) [std, len] = [Std.ISO8601SecondsTZ, 7];
        else if (at('Z07:00:00')) [std, len] = [Std.ISO8601ColonSecondsTZ, 9];
        else if (at('Z0700')) [std, len] = [Std.ISO8601TZ, 5];
        else if (at('Z07:00')) [std, len] = [Std.ISO8601ColonTZ, 6];
        else if (at('Z07')) [std, len] = [Std.ISO8601ShortTZ, 3];
        break;
      case '.':
      case ',': {
        const d = layout[i + 1];
        if (d === '0' || d === '9') {
          let j = i + 1;
          while (j < layout.length && layout[j] === d) j++;
          if (!isDigitAt(layout, j)) {
            std = d === '0' ? Std.FracSecond0 : Std.FracSecond9;
            len = j - i;
          }
        }
        break;
      }
    }
    if (std === undefined) {
      lit += c;
      i++;
      continue;
    }
    push(std, std === Std.FracSecond0 || std === Std.FracSecond9 ? len - 1 : 0);
    i += len;
  }
  if (lit !== '') out.push({ std: Std.Literal, text: lit, digits: 0 });
  return out;
}

export interface GoTimeOptions {
  /** Epoch ms "now", for layouts without a year. */
  readonly now: () => number;
}

/** A compiled layout: parses s[start, end) to epoch ms, or undefined when Go would fail. */
export type GoTimeParser = (s: string, start?: number, end?: number) => number | undefined;

const DAYS_BEFORE = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365];
function isLeap(y: number): boolean {
  return y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
}
function daysIn(month: number, year: number): number {
  if (month === 2 && isLeap(year)) return 29;
  return DAYS_BEFORE[month]! - DAYS_BEFORE[month - 1]!;
}

/** Local wall time to epoch ms (years below 100 included). */
function localMs(y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number): number {
  const t = new Date(y, mo - 1, d, h, mi, s, ms);
  if (y < 100 && y >= 0) t.setFullYear(y);
  return t.getTime();
}
function utcMs(y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number): number {
  if (y >= 100) return Date.UTC(y, mo - 1, d, h, mi, s, ms);
  const t = new Date(Date.UTC(y, mo - 1, d, h, mi, s, ms));
  if (y >= 0) t.setUTCFullYear(y);
  return t.getTime();
}

/**
 * Per-parser memo of the local-time conversions, which cost more than the rest of a parse (the
 * zone lookup behind `new Date(y, m, d, ...)` and `getFullYear`). Exact, not approximate:
 * - localMs: the epoch ms of the start of the last local minute seen. Inside one minute the
 *   result is that plus s*1000 + ms, provided the zone's offset is the same at the minute's first
 *   and last millisecond (checked when the minute is computed; otherwise every call converts).
 *   Zone transitions are months apart, so the offset cannot change and change back in a minute.
 * - yearOf(now): the local year is constant within one UTC second, since zone offsets are whole
 *   seconds (tzdata has nothing finer), so the local year can only change on a second boundary.
 */
class LocalTimeMemo {
  private minuteKey = -1;
  private minuteMs = 0;
  private linear = false;
  private yearSecond = Number.NaN;
  private year = 0;

  localMs(y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number): number {
    if (y < 100 || s > 59 || ms > 999) return localMs(y, mo, d, h, mi, s, ms);
    // Below 2^53 for any 4-digit year (the parsers read at most 4 year digits).
    const key = (((y * 16 + mo) * 32 + d) * 32 + h) * 64 + mi;
    if (key !== this.minuteKey) {
      const base = localMs(y, mo, d, h, mi, 0, 0);
      this.minuteKey = key;
      this.minuteMs = base;
      this.linear = localMs(y, mo, d, h, mi, 59, 999) === base + 59_999;
    }
    return this.linear ? this.minuteMs + s * 1000 + ms : localMs(y, mo, d, h, mi, s, ms);
  }

  yearOf(now: number): number {
    const second = Math.floor(now / 1000);
    if (second !== this.yearSecond) {
      this.yearSecond = second;
      this.year = new Date(now).getFullYear();
    }
    return this.year;
  }
}

const DAY_MS = 86_400_000;

/**
 * The fields of the last text a compiled layout parsed. They depend on the text alone; what
 * depends on the clock (the year of a layout without one) is applied on every call.
 */
class LastFields {
  text: string | undefined = undefined;
  year = 0;
  month = -1;
  day = -1;
  yday = -1;
  hour = 0;
  min = 0;
  sec = 0;
  ms = 0;
  zoneMs: number | undefined = undefined;
}

function buildTime(
  memo: LocalTimeMemo,
  y: number,
  month: number,
  day: number,
  yday: number,
  hour: number,
  min: number,
  sec: number,
  ms: number,
  zoneMs: number | undefined,
  hasYear: boolean,
): number | undefined {
  let mo = month < 0 ? 1 : month;
  let d = day < 0 ? 1 : day;
  if (yday >= 0) {
    const leap = isLeap(y) ? 1 : 0;
    if (yday > 365 + leap) return undefined;
    let m = 1;
    while (m < 12 && yday > DAYS_BEFORE[m]! + (m >= 2 ? leap : 0)) m++;
    const dd = yday - DAYS_BEFORE[m - 1]! - (m > 2 ? leap : 0);
    if ((month >= 0 && month !== m) || (day >= 0 && day !== dd)) return undefined;
    mo = m;
    d = dd;
  }
  if (d < 1 || d > daysIn(mo, hasYear ? y : 0)) return undefined;
  if (zoneMs === undefined) return memo.localMs(y, mo, d, hour, min, sec, ms);
  return utcMs(y, mo, d, hour, min, sec, ms) - zoneMs;
}

/** Parse position and the number readers (Go's getnum and friends); one per compiled layout. */
class Cursor {
  s = '';
  p = 0;
  end = 0;

  /** 1 or 2 digits (fixed: exactly 2), Go's getnum. */
  num2(fixed: boolean): number {
    const { s, p, end } = this;
    if (p >= end || !isDigitAt(s, p)) return -1;
    if (p + 1 >= end || !isDigitAt(s, p + 1)) {
      if (fixed) return -1;
      this.p = p + 1;
      return s.charCodeAt(p) - 48;
    }
    this.p = p + 2;
    return (s.charCodeAt(p) - 48) * 10 + (s.charCodeAt(p + 1) - 48);
  }

  numN(n: number): number {
    const { s, p, end } = this;
    if (p + n > end) return -1;
    let v = 0;
    for (let k = 0; k < n; k++) {
      if (!isDigitAt(s, p + k)) return -1;
      v = v * 10 + s.charCodeAt(p + k) - 48;
    }
    this.p = p + n;
    return v;
  }

  /** Case-insensitive table lookup (Go's lookup); returns the index or -1. */
  lookup(table: readonly string[]): number {
    const { s, p, end } = this;
    for (let k = 0; k < table.length; k++) {
      const w = table[k]!;
      if (p + w.length > end) continue;
      let ok = true;
      for (let i = 0; i < w.length; i++) {
        if ((s.charCodeAt(p + i) | 0x20) !== w.charCodeAt(i)) {
          ok = false;
          break;
        }
      }
      if (ok) {
        this.p = p + w.length;
        return k;
      }
    }
    return -1;
  }

  isSep(i: number): boolean {
    return i < this.end && (this.s[i] === '.' || this.s[i] === ',');
  }

  /** Separator then n digits; returns milliseconds (truncated) or -1. */
  frac(n: number): number {
    const { s, p, end } = this;
    let v = 0;
    for (let k = 1; k <= n; k++) {
      if (p + k >= end || !isDigitAt(s, p + k)) return -1;
      if (k <= 3) v = v * 10 + s.charCodeAt(p + k) - 48;
    }
    for (let k = n; k < 3; k++) v *= 10;
    this.p = p + n + 1;
    return v;
  }

  /** Offsets "+hh", "+hhmm", "+hh:mm", "+hh:mm:ss", ... in ms, or undefined. */
  offset(colon: boolean, withMin: boolean, withSec: boolean): number | undefined {
    const sign = this.s[this.p];
    if (sign !== '+' && sign !== '-') return undefined;
    this.p++;
    const hh = this.numN(2);
    if (hh < 0) return undefined;
    let mm = 0;
    let ss = 0;
    if (withMin) {
      if (colon) {
        if (this.s[this.p] !== ':') return undefined;
        this.p++;
      }
      mm = this.numN(2);
      if (mm < 0) return undefined;
    }
    if (withSec) {
      if (colon) {
        if (this.s[this.p] !== ':') return undefined;
        this.p++;
      }
      ss = this.numN(2);
      if (ss < 0) return undefined;
    }
    if (hh > 24 || mm > 60 || ss > 60) return undefined;
    const v = ((hh * 60 + mm) * 60 + ss) * 1000;
    return sign === '-' ? -v : v;
  }
}

export function compileGoLayout(layout: string, opts: GoTimeOptions): GoTimeParser {
  const chunks = tokenizeLayout(layout);
  const hasYear = chunks.some((c) => c.std === Std.LongYear || c.std === Std.Year);
  const nextIsFrac = chunks.map((_, k) => {
    const n = chunks[k + 1];
    return n !== undefined && (n.std === Std.FracSecond0 || n.std === Std.FracSecond9);
  });

  const cur = new Cursor();
  const memo = new LocalTimeMemo();
  const last = new LastFields();
  /** Epoch ms of parsed fields: the year (or now's, as NPD does), zone and calendar checks. */
  const finish = (f: LastFields): number | undefined => {
    if (hasYear) return buildTime(memo, f.year, f.month, f.day, f.yday, f.hour, f.min, f.sec, f.ms, f.zoneMs, true);
    // No year: Go gives year 0 (a leap year, so Feb 29 parses) and NPD adds the current year.
    const now = opts.now();
    const y = memo.yearOf(now);
    const t = buildTime(memo, y, f.month, f.day, f.yday, f.hour, f.min, f.sec, f.ms, f.zoneMs, false);
    if (t === undefined) return undefined;
    if (t > now + DAY_MS)
      return buildTime(memo, y - 1, f.month, f.day, f.yday, f.hour, f.min, f.sec, f.ms, f.zoneMs, false);
    return t;
  };
  return (s, start = 0, end = s.length) => {
    // The same text as the last one that parsed (a busy log's lines share their second): its fields.
    const lt = last.text;
    if (lt !== undefined && end - start === lt.length && s.startsWith(lt, start)) return finish(last);
    cur.s = s;
    cur.p = start;
    cur.end = end;
    let year = 0,
      month = -1,
      day = -1,
      yday = -1,
      hour = 0,
      min = 0,
      sec = 0,
      ms = 0;
    let pmSet = false,
      amSet = false;
    let zoneMs: number | undefined;

    for (let k = 0; k < chunks.length; k++) {
      const c = chunks[k]!;
      switch (c.std) {
        case Std.Literal: {
          // Go's skip(): a space in the layout matches one or more spaces in the value.
          const t = c.text;
          let i = 0;
          while (i < t.length) {
            if (t[i] === ' ') {
              if (cur.p < end && s[cur.p] !== ' ') return undefined;
              while (i < t.length && t[i] === ' ') i++;
              while (cur.p < end && s[cur.p] === ' ') cur.p++;
              continue;
            }
            if (cur.p >= end || s[cur.p] !== t[i]) return undefined;
            cur.p++;
            i++;
          }
          break;
        }
        case Std.LongYear:
          year = cur.numN(4);
          if (year < 0) return undefined;
          break;
        case Std.Year: {
          const y = cur.numN(2);
          if (y < 0) return undefined;
          year = y >= 69 ? 1900 + y : 2000 + y;
          break;
        }
        case Std.LongMonth:
          month = cur.lookup(LONG_MONTHS) + 1;
          if (month <= 0) return undefined;
          break;
        case Std.Month:
          month = cur.lookup(SHORT_MONTHS) + 1;
          if (month <= 0) return undefined;
          break;
        case Std.NumMonth:
        case Std.ZeroMonth:
          month = cur.num2(c.std === Std.ZeroMonth);
          if (month < 1 || month > 12) return undefined;
          break;
        case Std.LongWeekDay:
          if (cur.lookup(LONG_DAYS) < 0) return undefined;
          break;
        case Std.WeekDay:
          if (cur.lookup(SHORT_DAYS) < 0) return undefined;
          break;
        case Std.Day:
        case Std.UnderDay:
        case Std.ZeroDay:
          if (c.std === Std.UnderDay && s[cur.p] === ' ') cur.p++;
          day = cur.num2(c.std === Std.ZeroDay);
          if (day < 0) return undefined;
          break;
        case Std.UnderYearDay:
        case Std.ZeroYearDay: {
          if (c.std === Std.UnderYearDay) {
            // Go: up to two leading spaces.
            for (let k2 = 0; k2 < 2 && s[cur.p] === ' '; k2++) cur.p++;
          }
          // Go reads exactly 3 characters for 002 and 1-3 digits for __2.
          let v = 0,
            n = 0;
          while (n < 3 && isDigitAt(s, cur.p) && cur.p < end) {
            v = v * 10 + s.charCodeAt(cur.p) - 48;
            cur.p++;
            n++;
          }
          if (n === 0 || (c.std === Std.ZeroYearDay && n !== 3) || v < 1 || v > 366) return undefined;
          yday = v;
          break;
        }
        case Std.Hour:
          hour = cur.num2(false);
          if (hour < 0 || hour >= 24) return undefined;
          break;
        case Std.Hour12:
        case Std.ZeroHour12:
          hour = cur.num2(c.std === Std.ZeroHour12);
          if (hour < 0 || hour > 12) return undefined;
          break;
        case Std.Minute:
        case Std.ZeroMinute:
          min = cur.num2(c.std === Std.ZeroMinute);
          if (min < 0 || min >= 60) return undefined;
          break;
        case Std.Second:
        case Std.ZeroSecond: {
          sec = cur.num2(c.std === Std.ZeroSecond);
          if (sec < 0 || sec >= 60) return undefined;
          // Go accepts a fractional second the layout does not mention.
          if (!nextIsFrac[k] && cur.isSep(cur.p) && isDigitAt(s, cur.p + 1) && cur.p + 1 < end) {
            let n = 1;
            while (cur.p + 1 + n < end && isDigitAt(s, cur.p + 1 + n)) n++;
            ms = cur.frac(n);
          }
          break;
        }
        case Std.PM:
        case Std.pm: {
          const v = s.slice(cur.p, cur.p + 2);
          const [P, A] = c.std === Std.PM ? ['PM', 'AM'] : ['pm', 'am'];
          if (cur.p + 2 > end) return undefined;
          if (v === P) pmSet = true;
          else if (v === A) amSet = true;
          else return undefined;
          cur.p += 2;
          break;
        }
        case Std.ISO8601TZ:
        case Std.ISO8601SecondsTZ:
        case Std.ISO8601ShortTZ:
        case Std.ISO8601ColonTZ:
        case Std.ISO8601ColonSecondsTZ:
        case Std.NumTZ:
        case Std.NumSecondsTz:
        case Std.NumShortTZ:
        case Std.NumColonTZ:
        case Std.NumColonSecondsTZ: {
          const st = c.std;
          const iso =
            st === Std.ISO8601TZ ||
            st === Std.ISO8601SecondsTZ ||
            st === Std.ISO8601ShortTZ ||
            st === Std.ISO8601ColonTZ ||
            st === Std.ISO8601ColonSecondsTZ;
          if (iso && cur.p < end && s[cur.p] === 'Z') {
            cur.p++;
            zoneMs = 0;
            break;
          }
          const colon =
            st === Std.ISO8601ColonTZ ||
            st === Std.ISO8601ColonSecondsTZ ||
            st === Std.NumColonTZ ||
            st === Std.NumColonSecondsTZ;
          const short = st === Std.ISO8601ShortTZ || st === Std.NumShortTZ;
          const secs =
            st === Std.ISO8601SecondsTZ ||
            st === Std.ISO8601ColonSecondsTZ ||
            st === Std.NumSecondsTz ||
            st === Std.NumColonSecondsTZ;
          const o = cur.offset(colon, !short, secs);
          if (o === undefined) return undefined;
          zoneMs = o;
          break;
        }
        case Std.TZ: {
          // UTC, or 3-5 upper-case letters (optionally GMT+h). Unknown abbreviations: offset 0.
          let q = cur.p;
          while (q < end && q - cur.p < 5 && s.charCodeAt(q) >= 65 && s.charCodeAt(q) <= 90) q++;
          if (q - cur.p < 3) return undefined;
          const abbr = s.slice(cur.p, q);
          cur.p = q;
          zoneMs = 0;
          if (abbr === 'GMT' && (s[cur.p] === '+' || s[cur.p] === '-')) {
            const sign = s[cur.p] === '-' ? -1 : 1;
            cur.p++;
            const h = cur.num2(false);
            if (h < 0 || h > 23) return undefined;
            zoneMs = sign * h * 3_600_000;
          }
          break;
        }
        case Std.FracSecond0: {
          if (!cur.isSep(cur.p)) return undefined;
          ms = cur.frac(c.digits);
          if (ms < 0) return undefined;
          break;
        }
        case Std.FracSecond9: {
          if (!cur.isSep(cur.p) || !isDigitAt(s, cur.p + 1) || cur.p + 1 >= end) break; // omitted: fine in Go
          let n = 0;
          while (cur.p + 1 + n < end && isDigitAt(s, cur.p + 1 + n)) n++;
          ms = cur.frac(n);
          break;
        }
      }
    }
    if (cur.p !== end) return undefined; // extra text
    if (pmSet && hour < 12) hour += 12;
    else if (amSet && hour === 12) hour = 0;

    last.text = s.slice(start, end);
    last.year = year;
    last.month = month;
    last.day = day;
    last.yday = yday;
    last.hour = hour;
    last.min = min;
    last.sec = sec;
    last.ms = ms;
    last.zoneMs = zoneMs;
    return finish(last);
  };
}
