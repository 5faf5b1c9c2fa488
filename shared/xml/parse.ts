// A strict, minimal XML 1.0 reader for the small documents S3 exchanges (request bodies the
// gateway accepts, error documents the s3 driver reads from providers).
//
// Why not fast-xml-parser (measured, fast-xml-parser 5.12): with htmlEntities off
// it leaves `&#xD;` undecoded (AWS tells clients to send CR that way) and drops
// `&#x1;`; with htmlEntities on it decodes HTML-only names such as `&nbsp;` and
// still silently drops `&#x1;`; in both modes it passes unknown entities like
// `&foo;` through and accepts several root elements. A DeleteObjects key that is
// silently altered deletes the wrong object, so this reader refuses instead.
//
// Supported: XML declaration, comments, elements, attributes (parsed, then
// ignored), text, CDATA, the five predefined entities and character references.
// Refused (XXE and entity expansion): DOCTYPE, ENTITY, any other `<!` markup and
// processing instructions. Namespace prefixes are stripped from element names.

export interface XmlElement {
  /** Local name (any `prefix:` removed). */
  name: string;
  children: XmlElement[];
  /** Concatenation of the element's own text and CDATA (entities decoded). */
  text: string;
}

export class XmlSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XmlSyntaxError';
  }
}

const MAX_DEPTH = 32;
const NAME = /[A-Za-z_][A-Za-z0-9._-]*(?::[A-Za-z_][A-Za-z0-9._-]*)?/y;
const WS = /[ \t\n]*/y;
const PREDEFINED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
// Characters outside the XML 1.0 `Char` production (§2.2) are not well-formed,
// whether written raw or as a character reference.
const INVALID_CHAR = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function isXmlChar(cp: number): boolean {
  return (
    cp === 0x9 || cp === 0xa || cp === 0xd ||
    (cp >= 0x20 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) ||
    (cp >= 0x10000 && cp <= 0x10ffff)
  );
}

