/**
 * Sends a simulator's asynchronous notifications the way providers do: POST to the merchant's
 * notify URL, retry on a schedule until the answer is the provider's success answer, and obey the
 * duplicate / out-of-order / delay knobs. Loopback only: a notify URL on any other host is dropped
 * and recorded as such, so a simulator can never reach out of the machine.
 */
import type { Faults } from './faults.js';

export interface OutgoingNotification {
  url: string;
  headers: Record<string, string>;
  body: string;
  /** A key identifying the event (e.g. out_trade_no + status), for the history. */
  key: string;
}

export interface NotificationAttempt {
  key: string;
  url: string;
  at: Date;
  status: number | null;
  error?: string;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

export class Notifier {
  readonly attempts: NotificationAttempt[] = [];
  private held: OutgoingNotification[] = [];
  private timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly opts: {
      faults: () => Faults;
      /** Is this answer the merchant's acknowledgement? (WeChat: 2xx; Alipay: body "success"). */
      acknowledged: (status: number, body: string) => boolean;
      /** Delays between attempts after the first, in ms (a short schedule by default: sims are for tests). */
      retryScheduleMs?: readonly number[];
    },
  ) {}

  /** Queues a notification; returns at once. */
  send(n: OutgoingNotification): void {
    const f = this.opts.faults();
    if (f.outOfOrderNotifications) {
      // Held until the next one arrives or until flushHeld(); then sent newest first.
      this.held.push(n);
      if (this.held.length >= 2) this.flushHeld();
      return;
    }
    this.schedule(n, f.notifyDelayMs);
    if (f.duplicateNotifications) this.schedule(n, f.notifyDelayMs + 5);
  }

  /** Sends every held notification, newest first. */
  flushHeld(): void {
    const f = this.opts.faults();
    const batch = this.held.splice(0).reverse();
    batch.forEach((n, i) => {
      this.schedule(n, f.notifyDelayMs + i * 20);
      if (f.duplicateNotifications) this.schedule(n, f.notifyDelayMs + i * 20 + 5);
    });
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private schedule(n: OutgoingNotification, delayMs: number, attempt = 0): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      void this.deliver(n, attempt);
    }, delayMs);
    this.timers.add(t);
  }

  private async deliver(n: OutgoingNotification, attempt: number): Promise<void> {
    let host: string;
    try {
      host = new URL(n.url).hostname;
    } catch {
      this.attempts.push({ key: n.key, url: n.url, at: new Date(), status: null, error: 'invalid notify url' });
      return;
    }
    if (!LOOPBACK.has(host)) {
      this.attempts.push({ key: n.key, url: n.url, at: new Date(), status: null, error: 'not a loopback address; simulators never leave the machine' });
      return;
    }
    let ok = false;
    try {
      const res = await fetch(n.url, { method: 'POST', headers: n.headers, body: n.body, signal: AbortSignal.timeout(5000) });
      const text = await res.text();
      ok = this.opts.acknowledged(res.status, text);
      this.attempts.push({ key: n.key, url: n.url, at: new Date(), status: res.status });
    } catch (e) {
      this.attempts.push({ key: n.key, url: n.url, at: new Date(), status: null, error: (e as Error).message });
    }
    const schedule = this.opts.retryScheduleMs ?? [200, 1000, 5000, 15000, 60000];
    if (!ok && attempt < schedule.length) this.schedule(n, schedule[attempt]!, attempt + 1);
  }
}
