/** Health, readiness and the OpenAPI document. */
import { Type } from 'typebox';
import type { App, AppDeps } from '../app.js';

export function registerSystemRoutes(app: App, deps: AppDeps): void {
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
    try {
      await deps.pool.query('SELECT 1');
      return { status: 'ready' };
    } catch {
      return reply.code(503).send({ error: { code: 'unavailable', message: 'the database is not reachable' } });
    }
  });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  app.get('/', { schema: { hide: true, response: { 200: Type.Object({ name: Type.String(), version: Type.String(), docs: Type.String(), openapi: Type.String() }) } } }, async () => ({
    name: 'paycore',
    version: deps.version,
    docs: '/docs',
    openapi: '/openapi.json',
  }));
}
