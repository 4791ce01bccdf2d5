// Proves business accounts and merchants against real PostgreSQL and the real ledger: backing ledger accounts, external_ref idempotency, mirrored freezes, no overdraft, crash recovery, merchant onboarding and status rules.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../kernel/clock.js';
import { parseBusinessNo } from '../../kernel/ids.js';
import { MasterKey } from '../../kernel/secret.js';
import { ledgerFixture, type LedgerFixture } from '../../../test/support/ledger.js';
import { Parties, sampleResidentId, sampleUscc, type Customer } from './index.js';

let f: LedgerFixture;
let parties: Parties;
let bank: bigint;
let n = 0;
let k = 0;

beforeAll(async () => {
  f = await ledgerFixture();
  parties = new Parties({ pool: f.db.pool, clock: systemClock, nextId: f.nextId, ledger: f.ledger, masterKey: MasterKey.generate() });
  bank = await f.account({ type: 'asset' });
});
afterAll(async () => {
  await f.close();
});

const code = (r: { ok: boolean; code?: string }): string => (r.ok ? 'ok' : r.code ?? '');

async function customer(kind: 'individual' | 'organization' = 'organization', realNameLevel = 0): Promise<Customer> {
  n++;
  const r = kind === 'individual'
    ? await parties.createCustomer({ kind, legalName: `个人 ${n}`, idType: 'resident_id', idNumber: sampleResidentId(n), realNameLevel })
    : await parties.createCustomer({ kind, legalName: `公司 ${n}`, idType: 'uscc', idNumber: sampleUscc(n), realNameLevel });
  if (!r.ok) throw new Error(r.code);
  return r.value;
}

async function pay(ledgerAccountId: bigint, amount: bigint): Promise<string> {
  const r = await f.ledger.transfer({ idempotencyKey: `t-${++k}`, debitAccountId: bank, creditAccountId: ledgerAccountId, amount, currency: 'CNY' });
  return r.ok ? 'ok' : r.code;
}

async function count(table: string): Promise<number> {
  return ((await f.db.pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0] as { n: number }).n;
}

