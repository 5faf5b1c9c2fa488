import assert from 'node:assert/strict';
import { S3ServiceException } from '@aws-sdk/client-s3';

/** The S3 error a call through the SDK ends in (its code as `name`, its HTTP status); fails if it succeeds. */
export async function s3Error(p: Promise<unknown>): Promise<{ name: string; status?: number }> {
  try {
    await p;
  } catch (e) {
    if (e instanceof S3ServiceException) return { name: e.name, status: e.$metadata.httpStatusCode };
    throw e;
  }
  assert.fail('expected an S3 error');
}
