// Access control lists as S3 answers them for a bucket with Object Ownership =
// BucketOwnerEnforced (S3's default since April 2023, and the only mode Fedgate has):
// the owner alone has FULL_CONTROL (API_GetBucketAcl.html, API_GetObjectAcl.html), and
// a PutBucketAcl / PutObjectAcl is accepted only when it changes nothing — a canned
// `private` / `bucket-owner-full-control`, or an AccessControlPolicy that grants the
// owner FULL_CONTROL and nobody anything (userguide/about-object-ownership.html).
import type { Owner } from './encode-common.ts';
import { document, ownerXml } from './encode-common.ts';
import { element } from './escape.ts';
import { leafText, parseRoot } from './decode.ts';
import type { XmlElement } from '../../shared/xml/parse.ts';
import { S3Error } from '../s3-errors.ts';

export const ACL_BODY_LIMIT = 64 * 1024;

export function encodeAccessControlPolicy(owner: Owner): string {
  const grantee =
    '<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser">' +
    element('ID', owner.id) +
    element('DisplayName', owner.displayName) +
    '</Grantee>';
  return document('AccessControlPolicy', ownerXml('Owner', owner) + `<AccessControlList><Grant>${grantee}<Permission>FULL_CONTROL</Permission></Grant></AccessControlList>`);
}

const child = (el: XmlElement, name: string) => el.children.find((c) => c.name === name);

/**
 * True when the AccessControlPolicy body grants exactly FULL_CONTROL to the owner (by
 * canonical id) and nothing else; false for any other well-formed policy.
 */
export function isOwnerOnlyPolicy(body: Buffer, ownerId: string): boolean {
  const root = parseRoot(body, 'AccessControlPolicy', ACL_BODY_LIMIT);
  const list = child(root, 'AccessControlList');
  if (!list) throw new S3Error('MalformedACLError');
  const grants = list.children.filter((c) => c.name === 'Grant');
  if (grants.length !== 1) return false;
  const grantee = child(grants[0], 'Grantee');
  const permission = child(grants[0], 'Permission');
  const id = grantee && child(grantee, 'ID');
  if (!grantee || !permission || !id) return false;
  return leafText(permission).trim() === 'FULL_CONTROL' && leafText(id).trim() === ownerId;
}

export function encodeOwnershipControls(): string {
  return document('OwnershipControls', '<Rule><ObjectOwnership>BucketOwnerEnforced</ObjectOwnership></Rule>');
}
