/** SQL for relationships between customers. */
import type { Queryable } from '../../kernel/db.js';
import type { Relationship, RelationshipKind } from './domain/types.js';

type Row = Record<string, unknown>;
const COLS = 'id, customer_id, related_customer_id, kind, share_bp, created_at';

function toRelationship(r: Row): Relationship {
  return {
    id: r['id'] as bigint,
    customerId: r['customer_id'] as bigint,
    relatedCustomerId: r['related_customer_id'] as bigint,
    kind: r['kind'] as RelationshipKind,
    shareBp: (r['share_bp'] as number | null) ?? null,
    createdAt: r['created_at'] as Date,
  };
}

// One arbitrary constant for the advisory lock that serialises parent_organization inserts.
const PARENT_GRAPH_LOCK = 7_208_113_004;

/**
 * Serialises changes to the parent graph for the rest of the transaction. Without it two
 * concurrent inserts (A under B, B under A) could each see no cycle and both commit one.
 */
export async function lockParentGraph(db: Queryable): Promise<void> {
  await db.query('SELECT pg_advisory_xact_lock($1)', [PARENT_GRAPH_LOCK]);
}

/** True when `parentId` is `customerId` itself or one of its descendants (so the link would close a cycle). */
export async function parentWouldCycle(db: Queryable, customerId: bigint, parentId: bigint): Promise<boolean> {
  const r = await db.query(
    `WITH RECURSIVE ancestors(id) AS (
       SELECT $2::bigint
       UNION
       SELECT r.related_customer_id FROM customer_relationships r JOIN ancestors a ON r.customer_id = a.id AND r.kind = 'parent_organization'
     ) SELECT EXISTS (SELECT 1 FROM ancestors WHERE id = $1) AS cycle`,
    [customerId, parentId],
  );
  return (r.rows[0] as Row)['cycle'] as boolean;
}

export async function sumOwnerShares(db: Queryable, customerId: bigint): Promise<number> {
  const r = await db.query(`SELECT coalesce(sum(share_bp), 0)::int AS total FROM customer_relationships WHERE customer_id = $1 AND kind = 'beneficial_owner'`, [customerId]);
  return (r.rows[0] as Row)['total'] as number;
}

export async function insertRelationship(db: Queryable, rel: Omit<Relationship, 'createdAt'>, now: Date): Promise<Relationship> {
  const r = await db.query(
    `INSERT INTO customer_relationships (id, customer_id, related_customer_id, kind, share_bp, created_at) VALUES ($1,$2,$3,$4,$5,$6) RETURNING ${COLS}`,
    [rel.id, rel.customerId, rel.relatedCustomerId, rel.kind, rel.shareBp, now],
  );
  return toRelationship(r.rows[0] as Row);
}

export interface RelationshipFilter {
  customerId: bigint;
  /** outgoing: the customer's own relationships; incoming: where the customer is the related party. */
  direction: 'outgoing' | 'incoming';
  kind?: RelationshipKind;
  afterId?: bigint;
  limit: number;
}

export async function listRelationships(db: Queryable, f: RelationshipFilter): Promise<Relationship[]> {
  const col = f.direction === 'outgoing' ? 'customer_id' : 'related_customer_id';
  const r = await db.query(
    `SELECT ${COLS} FROM customer_relationships WHERE ${col} = $1 AND id > $2 AND ($3::text IS NULL OR kind = $3) ORDER BY id LIMIT $4`,
    [f.customerId, f.afterId ?? -1n, f.kind ?? null, f.limit],
  );
  return (r.rows as Row[]).map(toRelationship);
}

/** Deletes a relationship of the customer; false when there was none with that id. */
export async function deleteRelationship(db: Queryable, customerId: bigint, id: bigint): Promise<boolean> {
  const r = await db.query('DELETE FROM customer_relationships WHERE id = $1 AND customer_id = $2', [id, customerId]);
  return (r.rowCount ?? 0) > 0;
}
