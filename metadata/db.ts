// The PostgreSQL pool, transactions with retry, and the small query surface the
// repositories are written against (a pool and a checked-out client both fit it).
import pg from 'pg';

export interface QueryResultLike<R> {
  rows: R[];
  rowCount: number | null;
}

export interface Queryable {
  query<R extends pg.QueryResultRow = any>(text: string | PreparedQuery, values?: unknown[]): Promise<QueryResultLike<R>>;
}

/**
 * A statement the server parses and plans once per connection (the extended protocol's
 * named prepared statement) instead of on every call: for the per-request queries of the
 * S3 data path, planning cost as much server CPU as running them. `name` must be unique
 * per distinct `text`. (A transaction-pooling proxy in front of PostgreSQL needs protocol-
 * level prepared-statement support for this, e.g. PgBouncer ≥ 1.21.)
 */
export interface PreparedQuery {
  name: string;
  text: string;
}

export function prepared(name: string, text: string): PreparedQuery {
  return { name, text };
}

export interface PoolOptions {
  connectionString: string;
  /** Connections in the pool (pg default 10). */
  max?: number;
  applicationName?: string;
  /** Server-side statement timeout in ms; none by default. */
  statementTimeoutMs?: number;
  /**
   * Client-side: how long to wait for a connection (a new one, or a free one of the pool) and
   * for a query's answer, in ms; none by default. A server that is paused or cut off by the
   * network accepts connections or queries and never answers: without these, neither fails.
   */
  connectTimeoutMs?: number;
  queryTimeoutMs?: number;
  /**
   * Server-side: a session idle inside a transaction this long is ended by the server, which rolls
   * the transaction back; none by default. Below queryTimeoutMs, it makes sure a COMMIT that reaches
   * the server after the client gave up on it commits nothing (metadata/repositories/objects.ts).
   */
  idleInTransactionTimeoutMs?: number;
}

const INT8_OID = 20;

/**
 * int8 (bigint, count(*), bigserial) arrives as a JS number: sizes and offsets stay far
 * below 2^53. Set per pool through `types` so the pg module's global parsers (shared with
 * pg-boss and anyone else in the process) are left alone.
 */
const poolTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID && format !== 'binary') return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format as any);
  },
};

/** Set on every error a pool client of createPool's reports: it came from the database connection. */
const FROM_DATABASE = Symbol('fedgate.fromDatabase');

function fromDatabase<E>(err: E): E {
  if (err && typeof err === 'object') (err as Record<symbol, unknown>)[FROM_DATABASE] = true;
  return err;
}

type Callback = (err: unknown, res?: unknown) => void;
const baseQuery = pg.Client.prototype.query as (...args: unknown[]) => unknown;
const baseConnect = pg.Client.prototype.connect as (cb?: Callback) => unknown;

/**
 * pg's Client, whose failed connects and queries (promise or callback form, as pg-pool calls it)
 * carry FROM_DATABASE: a socket error such as ECONNRESET means "database unreachable" only when it
 * came from here, not when a client of the gateway went away (isDatabaseUnreachable).
 */
class DatabaseClient extends pg.Client {}
Object.assign(DatabaseClient.prototype, {
  query(this: pg.Client, ...args: unknown[]): unknown {
    const cb = args[args.length - 1];
    if (typeof cb === 'function') {
      args[args.length - 1] = (err: unknown, res: unknown) => (cb as Callback)(err ? fromDatabase(err) : err, res);
      return baseQuery.apply(this, args);
    }
    const r = baseQuery.apply(this, args);
    return r instanceof Promise ? r.catch((e: unknown) => Promise.reject(fromDatabase(e))) : r;
  },
  connect(this: pg.Client, cb?: Callback): unknown {
    if (typeof cb === 'function') return baseConnect.call(this, (err) => cb(err ? fromDatabase(err) : err));
    return (baseConnect.call(this) as Promise<void>).catch((e: unknown) => Promise.reject(fromDatabase(e)));
  },
});

export function createPool(options: string | PoolOptions): pg.Pool {
  const o: PoolOptions = typeof options === 'string' ? { connectionString: options } : options;
  const idleMs = o.idleInTransactionTimeoutMs;
  const pool = new pg.Pool({
    Client: DatabaseClient,
    connectionString: o.connectionString,
    max: o.max,
    application_name: o.applicationName ?? 'fedgate',
    statement_timeout: o.statementTimeoutMs,
    connectionTimeoutMillis: o.connectTimeoutMs,
    query_timeout: o.queryTimeoutMs,
    types: poolTypes as any,
    // A SET on each new connection before the pool hands it out, rather than a startup parameter:
    // PgBouncer refuses startup parameters it does not know. pg-pool awaits the hook, so nothing is
    // queued behind the SET (pg 8 deprecates queued queries), and a SET that fails fails the connect
    // instead of leaving a connection without the timeout.
    onConnect:
      idleMs === undefined
        ? undefined
        : ((async (client: pg.ClientBase) => {
            await client.query(`SET idle_in_transaction_session_timeout = ${Math.max(1, Math.floor(idleMs))}`);
          }) as (client: pg.ClientBase) => void),
  });
  // An idle client losing its connection (server restart) must not crash the process;
  // the next query on the pool opens a fresh connection.
  pool.on('error', () => {});
  return pool;
}

