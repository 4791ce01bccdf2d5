// Proves customers, relationships and users against real PostgreSQL: sealed and hashed ID numbers, duplicates, validation that writes nothing, status rules, parent cycles, shares and unique login names.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../kernel/clock.js';
import { MasterKey } from '../../kernel/secret.js';
import { ledgerFixture, type LedgerFixture } from '../../../test/support/ledger.js';
import { Parties, sampleResidentId, sampleUscc, type Customer } from './index.js';

let f: LedgerFixture;
let parties: Parties;
let masterKey: MasterKey;
let n = 0;

beforeAll(async () => {
  f = await ledgerFixture();
  masterKey = MasterKey.generate();
  parties = new Parties({ pool: f.db.pool, clock: systemClock, nextId: f.nextId, ledger: f.ledger, masterKey });
});
afterAll(async () => {
  await f.close();
});

const code = (r: { ok: boolean; code?: string }): string => (r.ok ? 'ok' : r.code ?? '');

async function person(extra: { realNameLevel?: number } = {}): Promise<Customer> {
  const r = await parties.createCustomer({ kind: 'individual', legalName: `张三 ${++n}`, idType: 'resident_id', idNumber: sampleResidentId(n), ...extra });
  if (!r.ok) throw new Error(r.code);
  return r.value;
}

async function org(): Promise<Customer> {
  const r = await parties.createCustomer({ kind: 'organization', legalName: `上海测试科技有限公司 ${++n}`, idType: 'uscc', idNumber: sampleUscc(n) });
  if (!r.ok) throw new Error(r.code);
  return r.value;
}

async function count(table: string): Promise<number> {
  const r = await f.db.pool.query(`SELECT count(*)::int AS n FROM ${table}`);
  return (r.rows[0] as { n: number }).n;
}

describe('customers', () => {
  it('stores the ID number and phone only sealed, shows them masked, and finds the customer by document', async () => {
    const r = await parties.createCustomer({ kind: 'individual', legalName: '李四', idType: 'resident_id', idNumber: '11010519491231002x', phone: '+86 138 1234 5678', realNameLevel: 1 });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value).toMatchObject({ idNumberMasked: '110***********002X', phoneMasked: '138****5678', realNameLevel: 1, status: 'active' });
    const row = (await f.db.pool.query('SELECT * FROM customers WHERE id = $1', [r.value.id])).rows[0] as Record<string, string>;
    const dump = JSON.stringify(row, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    expect(dump).not.toContain('11010519491231002');
    expect(dump).not.toContain('13812345678');
    expect(masterKey.open(row['id_number_sealed']!, `customer:${r.value.id}:id_number`).toString()).toBe('11010519491231002X');
    expect(masterKey.open(row['phone_sealed']!, `customer:${r.value.id}:phone`).toString()).toBe('13812345678');
    // The seal is bound to its customer: moved to another row it does not open.
    expect(() => masterKey.open(row['id_number_sealed']!, `customer:${r.value.id + 1n}:id_number`)).toThrow();
    const found = await parties.findCustomerByDocument({ idType: 'resident_id', idNumber: ' 11010519491231002X ' });
    expect(found.ok && found.value.id).toBe(r.value.id);
    expect(code(await parties.findCustomerByDocument({ idType: 'passport', idNumber: '11010519491231002X' }))).toBe('customer_not_found');
  });

  it('refuses a second open customer with the same document, naming the first', async () => {
    const a = await person();
    const again = await parties.createCustomer({ kind: 'individual', legalName: 'someone else', idType: 'resident_id', idNumber: sampleResidentId(n) });
    expect(code(again)).toBe('customer_exists');
    expect(!again.ok && again.details).toEqual({ customer_id: a.id.toString() });
  });

  it('refuses bad input with a stable code and writes nothing', async () => {
    const before = await count('customers');
    const bad: [Parameters<Parties['createCustomer']>[0], string][] = [
      [{ kind: 'individual', legalName: 'x', idType: 'resident_id', idNumber: '110105194912310021' }, 'invalid_id_number'],
      [{ kind: 'organization', legalName: 'x', idType: 'uscc', idNumber: '9144030071526726XH' }, 'invalid_id_number'],
      [{ kind: 'organization', legalName: 'x', idType: 'resident_id', idNumber: '11010519491231002X' }, 'invalid_customer'],
      [{ kind: 'individual', legalName: 'x', idType: 'uscc', idNumber: '9144030071526726XG' }, 'invalid_customer'],
      [{ kind: 'robot', legalName: 'x', idType: 'passport', idNumber: 'E12345678' }, 'invalid_customer'],
      [{ kind: 'individual', legalName: '  ', idType: 'passport', idNumber: 'E12345678' }, 'invalid_customer'],
      [{ kind: 'individual', legalName: 'a\u0000b', idType: 'passport', idNumber: 'E12345678' }, 'invalid_customer'],
      [{ kind: 'individual', legalName: 'x'.repeat(201), idType: 'passport', idNumber: 'E12345678' }, 'invalid_customer'],
      [{ kind: 'individual', legalName: 'x', idType: 'passport', idNumber: 'E12345678', phone: '12345' }, 'invalid_phone'],
      [{ kind: 'individual', legalName: 'x', idType: 'passport', idNumber: 'E12345678', realNameLevel: 4 }, 'invalid_customer'],
    ];
    for (const [inp, want] of bad) expect(code(await parties.createCustomer(inp)), JSON.stringify(inp)).toBe(want);
    expect(await count('customers')).toBe(before);
  });

  it('freezes, unfreezes and closes a customer; closed is final and the changes are logged', async () => {
    const c = await person();
    expect(code(await parties.setCustomerStatus({ id: c.id, status: 'frozen', reason: 'risk review', actor: 'op:1' }))).toBe('ok');
    expect(code(await parties.setCustomerStatus({ id: c.id, status: 'active' }))).toBe('ok');
    expect(code(await parties.setCustomerStatus({ id: c.id, status: 'closed' }))).toBe('ok');
    expect(code(await parties.setCustomerStatus({ id: c.id, status: 'active' }))).toBe('invalid_status_transition');
    expect(code(await parties.setCustomerStatus({ id: c.id, status: 'asleep' }))).toBe('invalid_customer');
    expect(code(await parties.setCustomerStatus({ id: 1n, status: 'frozen' }))).toBe('customer_not_found');
    const log = await parties.changes({ entity: 'customer', entityId: c.id.toString() });
    expect(log.map((x) => `${x.oldValue}>${x.newValue}`)).toEqual(['active>frozen', 'frozen>active', 'active>closed']);
    expect(log[0]).toMatchObject({ reason: 'risk review', actor: 'op:1' });
  });

  it('refuses to close a customer that still has an open account, and re-onboards a closed document', async () => {
    const c = await person();
    const acct = await parties.openAccount({ customerId: c.id, kind: 'balance', currency: 'CNY' });
    expect(acct.ok).toBe(true);
    expect(code(await parties.setCustomerStatus({ id: c.id, status: 'closed' }))).toBe('customer_not_closable');
    if (acct.ok) expect(code(await parties.setAccountStatus({ customerId: c.id, accountId: acct.value.account.account.id, status: 'closed' }))).toBe('ok');
    expect(code(await parties.setCustomerStatus({ id: c.id, status: 'closed' }))).toBe('ok');
    const again = await parties.createCustomer({ kind: 'individual', legalName: 'returning', idType: 'resident_id', idNumber: sampleResidentId(n) });
    expect(again.ok && again.value.id !== c.id).toBe(true);
  });
});