describe('business accounts', () => {
  it('opens an account backed by a ledger account with the documented ref, owner, subject and no-overdraft limit', async () => {
    const c = await customer('individual');
    const r = await parties.openAccount({ customerId: c.id, kind: 'balance', currency: 'CNY' });
    expect(r.ok && r.value.created).toBe(true);
    if (!r.ok) return;
    const a = r.value.account;
    const l = await f.ledger.getAccount(a.account.ledgerAccountId);
    expect(l.ok && l.value).toMatchObject({ ref: `party-account:${a.account.id}`, ownerId: c.id, subjectCode: '225103', type: 'liability', debitsMustNotExceedCredits: true, currency: 'CNY' });
    expect(await pay(a.account.ledgerAccountId, 1500n)).toBe('ok');
    const after = await parties.getAccount({ customerId: c.id, accountId: a.account.id });
    expect(after.ok && after.value.balances).toEqual({ postedMinor: 1500n, availableMinor: 1500n, debitsPendingMinor: 0n, creditsPendingMinor: 0n });
    const spend = await f.ledger.transfer({ idempotencyKey: `t-${++k}`, debitAccountId: a.account.ledgerAccountId, creditAccountId: bank, amount: 1501n, currency: 'CNY' });
    expect(code(spend)).toBe('insufficient_funds');
  });

  it('is idempotent by external_ref, refuses reuse for another kind, and makes one account under concurrency', async () => {
    const c = await customer();
    const first = await parties.openAccount({ customerId: c.id, kind: 'deposit', currency: 'CNY', externalRef: 'dep-1' });
    const again = await parties.openAccount({ customerId: c.id, kind: 'deposit', currency: 'CNY', externalRef: 'dep-1' });
    expect(first.ok && again.ok && !again.value.created && again.value.account.account.id === first.value.account.account.id).toBe(true);
    expect(code(await parties.openAccount({ customerId: c.id, kind: 'balance', currency: 'CNY', externalRef: 'dep-1' }))).toBe('business_account_ref_conflict');
    const race = await Promise.all(Array.from({ length: 5 }, () => parties.openAccount({ customerId: c.id, kind: 'balance', currency: 'USD', externalRef: 'race' })));
    expect(race.every((r) => r.ok)).toBe(true);
    expect(new Set(race.map((r) => (r.ok ? r.value.account.account.id : 0n))).size).toBe(1);
    const list = await parties.listAccounts({ customerId: c.id, limit: 50 });
    expect(list.ok && list.value.length).toBe(2);
    // No orphans: every ledger account owned by this customer backs one of its business accounts.
    const owned = await f.ledger.listAccounts({ ownerId: c.id, limit: 50 });
    expect(owned.length).toBe(2);
  });

  it('refuses bad kinds, currencies, refs, customers and holders, writing nothing', async () => {
    const person = await customer('individual');
    const before = await count('business_accounts');
    expect(code(await parties.openAccount({ customerId: person.id, kind: 'loan', currency: 'CNY' }))).toBe('invalid_business_account');
    expect(code(await parties.openAccount({ customerId: person.id, kind: 'balance', currency: 'XXX' }))).toBe('invalid_business_account');
    expect(code(await parties.openAccount({ customerId: person.id, kind: 'balance', currency: 'CNY', externalRef: 'has space' }))).toBe('invalid_business_account');
    expect(code(await parties.openAccount({ customerId: 9n, kind: 'balance', currency: 'CNY' }))).toBe('customer_not_found');
    expect(code(await parties.openAccount({ customerId: person.id, kind: 'merchant_settlement', currency: 'CNY' }))).toBe('customer_kind_not_allowed');
    expect(await count('business_accounts')).toBe(before);
  });

  it('mirrors freezes onto the ledger, which then refuses transfers, and refuses to close a non-empty account', async () => {
    const c = await customer();
    const r = await parties.openAccount({ customerId: c.id, kind: 'balance', currency: 'CNY' });
    if (!r.ok) throw new Error(r.code);
    const id = r.value.account.account.id;
    const lid = r.value.account.account.ledgerAccountId;
    const frozen = await parties.setAccountStatus({ customerId: c.id, accountId: id, status: 'frozen', reason: 'court order', actor: 'op:7' });
    expect(frozen.ok && [frozen.value.account.status, frozen.value.ledgerStatus]).toEqual(['frozen', 'frozen']);
    expect(await pay(lid, 100n)).toBe('credit_account_frozen');
    const changes = await f.ledger.accountChanges(lid);
    expect(changes.at(-1)).toMatchObject({ newValue: 'frozen', reason: 'court order', actor: 'op:7' });
    expect(code(await parties.setAccountStatus({ customerId: c.id, accountId: id, status: 'active' }))).toBe('ok');
    expect(await pay(lid, 100n)).toBe('ok');
    expect(code(await parties.setAccountStatus({ customerId: c.id, accountId: id, status: 'closed' }))).toBe('account_not_empty');
    const still = await parties.getAccount({ customerId: c.id, accountId: id });
    expect(still.ok && [still.value.account.status, still.value.ledgerStatus]).toEqual(['active', 'active']);
    const other = await customer();
    expect(code(await parties.setAccountStatus({ customerId: other.id, accountId: id, status: 'frozen' }))).toBe('business_account_not_found');
  });

  it('completes an account whose ledger account was never created (a crash between the two steps)', async () => {
    const c = await customer();
    const id = f.nextId();
    const now = new Date();
    await f.db.pool.query(`INSERT INTO business_accounts (id, customer_id, kind, currency, status, created_at, updated_at) VALUES ($1, $2, 'balance', 'CNY', 'active', $3, $3)`, [id, c.id, now]);
    const r = await parties.getAccount({ customerId: c.id, accountId: id });
    expect(r.ok).toBe(true);
    const row = (await f.db.pool.query('SELECT ledger_account_id FROM business_accounts WHERE id = $1', [id])).rows[0] as { ledger_account_id: bigint };
    expect(r.ok && row.ledger_account_id).toBe(r.ok ? r.value.account.ledgerAccountId : -1n);
    const byRef = await f.ledger.getAccountByRef(`party-account:${id}`);
    expect(byRef.ok && byRef.value.id).toBe(row.ledger_account_id);
  });
});

