// Key arithmetic for listings in UTF-8 byte order (the order of COLLATE "C" and of
// S3 listings). UTF-8 preserves code point order under byte comparison, so these
// work on code points; JS's own `<` compares UTF-16 units and would misorder
// characters above U+FFFF against U+E000..U+FFFF.

/** Compare two strings in UTF-8 byte order: negative, zero or positive. */
export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

const MAX_CODE_POINT = 0x10ffff;

/**
 * The smallest string greater than every string that starts with `prefix`, or null
 * when there is none (the prefix is all U+10FFFF). Keys k with prefix p are exactly
 * p <= k < prefixEnd(p); this is what makes "skip this whole common prefix" a seek.
 * PostgreSQL text can hold neither NUL nor surrogates, so those are stepped over.
 */
export function prefixEnd(prefix: string): string | null {
  const cps = Array.from(prefix, (c) => c.codePointAt(0)!);
  while (cps.length > 0) {
    let last = cps.pop()! + 1;
    if (last >= 0xd800 && last <= 0xdfff) last = 0xe000;
    if (last <= MAX_CODE_POINT) {
      cps.push(last);
      return String.fromCodePoint(...cps);
    }
  }
  return null;
}

/** The smallest string greater than `s`: s followed by U+0001 (NUL cannot be stored). */
export function justAfter(s: string): string {
  return s + '\u0001';
}

/**
 * The common prefix `key` rolls up into under (prefix, delimiter), or null when the
 * key is listed on its own: everything up to and including the first delimiter
 * after the prefix (ListObjectsV2 API reference, "CommonPrefixes").
 */
export function commonPrefixOf(key: string, prefix: string, delimiter: string | undefined): string | null {
  if (!delimiter || !key.startsWith(prefix)) return null;
  const at = key.indexOf(delimiter, prefix.length);
  return at < 0 ? null : key.slice(0, at + delimiter.length);
}

/** max of two strings in UTF-8 byte order. */
export function maxUtf8(a: string, b: string): string {
  return compareUtf8(a, b) >= 0 ? a : b;
}

/**
 * Where a listing resumes: the first position (inclusive) a returned entry may have,
 * or null when nothing can follow. After a key, just after it; after a common prefix
 * (or any marker inside one), past every key it holds, since those all roll up into
 * an entry already returned.
 */
export function listingStart(prefix: string, delimiter: string | undefined, after: string | undefined): string | null {
  if (after === undefined || after === '') return prefix;
  const cp = commonPrefixOf(after, prefix, delimiter);
  const resume = cp !== null ? prefixEnd(cp) : justAfter(after);
  return resume === null ? null : maxUtf8(resume, prefix);
}
