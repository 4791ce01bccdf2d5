// Proves business dates are computed in the business time zone and a business day maps to the right UTC range.
import { describe, expect, it } from 'vitest';
import { businessDate, businessDayRange, isIsoDate, isValidTimeZone } from './clock.js';

describe('business dates', () => {
  it('puts 15:59:59Z and 16:00:00Z on different Shanghai days', () => {
    expect(businessDate(new Date('2026-11-21T15:59:59Z'))).toBe('2026-11-21');
    expect(businessDate(new Date('2026-11-21T16:00:00Z'))).toBe('2026-11-22');
  });
  it('maps a Shanghai day to [16:00Z the day before, 16:00Z)', () => {
    const r = businessDayRange('2026-11-22');
    expect(r.start.toISOString()).toBe('2026-11-21T16:00:00.000Z');
    expect(r.end.toISOString()).toBe('2026-11-22T16:00:00.000Z');
  });
  it('handles zones with daylight saving (a 23-hour day)', () => {
    const r = businessDayRange('2026-03-08', 'America/New_York');
    expect(r.start.toISOString()).toBe('2026-03-08T05:00:00.000Z');
    expect(r.end.toISOString()).toBe('2026-03-09T04:00:00.000Z');
  });
  it('validates dates and zones', () => {
    expect(isIsoDate('2026-02-29')).toBe(false);
    expect(isIsoDate('2028-02-29')).toBe(true);
    expect(isValidTimeZone('Asia/Shanghai')).toBe(true);
    expect(isValidTimeZone('Mars/Olympus')).toBe(false);
  });
});