describe('merchants', () => {
  const profile = { displayName: '测试商户', notifyDomains: ['shop.example.com'], mcc: '5812', settlementCycle: 'T+1', feePlanRef: 'std-0.6' };

  it('creates a pending merchant with a readable number and a CNY settlement account on subject 225101', async () => {
    const c = await customer();
    const r = await parties.createMerchant({ customerId: c.id, ...profile });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value).toMatchObject({ status: 'pending', notifyDomains: ['shop.example.com'], mcc: '5812', settlementCycle: 'T+1', feePlanRef: 'std-0.6' });
    expect(parseBusinessNo(r.value.merchantNo)).toEqual({ prefix: 'M', id: r.value.id });
    const accts = await parties.merchantAccounts({ merchantId: r.value.id, limit: 10 });
    expect(accts.ok && accts.value.map((v) => [v.account.id, v.account.kind, v.account.currency])).toEqual([[r.value.settlementAccountId, 'merchant_settlement', 'CNY']]);
    const l = accts.ok ? await f.ledger.getAccount(accts.value[0]!.account.ledgerAccountId) : undefined;
    expect(l?.ok && l.value.subjectCode).toBe('225101');
    expect(code(await parties.createMerchant({ customerId: c.id, ...profile }))).toBe('merchant_exists');
    expect(code(await parties.openAccount({ customerId: c.id, kind: 'merchant_settlement', currency: 'CNY' }))).toBe('business_account_exists');
  });

  it('refuses individuals, inactive customers and bad profiles, writing nothing', async () => {
    const [person, frozen, okOrg] = [await customer('individual'), await customer(), await customer()];
    await parties.setCustomerStatus({ id: frozen.id, status: 'frozen' });
    const before = [await count('merchants'), await count('business_accounts')];
    expect(code(await parties.createMerchant({ customerId: person.id, ...profile }))).toBe('customer_kind_not_allowed');
    expect(code(await parties.createMerchant({ customerId: frozen.id, ...profile }))).toBe('customer_not_active');
    expect(code(await parties.createMerchant({ customerId: 3n, ...profile }))).toBe('customer_not_found');
    expect(code(await parties.createMerchant({ customerId: okOrg.id, ...profile, notifyDomains: ['10.0.0.1'] }))).toBe('invalid_domain');
    expect(code(await parties.createMerchant({ customerId: okOrg.id, ...profile, settlementCycle: 'T+31' }))).toBe('invalid_settlement_cycle');
    expect(code(await parties.createMerchant({ customerId: okOrg.id, ...profile, mcc: '58' }))).toBe('invalid_merchant');
    expect(code(await parties.createMerchant({ customerId: okOrg.id, ...profile, displayName: '' }))).toBe('invalid_merchant');
    expect(code(await parties.createMerchant({ customerId: okOrg.id, ...profile, feePlanRef: 'bad ref' }))).toBe('invalid_merchant');
    expect([await count('merchants'), await count('business_accounts')]).toEqual(before);
  });

  it('enforces status transitions and needs real-name level 2 to activate', async () => {
    const c = await customer('organization', 1);
    const m = await parties.createMerchant({ customerId: c.id, ...profile });
    if (!m.ok) throw new Error(m.code);
    const id = m.value.id;
    expect(code(await parties.setMerchantStatus({ id, status: 'suspended' }))).toBe('invalid_status_transition');
    expect(code(await parties.setMerchantStatus({ id, status: 'active' }))).toBe('real_name_level_too_low');
    expect(code(await parties.setRealNameLevel({ id: c.id, level: 2, reason: 'business licence verified' }))).toBe('ok');
    expect(code(await parties.setMerchantStatus({ id, status: 'active' }))).toBe('ok');
    expect(code(await parties.setMerchantStatus({ id, status: 'pending' }))).toBe('invalid_status_transition');
    expect(code(await parties.setMerchantStatus({ id, status: 'suspended', reason: 'chargebacks' }))).toBe('ok');
    expect(code(await parties.setMerchantStatus({ id, status: 'active' }))).toBe('ok');
    expect(code(await parties.setMerchantStatus({ id, status: 'closed' }))).toBe('ok');
    expect(code(await parties.setMerchantStatus({ id, status: 'active' }))).toBe('invalid_status_transition');
    const log = await parties.changes({ entity: 'merchant', entityId: id.toString() });
    expect(log.map((x) => x.newValue)).toEqual(['active', 'suspended', 'active', 'closed']);
  });

  it('shows a merchant the statement of its own accounts only', async () => {
    const [a, b] = [await customer(), await customer()];
    const ma = await parties.createMerchant({ customerId: a.id, ...profile });
    const mb = await parties.createMerchant({ customerId: b.id, ...profile });
    if (!ma.ok || !mb.ok) throw new Error('setup');
    const acct = await parties.getAccount({ customerId: a.id, accountId: ma.value.settlementAccountId });
    if (!acct.ok) throw new Error(acct.code);
    expect(await pay(acct.value.account.ledgerAccountId, 880n)).toBe('ok');
    const own = await parties.merchantStatement({ merchantId: ma.value.id, accountId: ma.value.settlementAccountId, limit: 10 });
    expect(own.ok && own.value.map((e) => [e.side, e.transfer.amount, e.balanceAfter])).toEqual([['credit', 880n, 880n]]);
    expect(code(await parties.merchantStatement({ merchantId: mb.value.id, accountId: ma.value.settlementAccountId, limit: 10 }))).toBe('business_account_not_found');
  });
});
