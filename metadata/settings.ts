// Deployment settings (migrations/002_settings.sql). Values that are secrets are
// vault-sealed by the caller before they get here.
import type pg from 'pg';

export interface SettingsStore {
  get(name: string): Promise<string | null>;
  /** Insert if absent; returns the value now stored (the existing one if another process won). */
  putIfAbsent(name: string, value: string): Promise<string>;
}

export function createSettingsStore(pool: pg.Pool): SettingsStore {
  return {
    async get(name) {
      const r = await pool.query<{ value: string }>('SELECT value FROM settings WHERE name = $1', [name]);
      return r.rows[0]?.value ?? null;
    },
    async putIfAbsent(name, value) {
      await pool.query('INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [name, value]);
      const r = await pool.query<{ value: string }>('SELECT value FROM settings WHERE name = $1', [name]);
      return r.rows[0].value;
    },
  };
}
