// Personal data detectors. Shapes follow the formats' own specifications (RFC 5321 for
// addresses, ITU-T E.164 / NANP for phone numbers, SSA for SSNs, ISO 7812 for cards,
// ISO 13616 for IBANs, RFC 791 / RFC 4291 for IP addresses); every pattern has fixed
// upper bounds so scan time stays linear.
import { isIPv6 } from 'node:net';
import { regexScanner, rule, wordStart, type Hit, type Scanner } from './rule.ts';
import { cardPrefixValid, ibanValid, luhnValid } from './validators.ts';

const LOCAL_CHAR = /[A-Za-z0-9._%+-]/;
const MAX_LOCAL = 64; // RFC 5321 §4.5.3.1.1
const MAX_DOMAIN = 255; // RFC 5321 §4.5.3.1.2

/**
 * Anchored on '@' (found with indexOf) instead of a regex whose leading character class
 * would restart at every letter of the prose: the local part is walked backwards, the
 * domain matched forwards with a sticky regex.
 */
function emailScanner(): Scanner {
  const info = rule('pii.email', 'pii', 'EMAIL');
  const domain = /[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?){0,8}\.[A-Za-z]{2,24}(?![A-Za-z0-9-])/y;
  return {
    rules: [info],
    maxLength: MAX_LOCAL + 1 + MAX_DOMAIN,
    scan(text, hits) {
      let at = text.indexOf('@');
      while (at !== -1) {
        let start = at;
        while (start > 0 && at - start < MAX_LOCAL && LOCAL_CHAR.test(text[start - 1])) start--;
        while (start < at && text[start] === '.') start++;
        domain.lastIndex = at + 1;
        const m = start < at ? domain.exec(text) : null;
        if (m && m[0].length <= MAX_DOMAIN) {
          const end = at + 1 + m[0].length;
          hits.push({ rule: info, start, end });
          at = text.indexOf('@', end);
        } else {
          at = text.indexOf('@', at + 1);
        }
      }
    },
  };
}

/** E.164 numbers (leading '+', 8–15 digits) and NANP numbers written with separators. */
function phoneScanner(): Scanner {
  return regexScanner({
    rule: rule('pii.phone', 'pii', 'PHONE'),
    regex: /(?<![\w+])(?:\+[1-9]\d{0,2}(?:[ .-]?\(?\d{1,5}\)?){2,6}|(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4})(?![\w-])/g,
    maxLength: 40,
    validate: (v) => {
      const digits = v.replace(/\D/g, '').length;
      return v.startsWith('+') ? digits >= 8 && digits <= 15 : digits === 10;
    },
  });
}

/** SSA rules: area 000, 666 and 900–999, group 00 and serial 0000 are never issued. */
function ssnScanner(): Scanner {
  return regexScanner({
    rule: rule('pii.ssn', 'pii', 'SSN'),
    regex: /(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-])/g,
    maxLength: 11,
    validate: (v) => {
      const area = Number(v.slice(0, 3));
      return area !== 0 && area !== 666 && area < 900 && v.slice(4, 6) !== '00' && v.slice(7) !== '0000';
    },
  });
}

function cardScanner(): Scanner {
  return regexScanner({
    rule: rule('pii.credit-card', 'pii', 'CARD'),
    regex: /(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])/g,
    maxLength: 19 + 18,
    validate: (v) => {
      const groups = v.split(/[ -]/);
      if (groups.length > 1) {
        if (v.includes(' ') && v.includes('-')) return false;
        if (groups.some((g) => g.length < 3 || g.length > 6)) return false;
      }
      const digits = groups.join('');
      return luhnValid(digits) && cardPrefixValid(digits);
    },
  });
}

function ibanScanner(): Scanner {
  return regexScanner({
    rule: rule('pii.iban', 'pii', 'IBAN'),
    regex: /(?<![\w])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?!\w)/g,
    maxLength: 42,
    validate: ibanValid,
  });
}

function ipv4Scanner(): Scanner {
  const octet = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
  return regexScanner({
    rule: rule('pii.ipv4', 'pii', 'IP'),
    // Not glued to another dotted number: "1.2.3.4.5" and "v1.2.3.4" are versions.
    regex: new RegExp(`(?<![\\w.])${octet}(?:\\.${octet}){3}(?!\\w|\\.\\d)`, 'g'),
    maxLength: 15,
  });
}

const isHexOrColon = (c: number): boolean =>
  (c >= 48 && c <= 58) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
const IPV6_MAX = 45; // RFC 4291 §2.2 form 3, e.g. ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255

/**
 * Anchored on ':' (indexOf): the run of hex digits, colons and (for an embedded IPv4
 * tail) dots around it is handed to node's RFC 4291 parser. At least two non-empty
 * groups are required, and the run must not be glued to a word, so "::1", C++ / Rust
 * paths (std::vector, Vec::new), times (12:30:45) and MAC addresses do not count.
 */
function ipv6Scanner(): Scanner {
  const info = rule('pii.ipv6', 'pii', 'IP');
  return {
    rules: [info],
    maxLength: IPV6_MAX,
    scan(text: string, hits: Hit[]) {
      let colon = text.indexOf(':');
      while (colon !== -1) {
        // Most colons in prose and code ("key: value", "http://") fail this at once.
        if (!isHexOrColon(text.charCodeAt(colon + 1))) {
          colon = text.indexOf(':', colon + 1);
          continue;
        }
        let start = colon;
        while (start > 0 && colon - start < IPV6_MAX && isHexOrColon(text.charCodeAt(start - 1))) start--;
        let end = colon + 1;
        while (end < text.length && end - start < IPV6_MAX + 1) {
          const c = text.charCodeAt(end);
          if (!isHexOrColon(c) && c !== 46) break;
          end++;
        }
        while (end > colon && text.charCodeAt(end - 1) === 46) end--;
        const v = text.slice(start, end);
        if (
          v.length >= 3 &&
          wordStart(text, start) &&
          text[start - 1] !== '.' &&
          wordStart(text, end + 1) && // i.e. text[end] is not a word character
          text[end] !== ':' &&
          v.indexOf(':') !== v.lastIndexOf(':') && // every IPv6 form has two colons or more
          v.split(':').filter((g) => g.length > 0).length >= 2 &&
          isIPv6(v)
        ) {
          hits.push({ rule: info, start, end });
        }
        colon = text.indexOf(':', Math.max(end, colon + 1));
      }
    },
  };
}

export function piiScanners(): Scanner[] {
  return [emailScanner(), phoneScanner(), ssnScanner(), cardScanner(), ibanScanner(), ipv4Scanner(), ipv6Scanner()];
}
