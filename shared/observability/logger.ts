// Structured JSON logs (pino). Secrets never reach a log line: the redact list
// covers every field name that could carry one, as a second line of defence.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level = 'info', destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: 'fedgate' },
      redact: {
        paths: [
          'secretAccessKey', '*.secretAccessKey', 'secret', '*.secret', 'authorization', '*.authorization',
          'headers.authorization', 'req.headers.authorization', 'apiKey', '*.apiKey', 'token', '*.token', 'masterKey',
        ],
        censor: '[redacted]',
      },
    },
    destination as any,
  );
}
