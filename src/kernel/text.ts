/**
 * Text PostgreSQL cannot store: a NUL character (refused in text and jsonb) or a lone UTF-16
 * surrogate (not valid UTF-8). Such input is refused up front with a clear code instead of
 * failing deep inside a database statement.
 */
export function isStorableText(s: string): boolean {
  return !s.includes('\u0000') && s.isWellFormed();
}

/** True when every string (and object key) inside a JSON-like value is storable. */
export function isStorableDeep(v: unknown, depth = 0): boolean {
  if (depth > 64) return false;
  if (typeof v === 'string') return isStorableText(v);
  if (Array.isArray(v)) return v.every((x) => isStorableDeep(x, depth + 1));
  if (v && typeof v === 'object') return Object.entries(v).every(([k, x]) => isStorableText(k) && isStorableDeep(x, depth + 1));
  return true;
}
