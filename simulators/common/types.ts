/** What every simulator's start function returns. */
import type { Faults } from './faults.js';

export interface RunningSimulator {
  /** Base URL, e.g. http://127.0.0.1:40123 (no trailing slash). */
  url: string;
  /** Current fault knobs (also settable over HTTP: POST /__sim/faults). */
  faults(): Faults;
  setFaults(patch: Partial<Faults>): void;
  close(): Promise<void>;
}
