/**
 * Relationships between customers, as KYC and risk need them:
 *   parent_organization  the related organization is the parent (母公司) of the customer, an
 *                        organization. At most one parent; the parent graph never has a cycle.
 *   guarantor            the related customer guarantees the customer (mutual guarantees allowed).
 *   beneficial_owner     the related person is a beneficial owner (受益所有人) of the customer, an
 *                        organization or individual business, optionally with a share in basis
 *                        points; the shares of one customer add up to at most 10000 (100%).
 * Beneficial owners are natural persons by regulation, so the related customer must be an individual.
 */
import { isUniqueViolation, withTx, type PoolClient } from '../../kernel/db.js';
import { fail, ok } from '../../kernel/errors.js';
import type { Ctx, PartiesResult } from './context.js';
import * as customers from './customers.store.js';
import { RELATIONSHIP_KINDS, type Customer, type Relationship, type RelationshipKind } from './domain/types.js';
import { isOneOf } from './domain/validate.js';
import * as store from './relationships.store.js';

export interface AddRelationshipInput {
  customerId: bigint;
  relatedCustomerId: bigint;
  kind: string;
  shareBp?: number;
}

function checkInput(inp: AddRelationshipInput): PartiesResult<RelationshipKind> {
  if (!isOneOf(RELATIONSHIP_KINDS, inp.kind)) return fail('invalid_relationship', `kind must be one of ${RELATIONSHIP_KINDS.join(', ')}`);
  if (inp.customerId === inp.relatedCustomerId) return fail('invalid_relationship', 'a customer cannot be related to itself');
  if (inp.shareBp !== undefined) {
    if (inp.kind !== 'beneficial_owner') return fail('invalid_relationship', 'share_bp is only for beneficial_owner relationships');
    if (!Number.isInteger(inp.shareBp) || inp.shareBp < 1 || inp.shareBp > 10000) return fail('invalid_relationship', 'share_bp must be an integer from 1 to 10000 (basis points)');
  }
  return ok(inp.kind);
}

function checkKinds(kind: RelationshipKind, c: Customer, related: Customer): PartiesResult<true> {
  switch (kind) {
    case 'parent_organization':
      if (c.kind !== 'organization' || related.kind !== 'organization') return fail('customer_kind_not_allowed', 'a parent_organization links two organizations');
      break;
    case 'beneficial_owner':
      if (c.kind === 'individual') return fail('customer_kind_not_allowed', 'only organizations and individual businesses have beneficial owners');
      if (related.kind !== 'individual') return fail('customer_kind_not_allowed', 'a beneficial owner is a natural person (an individual customer)');
      break;
    case 'guarantor':
      break;
  }
  return ok(true);
}

/** Locks both customers in id order, so two requests linking the same pair cannot deadlock. */
async function lockPair(db: PoolClient, a: bigint, b: bigint): Promise<[Customer | undefined, Customer | undefined]> {
  const [first, second] = a < b ? [a, b] : [b, a];
  const x = await customers.getCustomer(db, first, 'update');
  const y = await customers.getCustomer(db, second, 'update');
  return a < b ? [x, y] : [y, x];
}

export async function addRelationship(ctx: Ctx, inp: AddRelationshipInput): Promise<PartiesResult<Relationship>> {
  const k = checkInput(inp);
  if (!k.ok) return k;
  const kind = k.value;
  try {
    return await withTx(ctx.pool, async (db): Promise<PartiesResult<Relationship>> => {
      if (kind === 'parent_organization') await store.lockParentGraph(db);
      const [c, related] = await lockPair(db, inp.customerId, inp.relatedCustomerId);
      if (!c) return fail('customer_not_found', `customer ${inp.customerId} does not exist`);
      if (!related) return fail('customer_not_found', `customer ${inp.relatedCustomerId} does not exist`, { field: 'related_customer_id' });
      if (c.status === 'closed' || related.status === 'closed') return fail('customer_closed', 'relationships cannot be added to a closed customer');
      const kinds = checkKinds(kind, c, related);
      if (!kinds.ok) return kinds;
      if (kind === 'parent_organization') {
        const [parent] = await store.listRelationships(db, { customerId: c.id, direction: 'outgoing', kind, limit: 1 });
        if (parent) {
          return parent.relatedCustomerId === related.id
            ? fail('relationship_exists', 'this relationship already exists', { relationship_id: parent.id.toString() })
            : fail('parent_already_set', `customer ${c.id} already has a parent organization`, { relationship_id: parent.id.toString() });
        }
        if (await store.parentWouldCycle(db, c.id, related.id)) {
          return fail('relationship_cycle', `customer ${related.id} is already below customer ${c.id}; the link would make a cycle`);
        }
      }
      if (kind === 'beneficial_owner' && inp.shareBp !== undefined) {
        const total = await store.sumOwnerShares(db, c.id);
        if (total + inp.shareBp > 10000) return fail('share_exceeds_total', `beneficial owners would hold ${total + inp.shareBp} basis points, more than 10000`, { current_total_bp: total });
      }
      const rel = await store.insertRelationship(db, { id: ctx.nextId(), customerId: c.id, relatedCustomerId: related.id, kind, shareBp: inp.shareBp ?? null }, ctx.clock.now());
      return ok(rel);
    });
  } catch (e) {
    if (isUniqueViolation(e, 'customer_relationships_unique')) return fail('relationship_exists', 'this relationship already exists');
    if (isUniqueViolation(e, 'customer_relationships_one_parent')) return fail('parent_already_set', `customer ${inp.customerId} already has a parent organization`);
    throw e;
  }
}

export async function listRelationships(ctx: Ctx, f: store.RelationshipFilter): Promise<PartiesResult<Relationship[]>> {
  if (!(await customers.getCustomer(ctx.pool, f.customerId))) return fail('customer_not_found', `customer ${f.customerId} does not exist`);
  return ok(await store.listRelationships(ctx.pool, f));
}

export async function removeRelationship(ctx: Ctx, inp: { customerId: bigint; relationshipId: bigint }): Promise<PartiesResult<true>> {
  const gone = await store.deleteRelationship(ctx.pool, inp.customerId, inp.relationshipId);
  return gone ? ok(true) : fail('relationship_not_found', `customer ${inp.customerId} has no relationship ${inp.relationshipId}`);
}