function decodeReference(ref: string): string {
  if (ref.startsWith('#x')) {
    if (!/^#x[0-9A-Fa-f]{1,6}$/.test(ref)) throw new XmlSyntaxError(`bad character reference &${ref};`);
    const cp = parseInt(ref.slice(2), 16);
    if (!isXmlChar(cp)) throw new XmlSyntaxError('character reference to a character XML 1.0 forbids');
    return String.fromCodePoint(cp);
  }
  if (ref.startsWith('#')) {
    if (!/^#[0-9]{1,7}$/.test(ref)) throw new XmlSyntaxError(`bad character reference &${ref};`);
    const cp = parseInt(ref.slice(1), 10);
    if (!isXmlChar(cp)) throw new XmlSyntaxError('character reference to a character XML 1.0 forbids');
    return String.fromCodePoint(cp);
  }
  const ch = PREDEFINED[ref];
  if (ch === undefined) throw new XmlSyntaxError('undeclared entity');
  return ch;
}

/** Decode character data: references resolved, a bare `&` or `<` refused. */
function decodeText(raw: string): string {
  if (raw.includes('<')) throw new XmlSyntaxError("'<' in character data");
  if (!raw.includes('&')) return raw;
  let out = '';
  let i = 0;
  while (i < raw.length) {
    const amp = raw.indexOf('&', i);
    if (amp < 0) {
      out += raw.slice(i);
      break;
    }
    const semi = raw.indexOf(';', amp);
    if (semi < 0) throw new XmlSyntaxError("unterminated '&' reference");
    out += raw.slice(i, amp) + decodeReference(raw.slice(amp + 1, semi));
    i = semi + 1;
  }
  return out;
}

class Reader {
  readonly src: string;
  pos = 0;

  constructor(src: string) {
    this.src = src;
  }

  fail(what: string): never {
    throw new XmlSyntaxError(`${what} at offset ${this.pos}`);
  }

  skipWs(): void {
    WS.lastIndex = this.pos;
    WS.exec(this.src);
    this.pos = WS.lastIndex;
  }

  startsWith(s: string): boolean {
    return this.src.startsWith(s, this.pos);
  }

  readUntil(end: string, what: string): string {
    const at = this.src.indexOf(end, this.pos);
    if (at < 0) this.fail(`unterminated ${what}`);
    const out = this.src.slice(this.pos, at);
    this.pos = at + end.length;
    return out;
  }

  readName(): string {
    NAME.lastIndex = this.pos;
    const m = NAME.exec(this.src);
    if (!m) this.fail('expected a name');
    this.pos = NAME.lastIndex;
    return m[0];
  }

  /** Comments and whitespace, as allowed in the prolog, the epilog and between elements. */
  skipMisc(): void {
    for (;;) {
      this.skipWs();
      if (this.startsWith('<!--')) {
        this.pos += 4;
        const body = this.readUntil('-->', 'comment');
        if (body.includes('--') || body.endsWith('-')) this.fail("'--' inside a comment");
      } else if (this.startsWith('<!')) {
        this.fail('DOCTYPE and other declarations are not accepted');
      } else if (this.startsWith('<?')) {
        this.fail('processing instructions are not accepted');
      } else {
        return;
      }
    }
  }

  readAttributes(): void {
    const seen = new Set<string>();
    for (;;) {
      const before = this.pos;
      this.skipWs();
      if (this.startsWith('>') || this.startsWith('/>')) return;
      if (this.pos === before) this.fail('expected whitespace before an attribute');
      const name = this.readName();
      if (seen.has(name)) this.fail(`duplicate attribute ${name}`);
      seen.add(name);
      this.skipWs();
      if (!this.startsWith('=')) this.fail("expected '='");
      this.pos++;
      this.skipWs();
      const quote = this.src[this.pos];
      if (quote !== '"' && quote !== "'") this.fail('expected a quoted attribute value');
      this.pos++;
      decodeText(this.readUntil(quote, 'attribute value'));
    }
  }

  readElement(depth: number): XmlElement {
    if (depth > MAX_DEPTH) this.fail('elements nested too deeply');
    this.pos++; // '<'
    const qname = this.readName();
    const name = qname.includes(':') ? qname.slice(qname.indexOf(':') + 1) : qname;
    this.readAttributes();
    const el: XmlElement = { name, children: [], text: '' };
    if (this.startsWith('/>')) {
      this.pos += 2;
      return el;
    }
    this.pos++; // '>'
    for (;;) {
      const lt = this.src.indexOf('<', this.pos);
      if (lt < 0) this.fail(`unclosed element <${qname}>`);
      if (lt > this.pos) {
        const raw = this.src.slice(this.pos, lt);
        if (raw.includes(']]>')) this.fail("']]>' in character data");
        el.text += decodeText(raw);
        this.pos = lt;
      }
      if (this.startsWith('</')) {
        this.pos += 2;
        const closing = this.readName();
        if (closing !== qname) this.fail(`expected </${qname}>`);
        this.skipWs();
        if (!this.startsWith('>')) this.fail("expected '>'");
        this.pos++;
        return el;
      }
      if (this.startsWith('<![CDATA[')) {
        this.pos += 9;
        el.text += this.readUntil(']]>', 'CDATA section');
      } else if (this.startsWith('<!--')) {
        this.pos += 4;
        const body = this.readUntil('-->', 'comment');
        if (body.includes('--') || body.endsWith('-')) this.fail("'--' inside a comment");
      } else if (this.startsWith('<!') || this.startsWith('<?')) {
        this.fail('declarations and processing instructions are not accepted');
      } else {
        el.children.push(this.readElement(depth + 1));
      }
    }
  }
}

const XML_DECL = /^<\?xml(?:[ \t\n]+[A-Za-z]+[ \t\n]*=[ \t\n]*(?:"[^"<]*"|'[^'<]*'))*[ \t\n]*\?>/;

/**
 * Parse one well-formed XML document (UTF-8, at most one root element).
 * Throws XmlSyntaxError on anything else; callers map that to MalformedXML.
 */
export function parseXmlDocument(input: Buffer): XmlElement {
  let src: string;
  try {
    src = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(input);
  } catch {
    throw new XmlSyntaxError('body is not valid UTF-8');
  }
  // XML 1.0 §2.11: CR LF and lone CR become LF before parsing; CR survives only as &#xD;.
  src = src.replace(/\r\n?/g, '\n');
  if (INVALID_CHAR.test(src)) throw new XmlSyntaxError('character XML 1.0 forbids');
  const decl = XML_DECL.exec(src);
  if (decl) {
    if (!/encoding[ \t\n]*=[ \t\n]*["']utf-8["']|^(?![\s\S]*encoding)/i.test(decl[0])) {
      throw new XmlSyntaxError('only UTF-8 documents are accepted');
    }
  } else if (src.startsWith('<?xml')) {
    throw new XmlSyntaxError('malformed XML declaration');
  }
  const reader = new Reader(src);
  reader.pos = decl ? decl[0].length : 0;
  reader.skipMisc();
  if (!reader.startsWith('<')) reader.fail('expected the root element');
  const root = reader.readElement(0);
  reader.skipMisc();
  if (reader.pos !== src.length) reader.fail('content after the root element');
  return root;
}
