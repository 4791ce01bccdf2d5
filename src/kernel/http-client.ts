/**
 * Outbound HTTP for the server's own calls (channel requests, merchant notifications): node:http
 * and node:https over keep-alive agents, with a hard deadline for the whole exchange and a cap on
 * the answer's size. No redirects are followed and nothing is retried — the caller decides what a
 * lost exchange means (for a channel: an unknown outcome, asked about later).
 *
 * Why not the global fetch: on a 2-core machine undici's fetch costs several times the CPU of a
 * node:http request (measured: a trivial JSON server driven by fetch managed ~2,400 requests/s,
 * by node:http ~10,000), and these calls sit on the payment path.
 */
import http from 'node:http';
import https from 'node:https';

export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  bytes: Buffer;
}

export type HttpOutcome = { ok: true; answer: HttpAnswer } | { ok: false; reason: string; timedOut: boolean };

const agents = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: 64, maxFreeSockets: 16, timeout: 4_000 }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: 64, maxFreeSockets: 16, timeout: 4_000 }),
};

export function httpSend(req: { url: string | URL; method: string; headers?: Record<string, string>; body?: string | Buffer | undefined; timeoutMs: number; maxBytes?: number }): Promise<HttpOutcome> {
  const url = typeof req.url === 'string' ? new URL(req.url) : req.url;
  const maxBytes = req.maxBytes ?? 8 * 1024 * 1024;
  return new Promise((resolve) => {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      resolve({ ok: false, reason: `unsupported protocol ${url.protocol}`, timedOut: false });
      return;
    }
    let settled = false;
    const done = (o: HttpOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(o);
    };
    const headers: Record<string, string | number> = { ...(req.headers ?? {}) };
    if (req.body !== undefined) headers['content-length'] = Buffer.byteLength(req.body);
    const mod = url.protocol === 'https:' ? https : http;
    const r = mod.request(url, { method: req.method, headers, agent: agents[url.protocol] }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxBytes) {
          r.destroy();
          done({ ok: false, reason: `response larger than ${maxBytes} bytes`, timedOut: false });
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => {
        const h: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
        done({ ok: true, answer: { status: res.statusCode ?? 0, headers: h, bytes: Buffer.concat(chunks) } });
      });
      res.on('error', (e) => done({ ok: false, reason: `connection failed: ${e.message}`, timedOut: false }));
    });
    const timer = setTimeout(() => {
      r.destroy();
      done({ ok: false, reason: `no answer within ${req.timeoutMs} ms`, timedOut: true });
    }, req.timeoutMs);
    r.on('error', (e) => done({ ok: false, reason: `connection failed: ${e.message}`, timedOut: false }));
    r.end(req.body);
  });
}
