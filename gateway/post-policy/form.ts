// Reads a browser POST form (multipart/form-data, RFC 7578) as a stream with busboy:
// the fields up to the file part, then hands over the file part still unread, so the
// policy and signature are checked before a byte of the file is stored. Fields after
// the file are ignored and the file must be the last field (RESTObjectPOST.html).
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import busboy from 'busboy';
import { S3Error } from '../s3-errors.ts';
import { extraError } from '../s3-errors-extra.ts';

/** S3 limits the form fields before the file to 20 KB (MaxPostPreDataLengthExceeded). */
export const MAX_PRE_DATA = 20 * 1024;

export interface PostForm {
  /** Fields before the file, names lower-cased (S3 form field names are case-insensitive); first one wins. */
  fields: Map<string, string>;
  file: Readable & { truncated?: boolean };
  filename: string;
  /** Settles once the whole body has been parsed (after the file stream was consumed). */
  finished: Promise<void>;
  /** Stops reading the request (the caller answers an error). */
  abort(): void;
}

function malformed(): S3Error {
  return extraError('MalformedPOSTRequest', 'The body of your POST request is not well-formed multipart/form-data.');
}

export function readPostForm(req: IncomingMessage, opts: { maxFileSize: number }): Promise<PostForm> {
  let bb: busboy.Busboy;
  try {
    const ct = req.headers['content-type'] ?? '';
    if (!/^multipart\/form-data/i.test(ct)) throw new Error('not multipart');
    bb = busboy({ headers: req.headers, defParamCharset: 'utf8', limits: { files: 10, fileSize: opts.maxFileSize + 1, fields: 1000, fieldSize: MAX_PRE_DATA + 1, parts: 1100 } });
  } catch {
    return Promise.reject(new S3Error('PreconditionFailed', undefined, { Condition: 'Bucket POST must be of the enclosure-type multipart/form-data' }));
  }
  return new Promise((resolve, reject) => {
    const fields = new Map<string, string>();
    let preBytes = 0;
    let got = false;
    let endOk!: () => void;
    let endFail!: (e: Error) => void;
    const finished = new Promise<void>((res, rej) => {
      endOk = res;
      endFail = rej;
    });
    finished.catch(() => {});
    const abort = () => {
      req.unpipe(bb);
      bb.removeAllListeners('field');
    };
    const fail = (e: Error) => {
      abort();
      if (!got) reject(e);
      endFail(e);
    };
    bb.on('field', (name, value, info) => {
      if (got) return;
      preBytes += Buffer.byteLength(name) + Buffer.byteLength(value);
      if (preBytes > MAX_PRE_DATA || info.valueTruncated) {
        fail(extraError('MaxPostPreDataLengthExceeded', 'Your POST request fields preceding the upload file were too large.'));
        return;
      }
      const k = name.toLowerCase();
      if (!fields.has(k)) fields.set(k, value);
    });
    bb.on('file', (name, stream, info) => {
      if (got || name.toLowerCase() !== 'file') {
        stream.resume();
        return;
      }
      got = true;
      resolve({ fields, file: stream, filename: info.filename ?? '', finished, abort });
    });
    bb.on('close', () => {
      if (!got) reject(new S3Error('InvalidArgument', 'POST requires exactly one file upload per request.', { ArgumentName: 'file', ArgumentValue: '0' }));
      endOk();
    });
    bb.on('error', () => fail(malformed()));
    req.on('aborted', () => fail(new S3Error('IncompleteBody', 'The client closed the connection before the body was complete')));
    req.pipe(bb);
  });
}
