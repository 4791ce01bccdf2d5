/**
 * Valid-looking, made-up identity numbers for tests and demos: distinct for distinct `n`, with
 * correct check characters, so they pass the same checks as real ones without being anyone's.
 */
import { residentIdCheckChar, usccCheckChar } from './id-number.js';

/** A resident ID number (region 110105, born 1950-1999), distinct for n in [0, 50000). */
export function sampleResidentId(n: number): string {
  const year = 1950 + (Math.floor(n / 1000) % 50);
  const first17 = `110105${year}0101${String(n % 1000).padStart(3, '0')}`;
  return first17 + residentIdCheckChar(first17);
}

/** A unified social credit code (a Shanghai enterprise), distinct for n in [0, 10^9). */
export function sampleUscc(n: number): string {
  const first17 = `91310000${String(n).padStart(9, '0')}`;
  return first17 + usccCheckChar(first17);
}
