/**
 * Outbound HTTP for the server's own calls (channel requests, merchant notifications): node:http
 * and node:https over keep-alive agents, with a hard deadline for the whole exchange and a cap on
 * the answer's size. No redirects are followed and nothing is retried blindly — the caller decides
 * what a lost exchange means (for a channel: an unknown outcome, asked about later); only an
 * idempotent request that met a socket the server had just closed is sent again (see httpSend).
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

/**
 * `stage` of a failed exchange: `queued` — no socket was free before the deadline (our own
 * congestion; nothing was sent); `connecting` — the connection could not be made (nothing was
 * sent); `sent` — the request went out and no complete answer came (the outcome is unknown).
 */
export type HttpOutcome = { ok: true; answer: HttpAnswer } | { ok: false; reason: string; timedOut: boolean; stage: 'queued' | 'connecting' | 'sent' };

const agents = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: 64, maxFreeSockets: 16, timeout: 4_000 }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: 64, maxFreeSockets: 16, timeout: 4_000 }),
};

/**
 * `idempotent`: the request may be sent twice (it carries its own idempotency key, or only reads).
 * Then, and only then, a request that met a kept-alive socket the server had just closed (reset
 * before any answer) is sent once more on a fresh socket — the race every keep-alive client meets.
 */
export async function httpSend(req: { url: string | URL; method: string; headers?: Record<string, string>; body?: string | Buffer | undefined; timeoutMs: number; maxBytes?: number; idempotent?: boolean }): Promise<HttpOutcome> {
  const started = Date.now();
  const first = await sendOnce(req, req.timeoutMs);
  if (first.ok || !first.staleSocket || !req.idempotent) return strip(first);
  const left = req.timeoutMs - (Date.now() - started);
  return left > 0 ? strip(await sendOnce(req, left)) : strip(first);
}

type Attempt = HttpOutcome & { staleSocket?: boolean };
const strip = (a: Attempt): HttpOutcome => {
  if (a.ok) return a;
  const { staleSocket: _drop, ...rest } = a;
  return rest;
};

function sendOnce(req: { url: string | URL; method: string; headers?: Record<string, string>; body?: string | Buffer | undefined; maxBytes?: number }, timeoutMs: number): Promise<Attempt> {
  const url = typeof req.url === 'string' ? new URL(req.url) : req.url;
  const maxBytes = req.maxBytes ?? 8 * 1024 * 1024;
  return new Promise((resolve) => {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      resolve({ ok: false, reason: `unsupported protocol ${url.protocol}`, timedOut: false, stage: 'connecting' });
      return;
    }
    let settled = false;
    let stage: 'queued' | 'connecting' | 'sent' = 'queued';
    let answered = false;
    const done = (o: Attempt) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(o);
    };
    const headers: Record<string, string | number> = { ...(req.headers ?? {}) };
    if (req.body !== undefined) headers['content-length'] = Buffer.byteLength(req.body);
    const mod = url.protocol === 'https:' ? https : http;
    const r = mod.request(url, { method: req.method, headers, agent: agents[url.protocol] }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxBytes) {
          r.destroy();
          done({ ok: false, reason: `response larger than ${maxBytes} bytes`, timedOut: false, stage: 'sent' });
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => {
        const h: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
        done({ ok: true, answer: { status: res.statusCode ?? 0, headers: h, bytes: Buffer.concat(chunks) } });
      });
      res.on('error', (e) => done({ ok: false, reason: `connection failed: ${e.message}`, timedOut: false, stage: 'sent' }));
    });
    r.on('socket', (sock) => {
      if (r.reusedSocket || !sock.connecting) {
        stage = 'sent';
        return;
      }
      stage = 'connecting';
      sock.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => (stage = 'sent'));
    });
    const timer = setTimeout(() => {
      r.destroy();
      done({ ok: false, reason: stage === 'queued' ? `no connection free within ${timeoutMs} ms` : `no answer within ${timeoutMs} ms`, timedOut: true, stage });
    }, timeoutMs);
    r.on('error', (e: NodeJS.ErrnoException) => {
      const stale = r.reusedSocket && !answered && (e.code === 'ECONNRESET' || e.code === 'EPIPE');
      done({ ok: false, reason: `connection failed: ${e.message}`, timedOut: false, stage, ...(stale ? { staleSocket: true } : {}) });
    });
    r.end(req.body);
  });
}
