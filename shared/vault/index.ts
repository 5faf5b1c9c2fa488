// The vault: envelope encryption for stored secrets (PRODUCT.md §5.2).
export { VaultError, createVault } from './vault.ts';
export type { Vault } from './vault.ts';
export { MASTER_KEY_FILE, decodeMasterKey, loadOrCreateMasterKey } from './master-key.ts';
