// Decoders for the request documents S3 accepts. Every deviation from the
// published schema answers MalformedXML, as S3 does. The caller enforces the
// exported byte limits while reading the body; the decoders check them again.
import type { ChecksumAlgorithm, ChecksumSet } from '../../metadata/types.ts';
import { S3Error } from '../s3-errors.ts';
import { XmlSyntaxError, parseXmlDocument } from '../../shared/xml/parse.ts';
import type { XmlElement } from '../../shared/xml/parse.ts';

/** Byte limits on request documents. */
export const XML_BODY_LIMITS = {
  createBucketConfiguration: 64 * 1024,
  versioningConfiguration: 64 * 1024,
  // 1000 keys of up to 1024 UTF-8 bytes, each possibly entity-escaped.
  delete: 8 * 1024 * 1024,
  // 10,000 parts, each with an ETag and up to five checksums.
  completeMultipartUpload: 8 * 1024 * 1024,
} as const;

/** DeleteObjects accepts at most 1000 keys per request (API_DeleteObjects.html). */
export const MAX_DELETE_OBJECTS = 1000;
/** A multipart upload has at most 10,000 parts (userguide/qfacts.html). */
export const MAX_COMPLETE_PARTS = 10000;

function malformed(): S3Error {
  return new S3Error('MalformedXML');
}

/** The root element of a size-limited request document; anything else → MalformedXML. */
export function parseRoot(body: Buffer, rootName: string, limit: number): XmlElement {
  if (body.length > limit) throw malformed();
  let root: XmlElement;
  try {
    root = parseXmlDocument(body);
  } catch (err) {
    if (err instanceof XmlSyntaxError) throw malformed();
    throw err;
  }
  if (root.name !== rootName) throw malformed();
  assertContainer(root);
  return root;
}

/** An element holding other elements may hold no text besides whitespace. */
function assertContainer(el: XmlElement): void {
  if (el.text.trim() !== '') throw malformed();
}

/** Text of a leaf element (no child elements), unmodified. */
export function leafText(el: XmlElement): string {
  if (el.children.length > 0) throw malformed();
  return el.text;
}

/** The single child of that name, or undefined; repeated → MalformedXML. */
function optionalChild(parent: XmlElement, name: string): XmlElement | undefined {
  let found: XmlElement | undefined;
  for (const child of parent.children) {
    if (child.name !== name) continue;
    if (found) throw malformed();
    found = child;
  }
  return found;
}

function requiredChild(parent: XmlElement, name: string): XmlElement {
  const el = optionalChild(parent, name);
  if (!el) throw malformed();
  return el;
}

function isBlank(body: Buffer): boolean {
  for (const b of body) if (b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) return false;
  return true;
}

// ---------------------------------------------------------------- CreateBucket

export interface CreateBucketConfiguration {
  /** null when the body is empty or names no LocationConstraint (us-east-1 in AWS). */
  locationConstraint: string | null;
}

/** `<CreateBucketConfiguration><LocationConstraint>…`; an empty body is allowed (API_CreateBucket.html). */
export function decodeCreateBucketConfiguration(body: Buffer): CreateBucketConfiguration {
  if (isBlank(body)) return { locationConstraint: null };
  const root = parseRoot(body, 'CreateBucketConfiguration', XML_BODY_LIMITS.createBucketConfiguration);
  const lc = optionalChild(root, 'LocationConstraint');
  const value = lc ? leafText(lc).trim() : '';
  return { locationConstraint: value === '' ? null : value };
}

// ---------------------------------------------------------------- DeleteObjects

export interface DeleteRequest {
  objects: { key: string; versionId?: string }[];
  quiet: boolean;
}

function parseBoolean(text: string): boolean {
  const v = text.trim().toLowerCase();
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw malformed();
}

