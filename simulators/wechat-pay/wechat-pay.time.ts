/** China time (UTC+8, no daylight saving) as WeChat Pay writes it. */
const OFFSET_MS = 8 * 3_600_000;

function shifted(at: Date): string {
  return new Date(at.getTime() + OFFSET_MS).toISOString();
}

/** 2018-06-08T10:34:56+08:00 */
export function chinaRfc3339(at: Date): string {
  return shifted(at).slice(0, 19) + '+08:00';
}

/** 2018-06-08 10:34:56 (bill lines) */
export function chinaDateTime(at: Date): string {
  const s = shifted(at);
  return `${s.slice(0, 10)} ${s.slice(11, 19)}`;
}

/** 2018-06-08, the business date of an instant. */
export function chinaDate(at: Date): string {
  return shifted(at).slice(0, 10);
}

/** 20180608103456, for generated ids. */
export function chinaStamp(at: Date): string {
  return shifted(at).slice(0, 19).replace(/[-T:]/g, '');
}

export function parseRfc3339(v: unknown): Date | undefined {
  if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(v)) return undefined;
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}
