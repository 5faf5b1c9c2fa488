// ListObjectVersions: every version and delete marker of a bucket in S3's order —
// keys in UTF-8 byte order, each key's versions newest first (API_ListObjectVersions.html)
// — keyset-paginated, so a page costs the same however many keys or old versions lie
// before its marker.
//
// Two indexes serve it: object_versions_latest_idx (one row per key: its latest
// version or delete marker) and object_versions_noncurrent_idx (the older ones, by
// key then seq descending; migrations/004_versioning.sql). The latest version always
// has the highest seq of its key, so the two sorted streams merge into (key, seq desc).
//
// Without a delimiter a page is one range over each index (plus, when resuming inside
// a key, one range over the rest of that key). With one, the walk moves key by key: a
// seek (LIMIT 1) to the next key, then either that key's versions or — when the key
// rolls up into a common prefix — a jump past the whole prefix (prefixEnd), one seek
// however many keys or versions it holds. Round trips are bounded by the page size.
import type { Queryable } from '../db.ts';
import type { ChecksumAlgorithm, ListVersionsInput, ListVersionsResult, VersionSummary } from '../types.ts';
import { commonPrefixOf, compareUtf8, justAfter, listingStart, prefixEnd } from './key-order.ts';

interface VersionListRow {
  key: string;
  version_id: string;
  is_latest: boolean;
  delete_marker: boolean;
  size: number | string;
  etag: string;
  last_modified: Date;
  storage_class: string;
  checksum_algorithm: ChecksumAlgorithm | null;
  seq: string | number;
}

const COLUMNS = 'v.key, v.version_id, v.is_latest, v.delete_marker, v.size, v.etag, v.last_modified, v.storage_class, v.checksum_algorithm, v.seq';

const toSummary = (r: VersionListRow): VersionSummary => ({
  key: r.key,
  versionId: r.version_id,
  isLatest: r.is_latest,
  deleteMarker: r.delete_marker,
  size: Number(r.size),
  etag: r.etag,
  lastModified: r.last_modified,
  storageClass: r.storage_class,
  checksumAlgorithm: r.checksum_algorithm,
});

type Entry = { kind: 'version'; row: VersionListRow } | { kind: 'prefix'; prefix: string };

const EMPTY: ListVersionsResult = { versions: [], commonPrefixes: [], isTruncated: false, nextKeyMarker: null, nextVersionIdMarker: null };

export async function listObjectVersions(q: Queryable, bucketId: string, input: ListVersionsInput): Promise<ListVersionsResult> {
  const prefix = input.prefix ?? '';
  const delimiter = input.delimiter ? input.delimiter : undefined;
  const maxKeys = Math.max(0, Math.floor(input.maxKeys));
  if (maxKeys === 0) return { ...EMPTY, versions: [], commonPrefixes: [] };
  const end = prefix === '' ? null : prefixEnd(prefix);
  const want = maxKeys + 1;
  const entries: Entry[] = [];

  // Resuming inside a key: the versions of key-marker older than version-id-marker
  // come first. Only when that key is listed on its own (not rolled into a prefix).
  const km = input.keyMarker;
  if (km !== undefined && km !== '' && input.versionIdMarker !== undefined && km.startsWith(prefix) && commonPrefixOf(km, prefix, delimiter) === null) {
    const seq = await q.query<{ seq: string | number }>('SELECT seq FROM object_versions WHERE bucket_id = $1 AND key = $2 AND version_id = $3', [bucketId, km, input.versionIdMarker]);
    if (seq.rows[0]) {
      const rest = await q.query<VersionListRow>(
        `SELECT ${COLUMNS} FROM object_versions v WHERE v.bucket_id = $1 AND v.key = $2 AND NOT v.is_latest AND v.seq < $3 ORDER BY v.seq DESC LIMIT $4`,
        [bucketId, km, seq.rows[0].seq, want],
      );
      for (const row of rest.rows) entries.push({ kind: 'version', row });
    }
  }
  let start = listingStart(prefix, delimiter, km);

  if (!delimiter) {
    if (start !== null && entries.length < want) {
      const limit = want - entries.length;
      const range = `v.bucket_id = $1 AND v.key >= $2 ${end !== null ? 'AND v.key < $4' : ''}`;
      const args = end !== null ? [bucketId, start, limit, end] : [bucketId, start, limit];
      const latest = await q.query<VersionListRow>(`SELECT ${COLUMNS} FROM object_versions v WHERE ${range} AND v.is_latest ORDER BY v.key LIMIT $3`, args);
      const older = await q.query<VersionListRow>(`SELECT ${COLUMNS} FROM object_versions v WHERE ${range} AND NOT v.is_latest ORDER BY v.key, v.seq DESC LIMIT $3`, args);
      for (const row of mergeNewestFirst(latest.rows, older.rows).slice(0, limit)) entries.push({ kind: 'version', row });
    }
  } else {
    while (start !== null && entries.length < want) {
      const next = await q.query<VersionListRow>(
        `SELECT ${COLUMNS} FROM object_versions v WHERE v.bucket_id = $1 AND v.is_latest AND v.key >= $2 ${end !== null ? 'AND v.key < $3' : ''} ORDER BY v.key LIMIT 1`,
        end !== null ? [bucketId, start, end] : [bucketId, start],
      );
      const latest = next.rows[0];
      if (latest === undefined) break;
      const cp = commonPrefixOf(latest.key, prefix, delimiter);
      if (cp !== null) {
        entries.push({ kind: 'prefix', prefix: cp });
        start = prefixEnd(cp);
        continue;
      }
      entries.push({ kind: 'version', row: latest });
      if (entries.length < want) {
        const r = await q.query<VersionListRow>(
          `SELECT ${COLUMNS} FROM object_versions v WHERE v.bucket_id = $1 AND v.key = $2 AND NOT v.is_latest ORDER BY v.seq DESC LIMIT $3`,
          [bucketId, latest.key, want - entries.length],
        );
        for (const row of r.rows) entries.push({ kind: 'version', row });
      }
      start = justAfter(latest.key);
    }
  }
  return paginate(entries, maxKeys);
}

/** Merge two (key asc, seq desc)-sorted row lists; key order is UTF-8 byte order, as COLLATE "C" sorts. */
function mergeNewestFirst(a: VersionListRow[], b: VersionListRow[]): VersionListRow[] {
  const out: VersionListRow[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length) out.push(a[i++]);
    else if (i >= a.length) out.push(b[j++]);
    else {
      const c = compareUtf8(a[i].key, b[j].key);
      out.push(c < 0 || (c === 0 && BigInt(a[i].seq) > BigInt(b[j].seq)) ? a[i++] : b[j++]);
    }
  }
  return out;
}

function paginate(entries: Entry[], maxKeys: number): ListVersionsResult {
  const page = entries.slice(0, maxKeys);
  const result: ListVersionsResult = {
    versions: page.flatMap((e) => (e.kind === 'version' ? [toSummary(e.row)] : [])),
    commonPrefixes: page.flatMap((e) => (e.kind === 'prefix' ? [e.prefix] : [])),
    isTruncated: entries.length > maxKeys,
    nextKeyMarker: null,
    nextVersionIdMarker: null,
  };
  if (result.isTruncated) {
    const last = page[page.length - 1];
    if (last.kind === 'prefix') result.nextKeyMarker = last.prefix;
    else {
      result.nextKeyMarker = last.row.key;
      result.nextVersionIdMarker = last.row.version_id;
    }
  }
  return result;
}
