// Upload ids go on command lines: `aws s3api upload-part --upload-id <id>` parses an id that
// starts with '-' as an option and fails ("expected one argument").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newUploadId } from '../../gateway/handlers/multipart.ts';

test('upload ids are 48 hex digits, so none starts with "-" and none repeats', () => {
  const ids = Array.from({ length: 5000 }, () => newUploadId());
  for (const id of ids) assert.match(id, /^[0-9a-f]{48}$/);
  assert.equal(new Set(ids).size, ids.length);
});
