/**
 * The only place that reads the wall clock and the only function that turns an instant into a
 * business date. Everything stored is UTC; business dates (accounting day, settlement day) are
 * the calendar date of an instant in the configured business time zone (default Asia/Shanghai).
 */
export interface Clock {
  now(): Date;
  nowMs(): number;
}

export const systemClock: Clock = {
  now: () => new Date(),
  nowMs: () => Date.now(),
};

/** A clock tests can move by hand. */
export class ManualClock implements Clock {
  constructor(private ms: number) {}
  now(): Date {
    return new Date(this.ms);
  }
  nowMs(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
  set(ms: number): void {
    this.ms = ms;
  }
}

export const DEFAULT_BUSINESS_TIME_ZONE = 'Asia/Shanghai';

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The business date (YYYY-MM-DD) of an instant in the given time zone. */
export function businessDate(at: Date, timeZone: string = DEFAULT_BUSINESS_TIME_ZONE): string {
  return formatter(timeZone).format(at);
}

/** Validates an IANA time zone name. */
export function isValidTimeZone(tz: string): boolean {
  try {
    formatter(tz);
    return true;
  } catch {
    return false;
  }
}

/**
 * The UTC instant range [start, end) that a business date covers in a time zone. Found by
 * probing offsets rather than assuming a fixed one, so zones with DST also work.
 */
export function businessDayRange(date: string, timeZone: string = DEFAULT_BUSINESS_TIME_ZONE): { start: Date; end: Date } {
  if (!isIsoDate(date)) throw new Error(`not a date: ${date}`);
  const start = startOfBusinessDate(date, timeZone);
  const next = new Date(Date.parse(`${date}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
  return { start, end: startOfBusinessDate(next, timeZone) };
}

function startOfBusinessDate(date: string, timeZone: string): Date {
  const midnightUtc = Date.parse(`${date}T00:00:00Z`);
  // Offsets in use today lie within -14h..+14h; find the first instant whose local date is `date`.
  let lo = midnightUtc - 15 * 3_600_000;
  let hi = midnightUtc + 15 * 3_600_000;
  while (hi - lo > 1000) {
    const mid = Math.floor((lo + hi) / 2);
    if (businessDate(new Date(mid), timeZone) < date) lo = mid;
    else hi = mid;
  }
  // The day starts on a whole second and (lo, hi] is at most a second long, so exactly one
  // whole second lies in it.
  return new Date(Math.floor(hi / 1000) * 1000);
}

export function isIsoDate(s: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return false;
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
