import assert from 'node:assert/strict';
import { S3ServiceException } from '@aws-sdk/client-s3';

export interface S3ErrorSeen {
  /** The S3 error code. */
  name: string;
  status?: number;
  /** x-amz-delete-marker / x-amz-version-id of the error response, when it carried them. */
  deleteMarker?: string;
  versionId?: string;
}

/** The S3 error a call through the SDK ends in; fails if the call succeeds. */
export async function s3Error(p: Promise<unknown>): Promise<S3ErrorSeen> {
  try {
    await p;
  } catch (e) {
    if (e instanceof S3ServiceException) {
      const headers = (e.$response as { headers?: Record<string, string> } | undefined)?.headers ?? {};
      const out: S3ErrorSeen = { name: e.name, status: e.$metadata.httpStatusCode };
      if (headers['x-amz-delete-marker'] !== undefined) out.deleteMarker = headers['x-amz-delete-marker'];
      if (headers['x-amz-version-id'] !== undefined) out.versionId = headers['x-amz-version-id'];
      return out;
    }
    throw e;
  }
  assert.fail('expected an S3 error');
}
