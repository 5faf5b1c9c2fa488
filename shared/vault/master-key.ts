// Where the master key comes from: an environment value (base64 or hex of 32
// bytes), or `<dataDir>/master.key`, created on first use with mode 0600 in a
// 0700 directory. Error messages never contain key material.
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { VaultError } from './vault.ts';

const KEY_BYTES = 32;
export const MASTER_KEY_FILE = 'master.key';

/** Decode 32 bytes given as hex (64 digits) or base64 / base64url (padding optional); null otherwise. */
export function decodeMasterKey(text: string): Buffer | null {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, 'hex');
  if (!/^[A-Za-z0-9+/_-]{43}=?$/.test(t)) return null;
  const buf = Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  return buf.length === KEY_BYTES ? buf : null;
}

async function readKeyFile(path: string): Promise<Buffer> {
  const key = decodeMasterKey(await readFile(path, 'utf8'));
  if (!key) throw new VaultError(`vault: master key file ${path} does not hold 32 bytes as base64 or hex`);
  return key;
}

/**
 * Create the key file atomically: written and synced under a temporary name,
 * then hard-linked into place. link(2) fails if the name exists, so when two
 * processes start at once exactly one key wins and both end up using it.
 */
async function createKeyFile(dataDir: string, path: string): Promise<Buffer> {
  const key = randomBytes(KEY_BYTES);
  const tmp = join(dataDir, `.${MASTER_KEY_FILE}.${process.pid}.${randomBytes(6).toString('hex')}`);
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.chmod(0o600);
    await fh.writeFile(key.toString('base64') + '\n', 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await link(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    key.fill(0);
    return readKeyFile(path);
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  return key;
}

/**
 * The master key. `fromEnv` (e.g. FEDGATE_MASTER_KEY) wins when given and
 * non-blank; it must be 32 bytes as base64 or hex. Otherwise the key lives in
 * `<dataDir>/master.key`, which is created on first use and reused afterwards.
 */
export async function loadOrCreateMasterKey(dataDir: string, fromEnv?: string): Promise<Buffer> {
  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    const key = decodeMasterKey(fromEnv);
    if (!key) throw new VaultError('vault: the master key from the environment must be 32 bytes encoded as base64 or hex');
    return key;
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, MASTER_KEY_FILE);
  try {
    return await readKeyFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return createKeyFile(dataDir, path);
}
