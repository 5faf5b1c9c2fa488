import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VaultError, createVault, loadOrCreateMasterKey } from '../../shared/vault/index.ts';

const master = randomBytes(32);
const vault = createVault(master);

/** Replace the character at `i` with a different base64url-alphabet character. */
function flipChar(s: string, i: number): string {
  const c = s[i];
  const replacement = c === 'A' ? 'B' : 'A';
  return s.slice(0, i) + replacement + s.slice(i + 1);
}

describe('createVault', () => {
  it('round-trips strings and buffers', () => {
    assert.equal(vault.open(vault.seal('s3cr3t-ünïcode')).toString('utf8'), 's3cr3t-ünïcode');
    const bin = randomBytes(1000);
    assert.deepEqual(vault.open(vault.seal(bin, 'blob'), 'blob'), bin);
    assert.deepEqual(vault.open(vault.seal('')), Buffer.alloc(0));
  });

  it('produces a versioned, self-describing ASCII envelope that names the key id', () => {
    const sealed = vault.seal('x', 'ctx');
    assert.match(sealed, /^v1\.[0-9a-f]{16}\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{64}\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    assert.equal(sealed.split('.')[1], vault.keyId);
  });

  it('never contains the plaintext or the master key, and keyId is not the key', () => {
    const secret = 'AKIAIOSFODNN7EXAMPLE-wJalrXUtnFEMI';
    const sealed = vault.seal(secret);
    assert.ok(!sealed.includes(secret));
    assert.ok(!sealed.includes(master.toString('base64url')));
    assert.ok(!master.toString('hex').includes(vault.keyId));
    assert.equal(createVault(Buffer.from(master)).keyId, vault.keyId);
    assert.notEqual(createVault(randomBytes(32)).keyId, vault.keyId);
  });

  it('detects tampering with any single character of the envelope', () => {
    const sealed = vault.seal('tamper-me', 'access-key:AKID');
    for (let i = 0; i < sealed.length; i++) {
      const tampered = flipChar(sealed, i);
      assert.throws(() => vault.open(tampered, 'access-key:AKID'), VaultError, `position ${i} (${sealed[i]})`);
    }
  });

  it('detects a flipped bit in any byte of the ciphertext, nonces or wrapped key', () => {
    const sealed = vault.seal('bits', 'c');
    const parts = sealed.split('.');
    for (const idx of [2, 3, 4, 5]) {
      const bytes = Buffer.from(parts[idx], 'base64url');
      for (let i = 0; i < bytes.length; i++) {
        const copy = Buffer.from(bytes);
        copy[i] ^= 0x01;
        const tampered = [...parts.slice(0, idx), copy.toString('base64url'), ...parts.slice(idx + 1)].join('.');
        assert.throws(() => vault.open(tampered, 'c'), VaultError, `part ${idx} byte ${i}`);
      }
    }
  });

  it('refuses truncated, extended and foreign envelopes', () => {
    const sealed = vault.seal('x');
    for (const bad of [sealed.slice(0, -1), sealed + 'A', sealed + '.x', 'v2' + sealed.slice(2), '', 'garbage']) {
      assert.throws(() => vault.open(bad), VaultError);
    }
  });

  it('binds the secret to its context', () => {
    const sealed = vault.seal('key-secret', 'access-key:AKID1');
    assert.equal(vault.open(sealed, 'access-key:AKID1').toString(), 'key-secret');
    assert.throws(() => vault.open(sealed, 'access-key:AKID2'), VaultError);
    assert.throws(() => vault.open(sealed), VaultError);
    assert.throws(() => vault.open(vault.seal('no-context'), 'some-context'), VaultError);
  });

  it('cannot open a secret sealed under another master key', () => {
    const other = createVault(randomBytes(32));
    assert.throws(() => other.open(vault.seal('x')), VaultError);
  });

  it('rewraps under a new master key: only the new key opens it, and the ciphertext is unchanged', () => {
    const next = createVault(randomBytes(32));
    const sealed = vault.seal('rotate-me', 'backend:minio-1');
    const rewrapped = vault.rewrap(sealed, next);
    assert.equal(rewrapped.split('.')[1], next.keyId);
    assert.deepEqual(rewrapped.split('.').slice(4), sealed.split('.').slice(4));
    assert.equal(next.open(rewrapped, 'backend:minio-1').toString(), 'rotate-me');
    assert.throws(() => vault.open(rewrapped, 'backend:minio-1'), VaultError);
    assert.throws(() => next.open(sealed, 'backend:minio-1'), VaultError);
    assert.throws(() => next.rewrap(sealed, vault), VaultError);
  });

  it('refuses to rewrap for an object that is not a vault', () => {
    const fake = { keyId: 'x', seal: () => '', open: () => Buffer.alloc(0), rewrap: () => '' };
    assert.throws(() => vault.rewrap(vault.seal('x'), fake), VaultError);
  });

  it('uses a fresh nonce for every encryption across 10,000 seals', () => {
    const nonces = new Set<string>();
    const n = 10_000;
    for (let i = 0; i < n; i++) {
      const parts = vault.seal('same plaintext', 'same context').split('.');
      nonces.add(parts[2]);
      nonces.add(parts[4]);
    }
    assert.equal(nonces.size, 2 * n);
  });

  it('refuses a master key that is not 32 bytes', () => {
    assert.throws(() => createVault(randomBytes(16)), VaultError);
    assert.throws(() => createVault(Buffer.alloc(33)), VaultError);
  });
});

describe('loadOrCreateMasterKey', () => {
  const dirs: string[] = [];
  async function tempDir(): Promise<string> {
    const d = await mkdtemp(join(tmpdir(), 'fedgate-vault-'));
    dirs.push(d);
    return d;
  }
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('creates <dataDir>/master.key with mode 0600 (directory 0700) and reuses it', async () => {
    const dataDir = join(await tempDir(), 'nested', 'data');
    const first = await loadOrCreateMasterKey(dataDir);
    assert.equal(first.length, 32);
    assert.equal((await stat(join(dataDir, 'master.key'))).mode & 0o777, 0o600);
    assert.equal((await stat(dataDir)).mode & 0o777, 0o700);
    const second = await loadOrCreateMasterKey(dataDir);
    assert.deepEqual(second, first);
    const vaultA = createVault(first);
    assert.equal(createVault(second).open(vaultA.seal('persisted')).toString(), 'persisted');
  });

  it('hands every concurrent first caller the same key', async () => {
    const dataDir = await tempDir();
    const keys = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateMasterKey(dataDir)));
    for (const k of keys) assert.deepEqual(k, keys[0]);
    assert.deepEqual(await loadOrCreateMasterKey(dataDir), keys[0]);
  });

  it('prefers the environment value, as base64, base64url or hex', async () => {
    const dataDir = await tempDir();
    const key = randomBytes(32);
    assert.deepEqual(await loadOrCreateMasterKey(dataDir, key.toString('base64')), key);
    assert.deepEqual(await loadOrCreateMasterKey(dataDir, key.toString('base64url')), key);
    assert.deepEqual(await loadOrCreateMasterKey(dataDir, key.toString('hex').toUpperCase()), key);
    assert.deepEqual(await loadOrCreateMasterKey(dataDir, `  ${key.toString('hex')}\n`), key);
    await assert.rejects(stat(join(dataDir, 'master.key')), { code: 'ENOENT' });
  });

  it('treats a blank environment value as unset', async () => {
    const dataDir = await tempDir();
    const key = await loadOrCreateMasterKey(dataDir, '   ');
    assert.equal(key.length, 32);
    assert.deepEqual(await loadOrCreateMasterKey(dataDir), key);
  });

  it('refuses a bad environment value without echoing it', async () => {
    const dataDir = await tempDir();
    for (const bad of ['too-short-secret-value', randomBytes(31).toString('base64'), randomBytes(33).toString('hex'), 'zz'.repeat(32)]) {
      await assert.rejects(loadOrCreateMasterKey(dataDir, bad), (err: unknown) => {
        assert.ok(err instanceof VaultError);
        assert.ok(!err.message.includes(bad), 'message must not contain the value');
        assert.ok(!String(err.stack).includes(bad), 'stack must not contain the value');
        return true;
      });
    }
  });

  it('refuses a corrupt key file without printing its contents', async () => {
    const dataDir = await tempDir();
    const junk = 'not-a-key-' + randomBytes(8).toString('hex');
    await writeFile(join(dataDir, 'master.key'), junk, { mode: 0o600 });
    await assert.rejects(loadOrCreateMasterKey(dataDir), (err: unknown) => err instanceof VaultError && !err.message.includes(junk));
    assert.equal(await readFile(join(dataDir, 'master.key'), 'utf8'), junk);
  });
});
