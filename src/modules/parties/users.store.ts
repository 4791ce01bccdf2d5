/** SQL for the login identities (users) of customers. */
import type { Queryable } from '../../kernel/db.js';
import type { User, UserRole, UserStatus } from './domain/types.js';

type Row = Record<string, unknown>;
const COLS = 'id, customer_id, login_name, display_name, roles, status, created_at, updated_at';

function toUser(r: Row): User {
  return {
    id: r['id'] as bigint,
    customerId: r['customer_id'] as bigint,
    loginName: r['login_name'] as string,
    displayName: r['display_name'] as string,
    roles: r['roles'] as UserRole[],
    status: r['status'] as UserStatus,
    createdAt: r['created_at'] as Date,
    updatedAt: r['updated_at'] as Date,
  };
}

/** Throws a unique violation on customer_users_login_name when the login name is taken. */
export async function insertUser(db: Queryable, u: Omit<User, 'createdAt' | 'updatedAt' | 'status'>, now: Date): Promise<User> {
  const r = await db.query(
    `INSERT INTO customer_users (id, customer_id, login_name, display_name, roles, status, created_at, updated_at)
     VALUES ($1,$2,$3,$4,$5,'active',$6,$6) RETURNING ${COLS}`,
    [u.id, u.customerId, u.loginName, u.displayName, u.roles, now],
  );
  return toUser(r.rows[0] as Row);
}

export async function getUser(db: Queryable, id: bigint, lock = false): Promise<User | undefined> {
  const r = await db.query(`SELECT ${COLS} FROM customer_users WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]);
  const row = r.rows[0] as Row | undefined;
  return row ? toUser(row) : undefined;
}

export async function getUserByLogin(db: Queryable, loginName: string): Promise<User | undefined> {
  const r = await db.query(`SELECT ${COLS} FROM customer_users WHERE login_name = $1`, [loginName]);
  const row = r.rows[0] as Row | undefined;
  return row ? toUser(row) : undefined;
}

export async function listUsers(db: Queryable, f: { customerId: bigint; afterId?: bigint; limit: number }): Promise<User[]> {
  const r = await db.query(`SELECT ${COLS} FROM customer_users WHERE customer_id = $1 AND id > $2 ORDER BY id LIMIT $3`, [f.customerId, f.afterId ?? -1n, f.limit]);
  return (r.rows as Row[]).map(toUser);
}

export async function updateUserStatus(db: Queryable, id: bigint, status: UserStatus, now: Date): Promise<User> {
  const r = await db.query(`UPDATE customer_users SET status = $2, updated_at = $3 WHERE id = $1 RETURNING ${COLS}`, [id, status, now]);
  return toUser(r.rows[0] as Row);
}
