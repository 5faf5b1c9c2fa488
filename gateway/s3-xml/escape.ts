// Text-level helpers shared by every S3 XML document: the XML 1.0 escaper and the
// `encoding-type=url` encoder. Kept free of imports so s3-errors.ts can use it
// without a module cycle.

export const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n';
export const S3_NAMESPACE = 'http://s3.amazonaws.com/doc/2006-03-01/';

// The five markup characters, CR and LF (which an XML parser would otherwise
// normalise away: XML 1.0 §2.11), and every code unit outside the XML 1.0 `Char`
// production (§2.2): C0 controls except TAB/LF/CR, U+FFFE, U+FFFF and unpaired
// surrogates. S3 writes the latter as hexadecimal character references
// (e.g. `&#x1b;`, seen in aws/aws-sdk-php#169 and pfig/net-amazon-s3#67) and
// tells clients to use `encoding-type=url` when their parser refuses them.
const ESCAPE_SOURCE =
  /[&<>"'\r\n\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.source;
const EVERY_ESCAPE = new RegExp(ESCAPE_SOURCE, 'g');
// Cheaper pre-check without lookarounds: any surrogate takes the slow path.
const MAY_NEED_ESCAPE = /[&<>"'\r\n\u0000-\u0008\u000B\u000C\u000E-\u001F\uD800-\uDFFF\uFFFE\uFFFF]/;

const NAMED: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
  // AWS "XML related object key constraints": CR as &#13; / &#x0D;, LF as &#10; / &#x0A;.
  '\r': '&#xD;',
  '\n': '&#xA;',
};

function replaceChar(ch: string): string {
  return NAMED[ch] ?? `&#x${ch.charCodeAt(0).toString(16)};`;
}

/** Escape a string for use as XML element text (or a double-quoted attribute value). */
export function escapeXml(value: string): string {
  // Most keys need nothing; the non-global test avoids allocating a copy.
  if (!MAY_NEED_ESCAPE.test(value)) return value;
  return value.replace(EVERY_ESCAPE, replaceChar);
}

/** `<name>escaped text</name>` */
export function element(name: string, text: string): string {
  return `<${name}>${escapeXml(text)}</${name}>`;
}

const HEX = '0123456789ABCDEF';

// Bytes S3 leaves as-is under encoding-type=url. AWS documents that
// `test_file(3).png` lists as `test_file%283%29.png`, i.e. a form-style
// (application/x-www-form-urlencoded) encoder, not encodeURIComponent. MinIO's
// s3URLEncode (cmd/api-utils.go), tuned against AWS, keeps [A-Za-z0-9-_.*/],
// writes space as '+' and percent-encodes everything else, '~' included;
// botocore decodes these fields with unquote_plus, which matches.
function keepsByte(b: number): boolean {
  return (
    (b >= 0x30 && b <= 0x39) ||
    (b >= 0x41 && b <= 0x5a) ||
    (b >= 0x61 && b <= 0x7a) ||
    b === 0x2d || b === 0x5f || b === 0x2e || b === 0x2f || b === 0x2a
  );
}

/** S3's `encoding-type=url` encoding of a key, prefix, delimiter or marker. */
export function s3UrlEncode(value: string): string {
  const bytes = Buffer.from(value, 'utf8');
  let out = '';
  for (const b of bytes) {
    if (keepsByte(b)) out += String.fromCharCode(b);
    else if (b === 0x20) out += '+';
    else out += '%' + HEX[b >> 4] + HEX[b & 15];
  }
  return out;
}
