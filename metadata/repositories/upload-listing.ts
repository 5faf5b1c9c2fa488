// ListMultipartUploads: uploads ordered by key, then by initiation time (API
// reference), with prefix / delimiter roll-up and key-marker / upload-id-marker
// pagination. A common prefix is skipped with one seek, like object listings.
import type { Queryable } from '../db.ts';
import type { ListUploadsInput, ListUploadsResult, UploadRow } from '../types.ts';
import { commonPrefixOf, listingStart, prefixEnd } from './key-order.ts';
import { toUpload, UPLOAD_COLUMNS, type UploadDbRow } from './rows.ts';

/** Rows fetched per round trip while walking. */
const BATCH = 200;

type Cursor =
  | { kind: 'from'; key: string }
  | { kind: 'after-upload'; key: string; initiated: Date; uploadId: string }
  | { kind: 'after-id'; key: string; uploadId: string };

export async function listUploads(q: Queryable, bucketId: string, input: ListUploadsInput): Promise<ListUploadsResult> {
  const prefix = input.prefix ?? '';
  const delimiter = input.delimiter ? input.delimiter : undefined;
  const max = Math.max(0, Math.floor(input.maxUploads));
  const done = (uploads: UploadRow[], commonPrefixes: string[], next: { key: string; uploadId: string | null } | null): ListUploadsResult => ({
    uploads,
    commonPrefixes,
    isTruncated: next !== null,
    nextKeyMarker: next?.key ?? null,
    nextUploadIdMarker: next?.uploadId ?? null,
  });
  if (max === 0) return done([], [], null);
  const end = prefix === '' ? null : prefixEnd(prefix);

  let cursor: Cursor | null = await startCursor(q, bucketId, prefix, delimiter, input);
  const uploads: UploadRow[] = [];
  const commonPrefixes: string[] = [];
  let last: { key: string; uploadId: string | null } | null = null;
  let count = 0;
  while (cursor !== null) {
    const rows = await fetchBatch(q, bucketId, cursor, prefix, end);
    if (rows.length === 0) break;
    let resumed: Cursor | null = null;
    for (const row of rows) {
      const cp = commonPrefixOf(row.key, prefix, delimiter);
      if (count === max) return done(uploads, commonPrefixes, last);
      if (cp !== null) {
        commonPrefixes.push(cp);
        last = { key: cp, uploadId: null };
        count++;
        // Seek past everything under this prefix instead of reading it.
        const after = prefixEnd(cp);
        resumed = after === null ? null : { kind: 'from', key: after };
        break;
      }
      uploads.push(toUpload(row));
      last = { key: row.key, uploadId: row.upload_id };
      count++;
      resumed = { kind: 'after-upload', key: row.key, initiated: row.initiated, uploadId: row.upload_id };
    }
    if (resumed === null) break;
    // A short batch that ended on an upload (not on a prefix seek) means nothing is left.
    if (rows.length < BATCH && resumed.kind === 'after-upload') break;
    cursor = resumed;
  }
  return done(uploads, commonPrefixes, null);
}

/**
 * key-marker alone: keys after it (or after the whole common prefix it names).
 * key-marker + upload-id-marker: uploads of that key initiated after the marker
 * upload, then later keys; if the marker upload is gone, uploads of the key whose
 * id sorts after the marker ("lexicographically greater", API reference).
 */
async function startCursor(q: Queryable, bucketId: string, prefix: string, delimiter: string | undefined, input: ListUploadsInput): Promise<Cursor | null> {
  const keyMarker = input.keyMarker;
  if (!keyMarker) return { kind: 'from', key: prefix };
  if (input.uploadIdMarker && commonPrefixOf(keyMarker, prefix, delimiter) === null) {
    const m = await q.query<{ initiated: Date }>('SELECT initiated FROM multipart_uploads WHERE bucket_id = $1 AND key = $2 AND upload_id = $3', [
      bucketId,
      keyMarker,
      input.uploadIdMarker,
    ]);
    if (m.rows[0]) return { kind: 'after-upload', key: keyMarker, initiated: m.rows[0].initiated, uploadId: input.uploadIdMarker };
    return { kind: 'after-id', key: keyMarker, uploadId: input.uploadIdMarker };
  }
  const start = listingStart(prefix, delimiter, keyMarker);
  return start === null ? null : { kind: 'from', key: start };
}

async function fetchBatch(q: Queryable, bucketId: string, cursor: Cursor, prefix: string, end: string | null): Promise<UploadDbRow[]> {
  const values: unknown[] = [bucketId];
  const arg = (v: unknown) => {
    values.push(v);
    return `$${values.length}`;
  };
  let where: string;
  if (cursor.kind === 'from') where = `u.key >= ${arg(cursor.key)}`;
  else if (cursor.kind === 'after-upload') where = `(u.key, u.initiated, u.upload_id) > (${arg(cursor.key)}, ${arg(cursor.initiated)}::timestamptz, ${arg(cursor.uploadId)})`;
  else where = `((u.key = ${arg(cursor.key)} AND u.upload_id > ${arg(cursor.uploadId)}) OR u.key > $2)`;
  // A marker may sort before the prefix; the prefix bounds the range on both sides.
  if (prefix !== '') where += ` AND u.key >= ${arg(prefix)}`;
  if (end !== null) where += ` AND u.key < ${arg(end)}`;
  const r = await q.query<UploadDbRow>(
    `SELECT ${UPLOAD_COLUMNS} FROM multipart_uploads u
      WHERE u.bucket_id = $1 AND ${where}
      ORDER BY u.key, u.initiated, u.upload_id LIMIT ${BATCH}`,
    values,
  );
  return r.rows;
}
