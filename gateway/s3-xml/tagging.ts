// The Tagging document (API_PutObjectTagging.html / API_PutBucketTagging.html) in
// both directions, plus the x-amz-tagging header form (`k1=v1&k2=v2`, URL query
// encoded, API_PutObject.html). Limits from userguide/object-tagging.html: up to 10
// tags per object, 50 per bucket (API_PutBucketTagging.html), keys of 1–128 and
// values of 0–256 Unicode characters, unique keys, no `aws:` prefix.
import type { Tag } from '../../metadata/tagging-cors.ts';
import { S3Error } from '../s3-errors.ts';
import { extraError } from '../s3-errors-extra.ts';
import { leafText, parseRoot } from './decode.ts';
import { document } from './encode-common.ts';
import { element } from './escape.ts';

export const TAGGING_BODY_LIMIT = 64 * 1024;
export const MAX_OBJECT_TAGS = 10;
export const MAX_BUCKET_TAGS = 50;

// Letters, digits, spaces and + - = . _ : / @ (userguide/tagging-best-practices, "Tag naming limits").
const TAG_CHARS = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

const chars = (s: string) => [...s].length;

/** Checks a tag set as S3 does; throws InvalidTag / BadRequest. */
export function validateTags(tags: Tag[], target: 'object' | 'bucket'): Tag[] {
  if (target === 'object' && tags.length > MAX_OBJECT_TAGS) throw extraError('BadRequest', `Object tags cannot be greater than ${MAX_OBJECT_TAGS}`);
  if (target === 'bucket' && tags.length > MAX_BUCKET_TAGS) throw extraError('InvalidTag', `Bucket tag count cannot be greater than ${MAX_BUCKET_TAGS}`);
  const seen = new Set<string>();
  for (const { key, value } of tags) {
    if (chars(key) < 1) throw extraError('InvalidTag', 'The TagKey you have provided is invalid', { TagKey: key });
    if (chars(key) > 128) throw extraError('InvalidTag', 'The TagKey you have provided is too long, max 128', { TagKey: key });
    if (chars(value) > 256) throw extraError('InvalidTag', 'The TagValue you have provided is too long, max 256', { TagKey: key, TagValue: value });
    if (!TAG_CHARS.test(key)) throw extraError('InvalidTag', 'The TagKey you have provided is invalid', { TagKey: key });
    if (!TAG_CHARS.test(value)) throw extraError('InvalidTag', 'The TagValue you have provided is invalid', { TagKey: key, TagValue: value });
    if (key.toLowerCase().startsWith('aws:')) throw extraError('InvalidTag', 'Your TagKey cannot be prefixed with aws:', { TagKey: key });
    if (seen.has(key)) throw extraError('InvalidTag', 'Cannot provide multiple Tags with the same key', { TagKey: key });
    seen.add(key);
  }
  return tags;
}

function malformed(): S3Error {
  return new S3Error('MalformedXML');
}


/** Parses a `<Tagging><TagSet><Tag><Key/><Value/></Tag>…` body (not yet validated). */
export function decodeTagging(body: Buffer): Tag[] {
  const root = parseRoot(body, 'Tagging', TAGGING_BODY_LIMIT);
  const sets = root.children.filter((c) => c.name === 'TagSet');
  if (sets.length !== 1 || root.children.length !== 1) throw malformed();
  const tags: Tag[] = [];
  for (const t of sets[0].children) {
    if (t.name !== 'Tag' || t.text.trim() !== '') throw malformed();
    const keys = t.children.filter((c) => c.name === 'Key');
    const values = t.children.filter((c) => c.name === 'Value');
    if (keys.length !== 1 || values.length !== 1 || t.children.length !== 2) throw malformed();
    tags.push({ key: leafText(keys[0]), value: leafText(values[0]) });
  }
  return tags;
}

/** The x-amz-tagging header (and the POST form's `tagging` is XML, see decodeTagging). */
export function parseTaggingHeader(value: string): Tag[] {
  const tags: Tag[] = [];
  const seen = new Set<string>();
  for (const [key, v] of new URLSearchParams(value)) {
    if (seen.has(key)) throw extraError('InvalidTag', 'Cannot provide multiple Tags with the same key', { TagKey: key });
    seen.add(key);
    tags.push({ key, value: v });
  }
  return tags;
}

export function encodeTagging(tags: Tag[]): string {
  const body = tags.map((t) => `<Tag>${element('Key', t.key)}${element('Value', t.value)}</Tag>`).join('');
  return document('Tagging', `<TagSet>${body}</TagSet>`);
}