describe('relationships', () => {
  it('refuses a parent_organization cycle, also through several levels', async () => {
    const [a, b, c] = [await org(), await org(), await org()];
    expect(code(await parties.addRelationship({ customerId: a.id, relatedCustomerId: b.id, kind: 'parent_organization' }))).toBe('ok');
    expect(code(await parties.addRelationship({ customerId: b.id, relatedCustomerId: c.id, kind: 'parent_organization' }))).toBe('ok');
    expect(code(await parties.addRelationship({ customerId: c.id, relatedCustomerId: a.id, kind: 'parent_organization' }))).toBe('relationship_cycle');
    expect(code(await parties.addRelationship({ customerId: b.id, relatedCustomerId: a.id, kind: 'parent_organization' }))).toBe('parent_already_set');
    expect(code(await parties.addRelationship({ customerId: a.id, relatedCustomerId: c.id, kind: 'parent_organization' }))).toBe('parent_already_set');
    expect(code(await parties.addRelationship({ customerId: a.id, relatedCustomerId: b.id, kind: 'parent_organization' }))).toBe('relationship_exists');
  });

  it('lets only one of two concurrent opposite parent links commit', async () => {
    const [a, b] = [await org(), await org()];
    const rs = await Promise.all([
      parties.addRelationship({ customerId: a.id, relatedCustomerId: b.id, kind: 'parent_organization' }),
      parties.addRelationship({ customerId: b.id, relatedCustomerId: a.id, kind: 'parent_organization' }),
    ]);
    expect(rs.map(code).sort()).toEqual(['ok', 'relationship_cycle']);
  });

  it('refuses self-relationships, duplicates, wrong kinds, unknown customers and shares over 100%', async () => {
    const [o, p1, p2] = [await org(), await person(), await person()];
    const before = await count('customer_relationships');
    expect(code(await parties.addRelationship({ customerId: o.id, relatedCustomerId: o.id, kind: 'guarantor' }))).toBe('invalid_relationship');
    expect(code(await parties.addRelationship({ customerId: o.id, relatedCustomerId: p1.id, kind: 'guarantor', shareBp: 10 }))).toBe('invalid_relationship');
    expect(code(await parties.addRelationship({ customerId: o.id, relatedCustomerId: p1.id, kind: 'beneficial_owner', shareBp: 0 }))).toBe('invalid_relationship');
    expect(code(await parties.addRelationship({ customerId: o.id, relatedCustomerId: p1.id, kind: 'sibling' }))).toBe('invalid_relationship');
    expect(code(await parties.addRelationship({ customerId: o.id, relatedCustomerId: p1.id, kind: 'parent_organization' }))).toBe('customer_kind_not_allowed');
    expect(code(await parties.addRelationship({ customerId: p1.id, relatedCustomerId: p2.id, kind: 'beneficial_owner' }))).toBe('customer_kind_not_allowed');
    expect(code(await parties.addRelationship({ customerId: o.id, relatedCustomerId: 42n, kind: 'guarantor' }))).toBe('customer_not_found');
    expect(await count('customer_relationships')).toBe(before);

    expect(code(await parties.addRelationship({ customerId: o.id, relatedCustomerId: p1.id, kind: 'beneficial_owner', shareBp: 6000 }))).toBe('ok');
    expect(code(await parties.addRelationship({ customerId: o.id, relatedCustomerId: p1.id, kind: 'beneficial_owner', shareBp: 100 }))).toBe('relationship_exists');
    const over = await parties.addRelationship({ customerId: o.id, relatedCustomerId: p2.id, kind: 'beneficial_owner', shareBp: 4001 });
    expect(code(over)).toBe('share_exceeds_total');
    expect(code(await parties.addRelationship({ customerId: o.id, relatedCustomerId: p2.id, kind: 'beneficial_owner', shareBp: 4000 }))).toBe('ok');
    expect(code(await parties.addRelationship({ customerId: o.id, relatedCustomerId: p2.id, kind: 'guarantor' }))).toBe('ok');
  });

  it('lists both directions and removes a relationship', async () => {
    const [o, p] = [await org(), await person()];
    const g = await parties.addRelationship({ customerId: o.id, relatedCustomerId: p.id, kind: 'guarantor' });
    if (!g.ok) throw new Error(g.code);
    const out = await parties.listRelationships({ customerId: o.id, limit: 10 });
    const inc = await parties.listRelationships({ customerId: p.id, direction: 'incoming', limit: 10 });
    expect(out.ok && out.value.map((r) => r.id)).toEqual([g.value.id]);
    expect(inc.ok && inc.value.map((r) => r.id)).toEqual([g.value.id]);
    expect(code(await parties.removeRelationship({ customerId: p.id, relationshipId: g.value.id }))).toBe('relationship_not_found');
    expect(code(await parties.removeRelationship({ customerId: o.id, relationshipId: g.value.id }))).toBe('ok');
    const after = await parties.listRelationships({ customerId: o.id, limit: 10 });
    expect(after.ok && after.value).toEqual([]);
  });
});

