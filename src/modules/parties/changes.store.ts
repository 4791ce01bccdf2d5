/** SQL for the change log of party records: who changed which status (or level), when and why. */
import type { Queryable } from '../../kernel/db.js';

type Row = Record<string, unknown>;

export type ChangeEntity = 'customer' | 'user' | 'business_account' | 'merchant' | 'credential' | 'operator_token';

export interface Change {
  entity: ChangeEntity;
  entityId: string;
  field: string;
  oldValue: string;
  newValue: string;
  reason: string;
  actor: string;
}

export async function insertChange(db: Queryable, id: bigint, c: Change, now: Date): Promise<void> {
  await db.query(
    'INSERT INTO party_changes (id, entity, entity_id, field, old_value, new_value, reason, actor, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)',
    [id, c.entity, c.entityId, c.field, c.oldValue, c.newValue, c.reason, c.actor, now],
  );
}

export async function listChanges(db: Queryable, entity: ChangeEntity, entityId: string): Promise<(Change & { createdAt: Date })[]> {
  const r = await db.query('SELECT * FROM party_changes WHERE entity = $1 AND entity_id = $2 ORDER BY id', [entity, entityId]);
  return (r.rows as Row[]).map((x) => ({
    entity: x['entity'] as ChangeEntity, entityId: x['entity_id'] as string, field: x['field'] as string, oldValue: x['old_value'] as string,
    newValue: x['new_value'] as string, reason: x['reason'] as string, actor: x['actor'] as string, createdAt: x['created_at'] as Date,
  }));
}