/** SQLSTATEs worth a retry: the transaction lost a race, not a rule (PostgreSQL Appendix A). */
const RETRYABLE = new Set(['40001', '40P01']);

export function pgErrorCode(err: unknown): string | undefined {
  const code = err && typeof err === 'object' && 'code' in err ? (err as { code: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

export function isRetryable(err: unknown): boolean {
  const code = pgErrorCode(err);
  return code !== undefined && RETRYABLE.has(code);
}

/** SQLSTATEs of a server that cannot serve: class 08 (connection exception), shutting down or starting, out of connections. */
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '53300']);
/** Socket errors (Node's codes) of a server that is down or out of reach. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/** What node-postgres (pg 8) says when a connection breaks or a timeout of createPool's fires. */
const LOST_MESSAGES = /^(Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error and is not queryable)/;

/**
 * The database could not be reached or stopped answering: the request that met this may be
 * retried later (503), and the connection it came on is of no further use (no ROLLBACK on it).
 */
export function isDatabaseUnreachable(err: unknown): boolean {
  const code = pgErrorCode(err);
  if (code !== undefined && (code.startsWith('08') || UNAVAILABLE_STATES.has(code))) return true;
  if (code !== undefined && SOCKET_CODES.has(code)) return (err as Record<symbol, unknown>)[FROM_DATABASE] === true;
  return err instanceof Error && LOST_MESSAGES.test(err.message);
}

/**
 * pool.connect(), with an 'error' listener on the client for as long as it is checked out.
 * pg-pool removes its own listener while a client is out, and pg's Client emits 'error' whenever
 * its connection breaks, even when the statement running on it fails with that error too: without
 * a listener, a PostgreSQL restart or a reset connection between two statements of a transaction
 * would be an uncaught exception that ends the process. `lost()` says whether that happened (the
 * client must then not go back to the pool); `release(broken)` removes the listener and gives the
 * client back, or closes it when broken or lost.
 */
export async function checkOut(pool: pg.Pool): Promise<{ client: pg.PoolClient; lost(): boolean; release(broken: boolean): void }> {
  const client = await pool.connect();
  let lost = false;
  const onError = () => {
    lost = true;
  };
  client.on('error', onError);
  return {
    client,
    lost: () => lost,
    release(broken) {
      client.removeListener('error', onError);
      client.release(broken || lost);
    },
  };
}

/**
 * Run a single-statement operation (atomic on its own), retrying serialization
 * failures and deadlocks like withTransaction does.
 */
export async function retrying<T>(fn: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt < attempts && isRetryable(err)) {
        await new Promise((r) => setTimeout(r, Math.random() * 10 * 2 ** attempt));
        continue;
      }
      throw err;
    }
  }
}

export interface TransactionOptions {
  /** Attempts in total, including the first (default 5). */
  attempts?: number;
  isolation?: 'read committed' | 'repeatable read' | 'serializable';
  readOnly?: boolean;
}

/**
 * Run `fn` in one transaction; commit if it resolves, roll back if it throws.
 * Serialization failures and deadlocks (40001 / 40P01) are retried with a short,
 * jittered back-off: under SERIALIZABLE (and on CockroachDB, where that is the
 * default) the server asks the client to retry rather than blocking.
 * `fn` may run more than once, so it must not have side effects outside the database.
 */
export async function withTransaction<T>(pool: pg.Pool, fn: (tx: Queryable) => Promise<T>, opts: TransactionOptions = {}): Promise<T> {
  const attempts = opts.attempts ?? 5;
  let begin = 'BEGIN';
  if (opts.isolation) begin += ` ISOLATION LEVEL ${opts.isolation.toUpperCase()}`;
  if (opts.readOnly) begin += ' READ ONLY';
  for (let attempt = 1; ; attempt++) {
    const { client, lost, release } = await checkOut(pool);
    let broken = false;
    try {
      await client.query(begin);
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      // A connection that failed (or timed out: a query may still be on its way) is not handed
      // back to the pool; a ROLLBACK on it would only wait for the timeout once more.
      if (lost() || isDatabaseUnreachable(err)) broken = true;
      else {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true;
        }
      }
      if (attempt < attempts && isRetryable(err)) {
        await new Promise((r) => setTimeout(r, Math.random() * 10 * 2 ** attempt));
        continue;
      }
      throw err;
    } finally {
      release(broken);
    }
  }
}
