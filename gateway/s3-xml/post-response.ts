// The PostResponse document a browser POST answers with success_action_status=201
// (RESTObjectPOST.html, "Responses"); S3 sends it without a namespace.
import { XML_DECLARATION, element } from './escape.ts';

export function encodePostResponse(r: { location: string; bucket: string; key: string; etag: string }): string {
  return `${XML_DECLARATION}<PostResponse>${element('Location', r.location)}${element('Bucket', r.bucket)}${element('Key', r.key)}${element('ETag', `"${r.etag}"`)}</PostResponse>`;
}
