// Proves the outbound HTTP client over loopback: a kept-alive socket the server drops as a request
// arrives is retried only for idempotent requests; and a failure says whether anything was sent
// (queued for a free connection, could not connect, or sent without a complete answer).
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpSend } from './http-client.js';

let server: Server;
let base: string;
let seen = 0;
/** Requests per connection and path: `/drop-second...` drops the second one on a connection. */
const perSocket = new WeakMap<object, Map<string, number>>();

beforeAll(async () => {
  server = createServer((req, res) => {
    seen++;
    if (req.url === '/hang') return; // never answers
    const counts = perSocket.get(req.socket) ?? new Map<string, number>();
    perSocket.set(req.socket, counts);
    const n = (counts.get(req.url ?? '') ?? 0) + 1;
    counts.set(req.url ?? '', n);
    if (req.url?.startsWith('/drop-second') && n === 2) {
      req.socket.destroy(); // as a server closing an idle kept-alive socket just as the request came
      return;
    }
    res.end(`ok ${n}`);
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  server.close();
});

describe('httpSend', () => {
  it('sends an idempotent request again when its kept-alive socket was dropped before any answer', async () => {
    const a = await httpSend({ url: `${base}/drop-second`, method: 'GET', timeoutMs: 2_000, idempotent: true });
    expect(a.ok && a.answer.bytes.toString()).toBe('ok 1');
    const before = seen;
    const b = await httpSend({ url: `${base}/drop-second`, method: 'GET', timeoutMs: 2_000, idempotent: true });
    expect(b.ok && b.answer.bytes.toString()).toBe('ok 1'); // the first on a fresh socket
    expect(seen - before).toBe(2);
  });

  it('does not send a request that is not idempotent twice: the outcome is left unknown', async () => {
    const a = await httpSend({ url: `${base}/drop-second-post`, method: 'POST', body: 'x', timeoutMs: 2_000 });
    expect(a.ok).toBe(true);
    const before = seen;
    const b = await httpSend({ url: `${base}/drop-second-post`, method: 'POST', body: 'x', timeoutMs: 2_000 });
    expect(b).toMatchObject({ ok: false, stage: 'sent', timedOut: false });
    expect(seen - before).toBe(1);
  });

  it('tells a request that waited for a free connection from one that went out', async () => {
    // 64 requests hold every socket the agent allows to this host; the 65th waits for one.
    const hogs = Array.from({ length: 64 }, () => httpSend({ url: `${base}/hang`, method: 'GET', timeoutMs: 1_500 }));
    await new Promise((r) => setTimeout(r, 100));
    const waiting = await httpSend({ url: `${base}/hang`, method: 'GET', timeoutMs: 200 });
    expect(waiting).toMatchObject({ ok: false, timedOut: true, stage: 'queued' });
    const held = await Promise.all(hogs);
    expect(held.every((h) => !h.ok && h.stage === 'sent' && h.timedOut)).toBe(true);
  });

  it('a refused connection sent nothing', async () => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const port = (probe.address() as AddressInfo).port;
    probe.close();
    await once(probe, 'close');
    const r = await httpSend({ url: `http://127.0.0.1:${port}/`, method: 'POST', body: '{}', timeoutMs: 2_000 });
    expect(r).toMatchObject({ ok: false, stage: 'connecting', timedOut: false });
  });
});
