// ListObjects in the PostgreSQL MetadataStore: results equal a brute-force
// computation over random keys (unicode, '/'-heavy), pagination with nextAfter
// visits every entry once, and a common prefix of 20 000 keys is skipped by a seek.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import type { ListObjectsInput, ListObjectsResult } from '../../metadata/index.ts';
import { commonPrefixOf, compareUtf8 } from '../../metadata/repositories/key-order.ts';
import { buildDelimitedWalk } from '../../metadata/repositories/listing.ts';
import { putObject, setup, type Fixture } from './metadata-fixtures.ts';

/** Insert visible versions directly (the listing reads only object_versions); fast for thousands of keys. */
async function bulkInsert(pool: pg.Pool, bucketId: string, keys: string[], opts: { deleteMarker?: boolean } = {}): Promise<void> {
  for (let i = 0; i < keys.length; i += 5000) {
    const batch = keys.slice(i, i + 5000);
    await pool.query('INSERT INTO objects (bucket_id, key) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING', [bucketId, batch]);
    await pool.query(
      `INSERT INTO object_versions (bucket_id, key, version_id, is_latest, delete_marker, size, etag)
       SELECT $1, k, 'null', true, $3, length(k), md5(k) FROM unnest($2::text[]) AS k`,
      [bucketId, batch, opts.deleteMarker ?? false],
    );
  }
}

interface Expected {
  contents: string[];
  commonPrefixes: string[];
  isTruncated: boolean;
  nextAfter: string | null;
}

const sortCache = new WeakMap<string[], { n: number; sorted: string[] }>();
function sortedUtf8(keys: string[]): string[] {
  const hit = sortCache.get(keys);
  if (hit && hit.n === keys.length) return hit.sorted;
  const sorted = [...keys].sort(compareUtf8);
  sortCache.set(keys, { n: keys.length, sorted });
  return sorted;
}

/** The definition: group keys under the prefix into entries, keep those after `after`, take maxKeys. */
function bruteForce(keys: string[], input: ListObjectsInput): Expected {
  const prefix = input.prefix ?? '';
  const entries: { value: string; isPrefix: boolean }[] = [];
  for (const key of sortedUtf8(keys).filter((k) => k.startsWith(prefix))) {
    const cp = commonPrefixOf(key, prefix, input.delimiter);
    const value = cp ?? key;
    if (entries.length > 0 && entries[entries.length - 1].value === value) continue;
    entries.push({ value, isPrefix: cp !== null });
  }
  const after = input.after;
  const rest = after === undefined || after === '' ? entries : entries.filter((e) => compareUtf8(e.value, after) > 0);
  const page = rest.slice(0, input.maxKeys);
  const isTruncated = input.maxKeys > 0 && rest.length > input.maxKeys;
  return {
    contents: page.filter((e) => !e.isPrefix).map((e) => e.value),
    commonPrefixes: page.filter((e) => e.isPrefix).map((e) => e.value),
    isTruncated,
    nextAfter: isTruncated ? page[page.length - 1].value : null,
  };
}

const simplify = (r: ListObjectsResult): Expected => ({
  contents: r.contents.map((o) => o.key),
  commonPrefixes: r.commonPrefixes,
  isTruncated: r.isTruncated,
  nextAfter: r.nextAfter,
});