/** `<Delete><Object><Key/><VersionId/></Object>…<Quiet/></Delete>`, 1 to 1000 objects. */
export function decodeDelete(body: Buffer): DeleteRequest {
  const root = parseRoot(body, 'Delete', XML_BODY_LIMITS.delete);
  const objects: DeleteRequest['objects'] = [];
  for (const child of root.children) {
    if (child.name !== 'Object') continue;
    if (objects.length >= MAX_DELETE_OBJECTS) throw malformed();
    assertContainer(child);
    // Keys are taken verbatim: leading and trailing spaces are part of the key.
    const key = leafText(requiredChild(child, 'Key'));
    if (key === '') throw malformed();
    const versionEl = optionalChild(child, 'VersionId');
    const versionId = versionEl ? leafText(versionEl).trim() : '';
    objects.push(versionId === '' ? { key } : { key, versionId });
  }
  if (objects.length === 0) throw malformed();
  const quietEl = optionalChild(root, 'Quiet');
  return { objects, quiet: quietEl ? parseBoolean(leafText(quietEl)) : false };
}

// ---------------------------------------------------------------- CompleteMultipartUpload

export interface CompletePartRequest {
  partNumber: number;
  /** Unquoted. */
  etag: string;
  checksums: ChecksumSet;
}

const CHECKSUM_ELEMENTS: [string, ChecksumAlgorithm][] = [
  ['ChecksumCRC32', 'CRC32'],
  ['ChecksumCRC32C', 'CRC32C'],
  ['ChecksumCRC64NVME', 'CRC64NVME'],
  ['ChecksumSHA1', 'SHA1'],
  ['ChecksumSHA256', 'SHA256'],
];

/** Strip the quotes clients put around ETags (sent raw or as &quot;). */
export function unquoteEtag(value: string): string {
  const v = value.trim();
  return v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v;
}

/**
 * `<CompleteMultipartUpload><Part><PartNumber/><ETag/><Checksum…/></Part>…`.
 * Part order and range are the handler's to judge (InvalidPartOrder / InvalidPart).
 */
export function decodeCompleteMultipartUpload(body: Buffer): { parts: CompletePartRequest[] } {
  const root = parseRoot(body, 'CompleteMultipartUpload', XML_BODY_LIMITS.completeMultipartUpload);
  const parts: CompletePartRequest[] = [];
  for (const child of root.children) {
    if (child.name !== 'Part') continue;
    if (parts.length >= MAX_COMPLETE_PARTS) throw malformed();
    assertContainer(child);
    const numberText = leafText(requiredChild(child, 'PartNumber')).trim();
    if (!/^[0-9]{1,9}$/.test(numberText)) throw malformed();
    const etag = unquoteEtag(leafText(requiredChild(child, 'ETag')));
    if (etag === '') throw malformed();
    const checksums: ChecksumSet = {};
    for (const [elName, algorithm] of CHECKSUM_ELEMENTS) {
      const el = optionalChild(child, elName);
      if (el) checksums[algorithm] = leafText(el).trim();
    }
    parts.push({ partNumber: Number(numberText), etag, checksums });
  }
  if (parts.length === 0) throw malformed();
  return { parts };
}

// ---------------------------------------------------------------- PutBucketVersioning

export interface VersioningRequest {
  /** null when the document has no Status (nothing to change). */
  status: 'Enabled' | 'Suspended' | null;
  mfaDelete: 'Enabled' | 'Disabled' | null;
}

/** `<VersioningConfiguration><Status>Enabled|Suspended</Status><MfaDelete/></…>` (API_PutBucketVersioning.html). */
export function decodeVersioningConfiguration(body: Buffer): VersioningRequest {
  const root = parseRoot(body, 'VersioningConfiguration', XML_BODY_LIMITS.versioningConfiguration);
  const statusEl = optionalChild(root, 'Status');
  const mfaEl = optionalChild(root, 'MfaDelete');
  let status: VersioningRequest['status'] = null;
  if (statusEl) {
    const v = leafText(statusEl).trim();
    if (v !== 'Enabled' && v !== 'Suspended') throw malformed();
    status = v;
  }
  let mfaDelete: VersioningRequest['mfaDelete'] = null;
  if (mfaEl) {
    const v = leafText(mfaEl).trim();
    if (v !== 'Enabled' && v !== 'Disabled') throw malformed();
    mfaDelete = v;
  }
  return { status, mfaDelete };
}
