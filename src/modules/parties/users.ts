/**
 * Use cases for users (用户): the login identities of a customer, each with roles from a fixed
 * set. Login names are unique platform-wide and case-insensitive. Authentication factors
 * (passwords, TOTP) are deliberately not part of a user: they will be records of their own,
 * keyed by user id, so identities can exist (e.g. invited) before any factor is set.
 */
import { isUniqueViolation, withTx } from '../../kernel/db.js';
import { fail, ok } from '../../kernel/errors.js';
import * as changes from './changes.store.js';
import type { Ctx, PartiesResult } from './context.js';
import * as customers from './customers.store.js';
import { canChangeUserStatus } from './domain/status.js';
import { USER_STATUSES, type User, type UserStatus } from './domain/types.js';
import { checkLoginName, checkReason, checkRoles, checkText, isOneOf } from './domain/validate.js';
import * as store from './users.store.js';

export interface CreateUserInput {
  customerId: bigint;
  loginName: string;
  displayName?: string;
  roles: readonly string[];
}

export async function createUser(ctx: Ctx, inp: CreateUserInput): Promise<PartiesResult<User>> {
  const login = checkLoginName(inp.loginName);
  if (!login.ok) return login;
  const display = checkText('invalid_user', 'display_name', inp.displayName ?? '', 0, 100);
  if (!display.ok) return display;
  const roles = checkRoles(inp.roles);
  if (!roles.ok) return roles;
  try {
    return await withTx(ctx.pool, async (db): Promise<PartiesResult<User>> => {
      // FOR SHARE: a concurrent freeze or close of the customer waits for this insert, or this waits for it.
      const c = await customers.getCustomer(db, inp.customerId, 'share');
      if (!c) return fail('customer_not_found', `customer ${inp.customerId} does not exist`);
      if (c.status !== 'active') return fail('customer_not_active', `customer ${c.id} is ${c.status}`);
      return ok(await store.insertUser(db, { id: ctx.nextId(), customerId: c.id, loginName: login.value, displayName: display.value, roles: roles.value }, ctx.clock.now()));
    });
  } catch (e) {
    if (isUniqueViolation(e, 'customer_users_login_name')) return fail('login_name_taken', `the login name ${login.value} is already taken`);
    throw e;
  }
}

export async function listUsers(ctx: Ctx, f: { customerId: bigint; afterId?: bigint; limit: number }): Promise<PartiesResult<User[]>> {
  if (!(await customers.getCustomer(ctx.pool, f.customerId))) return fail('customer_not_found', `customer ${f.customerId} does not exist`);
  return ok(await store.listUsers(ctx.pool, f));
}

export async function getUserByLogin(ctx: Ctx, loginName: string): Promise<PartiesResult<User>> {
  const login = checkLoginName(loginName);
  if (!login.ok) return login;
  const u = await store.getUserByLogin(ctx.pool, login.value);
  return u ? ok(u) : fail('user_not_found', `no user has the login name ${login.value}`);
}

export async function setUserStatus(ctx: Ctx, inp: { customerId: bigint; userId: bigint; status: string; reason?: string; actor?: string }): Promise<PartiesResult<User>> {
  if (!isOneOf(USER_STATUSES, inp.status)) return fail('invalid_user', `status must be one of ${USER_STATUSES.join(', ')}`);
  const to: UserStatus = inp.status;
  const reason = checkReason('invalid_user', inp.reason);
  if (!reason.ok) return reason;
  return withTx(ctx.pool, async (db): Promise<PartiesResult<User>> => {
    const u = await store.getUser(db, inp.userId, true);
    if (!u || u.customerId !== inp.customerId) return fail('user_not_found', `customer ${inp.customerId} has no user ${inp.userId}`);
    if (u.status === to) return ok(u);
    if (!canChangeUserStatus(u.status, to)) return fail('invalid_status_transition', `a ${u.status} user cannot become ${to}`);
    const now = ctx.clock.now();
    const updated = await store.updateUserStatus(db, u.id, to, now);
    await changes.insertChange(db, ctx.nextId(), { entity: 'user', entityId: u.id.toString(), field: 'status', oldValue: u.status, newValue: to, reason: reason.value, actor: inp.actor ?? '' }, now);
    return ok(updated);
  });
}