/** Deterministic PRNG (mulberry32) so a failure can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// '/' is frequent; the rest covers ASCII around '/', Latin-1, a BMP char above the
// surrogates, an astral emoji (UTF-16 order differs from UTF-8 order there) and a CJK char.
const ALPHABET = ['a', 'b', 'c', '/', '/', '/', '-', '.', '0', 'Z', ' ', 'é', 'ÿ', '\uFF21', '😀', '中', 'ab'];

function randomKeys(n: number, random: () => number): string[] {
  const keys = new Set<string>();
  while (keys.size < n) {
    const len = 1 + Math.floor(random() * 10);
    let k = '';
    for (let i = 0; i < len; i++) k += ALPHABET[Math.floor(random() * ALPHABET.length)];
    keys.add(k);
  }
  return [...keys];
}

let f: Fixture;
let keys: string[];
const random = rng(20260522);

before(async () => {
  f = await setup();
  keys = randomKeys(3000, random);
  await bulkInsert(f.pool, f.bucket.id, keys);
  // Hidden rows: delete markers must never be listed.
  const hidden = await f.store.createBucket({ tenantId: f.tenant.id, name: 'other', region: 'eu-west', physical: [] });
  await bulkInsert(f.pool, hidden.id, ['a', 'b/c']);
  await bulkInsert(
    f.pool,
    f.bucket.id,
    randomKeys(200, random).filter((k) => !keys.includes(k)),
    { deleteMarker: true },
  );
  await f.pool.query('ANALYZE object_versions');
});
after(async () => {
  await f.close();
});

describe('listObjects against brute force', () => {
  test('random prefix / delimiter / after / maxKeys combinations match the brute-force result', async () => {
    const delimiters = [undefined, '/', '😀', 'ab', '-'];
    for (let i = 0; i < 300; i++) {
      const base = keys[Math.floor(random() * keys.length)];
      const prefix = random() < 0.3 ? '' : Array.from(base).slice(0, Math.floor(random() * 3)).join('');
      const delimiter = delimiters[Math.floor(random() * delimiters.length)];
      const afterBase = keys[Math.floor(random() * keys.length)];
      const after = random() < 0.4 ? undefined : random() < 0.5 ? afterBase : Array.from(afterBase).slice(0, 2).join('');
      const maxKeys = Math.floor(random() * 40);
      const input: ListObjectsInput = { prefix, delimiter, after, maxKeys };
      const got = simplify(await f.store.listObjects(f.bucket.id, input));
      assert.deepEqual(got, bruteForce(keys, input), JSON.stringify(input));
    }
  });

  test('paging with nextAfter visits every entry exactly once, in UTF-8 byte order', async () => {
    for (const [prefix, delimiter, maxKeys] of [
      ['', undefined, 97],
      ['', '/', 13],
      ['a', '/', 7],
      ['/', '/', 5],
      ['', '😀', 50],
    ] as [string, string | undefined, number][]) {
      const seen: string[] = [];
      let afterKey: string | undefined;
      for (let pages = 0; pages < 10_000; pages++) {
        const page = await f.store.listObjects(f.bucket.id, { prefix, delimiter, after: afterKey, maxKeys });
        const entries = [...page.contents.map((o) => o.key), ...page.commonPrefixes].sort(compareUtf8);
        seen.push(...entries);
        if (!page.isTruncated) break;
        assert.equal(page.nextAfter, entries[entries.length - 1]);
        afterKey = page.nextAfter!;
      }
      const all = bruteForce(keys, { prefix, delimiter, maxKeys: 1_000_000 });
      assert.deepEqual(seen, [...all.contents, ...all.commonPrefixes].sort(compareUtf8), `${prefix} ${delimiter}`);
    }
  });

  test('maxKeys 0 answers an empty, untruncated page', async () => {
    assert.deepEqual(await f.store.listObjects(f.bucket.id, { maxKeys: 0 }), { contents: [], commonPrefixes: [], isTruncated: false, nextAfter: null });
  });

  test('a delimiter ending in U+10FFFF (stepwise walk) also matches brute force', async () => {
    const b = await f.store.createBucket({ tenantId: f.tenant.id, name: 'odd', region: 'eu-west', physical: [] });
    const oddKeys = ['a\u{10FFFF}b', 'a\u{10FFFF}c', 'a\u{10FFFF}\u{10FFFF}', 'b', 'c\u{10FFFF}', 'c\u{10FFFE}'];
    await bulkInsert(f.pool, b.id, oddKeys);
    for (const maxKeys of [1, 2, 10]) {
      const input = { delimiter: '\u{10FFFF}', maxKeys };
      assert.deepEqual(simplify(await f.store.listObjects(b.id, input)), bruteForce(oddKeys, input));
    }
  });

  test('summaries carry size, ETag, storage class and last-modified', async () => {
    const v = await putObject(f, 'zz-summary', { etag: 'abcdef', size: 42 });
    const page = await f.store.listObjects(f.bucket.id, { prefix: 'zz-summary', maxKeys: 1 });
    assert.deepEqual(page.contents, [{ key: 'zz-summary', size: 42, etag: 'abcdef', lastModified: v.lastModified, storageClass: 'STANDARD', checksumAlgorithm: null }]);
    keys.push('zz-summary');
  });
});

describe('listing cost', () => {
  let big: string;
  before(async () => {
    const b = await f.store.createBucket({ tenantId: f.tenant.id, name: 'big', region: 'eu-west', physical: [] });
    big = b.id;
    const inside = Array.from({ length: 20_000 }, (_, i) => `big/${String(i).padStart(6, '0')}.jpg`);
    // No ANALYZE here on purpose: the plan must stay a seek even with stale statistics.
    await bulkInsert(f.pool, big, ['a.txt', 'b/1', 'b/2', ...inside, 'c.txt', 'd/x', 'e.txt']);
  });

  test('a common prefix holding 20 000 keys counts as one entry and the next page seeks past it', async () => {
    const first = await f.store.listObjects(big, { delimiter: '/', maxKeys: 3 });
    assert.deepEqual(simplify(first), { contents: ['a.txt'], commonPrefixes: ['b/', 'big/'], isTruncated: true, nextAfter: 'big/' });
    const second = await f.store.listObjects(big, { delimiter: '/', maxKeys: 3, after: first.nextAfter! });
    assert.deepEqual(simplify(second), { contents: ['c.txt', 'e.txt'], commonPrefixes: ['d/'], isTruncated: false, nextAfter: null });
  });

  test('the delimited walk reads a handful of index entries, not the 20 000 under the prefix (EXPLAIN ANALYZE)', async () => {
    const { text, values } = buildDelimitedWalk(big, '', '/', '', null, 7);
    const r = await f.pool.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${text}`, values);
    const plan = r.rows[0]['QUERY PLAN'][0].Plan;
    let touched = 0;
    const visit = (node: any) => {
      if (/Scan/.test(node['Node Type']) && node['Relation Name'] === 'object_versions') {
        touched += (node['Actual Rows'] + (node['Rows Removed by Filter'] ?? 0)) * node['Actual Loops'];
      }
      for (const child of node.Plans ?? []) visit(child);
    };
    visit(plan);
    assert.ok(touched > 0, 'the plan scans object_versions');
    assert.ok(touched < 100, `the walk touched ${touched} rows`);
    // a.txt, b/, big/, c.txt, d/, e.txt: the walk stops at the end of the bucket.
    const entries = (await f.pool.query(text, values)).rows.length;
    assert.equal(entries, 6);
  });

  test('a plain page inside the big prefix is a short range scan', async () => {
    const r = await f.pool.query(
      `EXPLAIN (ANALYZE, FORMAT JSON) SELECT key FROM object_versions v
        WHERE v.bucket_id = $1 AND v.is_latest AND NOT v.delete_marker AND v.key >= $2 AND v.key < $3 ORDER BY v.key LIMIT 11`,
      [big, 'big/010000', 'big0'],
    );
    const json = JSON.stringify(r.rows[0]['QUERY PLAN']);
    assert.match(json, /object_versions_(listing|latest)_idx/);
    const page = await f.store.listObjects(big, { prefix: 'big/', after: 'big/009999.jpg', maxKeys: 10 });
    assert.equal(page.contents[0].key, 'big/010000.jpg');
    assert.equal(page.contents.length, 10);
    assert.equal(page.nextAfter, 'big/010009.jpg');
  });
});
