// duration.test.ts: Go time.ParseDuration compatibility of parseDuration and its sign helpers.
import { describe, expect, it } from 'vitest';
import { parseDuration, parseNonNegativeDuration, parsePositiveDuration } from '../../agent/config/duration';

describe('parseDuration', () => {
  it.each([
    ['0', 0],
    ['+0', 0],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['300ms', 300],
    ['1.5s', 1500],
    ['.5s', 500],
    ['1.s', 1000],
    ['10us', 0.01],
    ['10µs', 0.01], // U+00B5 micro sign
    ['10μs', 0.01], // U+03BC greek mu
    ['1500000ns', 1.5],
    ['2h45m30.5s', 9_930_500],
    ['1m1m', 120_000],
    ['-2s', -2000],
    ['+3h', 10_800_000],
  ])('%s -> %d ms', (s, ms) => {
    expect(parseDuration(s)).toBeCloseTo(ms, 9);
  });

  it.each([
    ['', 'invalid duration ""'],
    ['-', 'invalid duration "-"'],
    ['.', 'invalid duration "."'],
    ['.s', 'invalid duration ".s"'],
    ['5', 'missing unit in duration "5" (valid units are "ns", "us", "ms", "s", "m", "h")'],
    ['1h5', 'missing unit in duration "1h5" (valid units are "ns", "us", "ms", "s", "m", "h")'],
    ['1d', 'unknown unit "d" in duration "1d" (valid units are "ns", "us", "ms", "s", "m", "h")'],
    ['5 m', 'unknown unit " m" in duration "5 m" (valid units are "ns", "us", "ms", "s", "m", "h")'],
    ['5M', 'unknown unit "M" in duration "5M" (valid units are "ns", "us", "ms", "s", "m", "h")'],
    ['s', 'invalid duration "s"'],
    ['1e3s', 'unknown unit "e" in duration "1e3s" (valid units are "ns", "us", "ms", "s", "m", "h")'],
    ['3000000h', 'duration "3000000h" is out of range'],
  ])('%j is an error', (s, msg) => {
    expect(parseDuration(s)).toBe(msg);
  });

  it('helpers reject by sign', () => {
    expect(parseNonNegativeDuration('0')).toBe(0);
    expect(Object.is(parseNonNegativeDuration('-0'), 0)).toBe(true);
    expect(parseNonNegativeDuration('1m')).toBe(60_000);
    expect(parseNonNegativeDuration('-1s')).toBe('duration "-1s" must not be negative');
    expect(parseNonNegativeDuration('x')).toBe('invalid duration "x"');
    expect(parsePositiveDuration('1ms')).toBe(1);
    expect(parsePositiveDuration('0')).toBe('duration "0" must be greater than zero');
    expect(parsePositiveDuration('0s')).toBe('duration "0s" must be greater than zero');
    expect(parsePositiveDuration('-5m')).toBe('duration "-5m" must be greater than zero');
  });
});
