/** Small helpers shared by the end-to-end payment tests. */
import { expect } from 'vitest';
import type { TestServer } from './server.js';

/** Polls `f` until it gives a value (asynchronous outcomes: notifications, jobs); fails after `ms`. */
export async function until<T>(what: string, f: () => Promise<T | undefined | false>, ms = 40_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** An operator request that must succeed; answers its body. */
export function okClient(s: () => Pick<TestServer, 'req'>) {
  return async (method: string, path: string, body?: unknown): Promise<any> => {
    const r = await s().req(method, path, body);
    expect(r.status, `${method} ${path}: ${JSON.stringify(r.body)}`).toBeLessThan(300);
    return r.body;
  };
}

/** The path (with its token) of an order's cashier, plus an optional suffix such as '/pay'. */
export function cashierPath(o: { cashier_url: string }, suffix = ''): string {
  const u = new URL(o.cashier_url);
  return `${u.pathname}${suffix}${u.search}`;
}