describe('users', () => {
  it('creates users with roles and refuses a login name taken in any letter case, platform-wide', async () => {
    const [a, b] = [await org(), await org()];
    const u = await parties.createUser({ customerId: a.id, loginName: 'Finance.Wang', displayName: '王会计', roles: ['finance', 'viewer'] });
    expect(u.ok && u.value).toMatchObject({ loginName: 'finance.wang', roles: ['finance', 'viewer'], status: 'active' });
    expect(code(await parties.createUser({ customerId: b.id, loginName: 'FINANCE.WANG', roles: ['owner'] }))).toBe('login_name_taken');
    const byLogin = await parties.getUserByLogin({ loginName: 'finance.WANG' });
    expect(byLogin.ok && byLogin.value.customerId).toBe(a.id);
  });

  it('refuses bad input, unknown and inactive customers, and writes nothing', async () => {
    const c = await org();
    const before = await count('customer_users');
    expect(code(await parties.createUser({ customerId: c.id, loginName: 'x', roles: ['owner'] }))).toBe('invalid_login_name');
    expect(code(await parties.createUser({ customerId: c.id, loginName: 'okname', roles: ['superuser'] }))).toBe('invalid_user');
    expect(code(await parties.createUser({ customerId: c.id, loginName: 'okname', roles: [] }))).toBe('invalid_user');
    expect(code(await parties.createUser({ customerId: 7n, loginName: 'okname', roles: ['owner'] }))).toBe('customer_not_found');
    await parties.setCustomerStatus({ id: c.id, status: 'frozen' });
    expect(code(await parties.createUser({ customerId: c.id, loginName: 'okname', roles: ['owner'] }))).toBe('customer_not_active');
    expect(await count('customer_users')).toBe(before);
  });

  it('disables and re-enables a user of its own customer only', async () => {
    const [a, b] = [await org(), await org()];
    const u = await parties.createUser({ customerId: a.id, loginName: `ops-${n}`, roles: ['operator'] });
    if (!u.ok) throw new Error(u.code);
    expect(code(await parties.setUserStatus({ customerId: b.id, userId: u.value.id, status: 'disabled' }))).toBe('user_not_found');
    const d = await parties.setUserStatus({ customerId: a.id, userId: u.value.id, status: 'disabled' });
    expect(d.ok && d.value.status).toBe('disabled');
    const listed = await parties.listUsers({ customerId: a.id, limit: 10 });
    expect(listed.ok && listed.value.map((x) => x.status)).toEqual(['disabled']);
  });
});
