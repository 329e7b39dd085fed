import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import pino, { type DestinationStream, type Logger } from 'pino';
import type PinoPretty from 'pino-pretty';
import type { Redactor } from './redact.js';

export type { Logger } from 'pino';

/**
 * pino-pretty (and its colour and date libraries) is loaded only for a TTY: a gateway under
 * systemd or Docker writes JSON and does not carry it in memory. createRequire keeps the
 * factory synchronous (pino-pretty is CommonJS).
 */
function loadPretty(): typeof PinoPretty {
  return createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
}

export interface LoggerOptions {
  level: string;
  redact: Redactor;
  /** Where lines go. Default: stdout, pretty-printed when it is a TTY. */
  destination?: DestinationStream | NodeJS.WritableStream;
  /** Force pretty output on or off. Default: on when stdout is a TTY. */
  pretty?: boolean;
}

/**
 * The one logger factory. Redaction runs on the serialized line (pino's streamWrite hook), so it
 * covers messages, bound fields, error messages and stacks alike, whatever their shape.
 */
export function createLogger(options: LoggerOptions): Logger {
  const usePretty = options.pretty ?? (options.destination === undefined && process.stdout.isTTY === true);
  let destination: DestinationStream | NodeJS.WritableStream;
  if (usePretty) {
    destination = loadPretty()({
      colorize: true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname',
      singleLine: true,
      destination: (options.destination as NodeJS.WritableStream | undefined) ?? 1,
      sync: true,
    });
  } else {
    destination = options.destination ?? pino.destination({ dest: 1, sync: false });
  }
  return pino(
    {
      level: options.level,
      base: { pid: process.pid },
      hooks: { streamWrite: options.redact },
      serializers: { err: pino.stdSerializers.err },
    },
    destination as DestinationStream,
  );
}

/** A logger writing JSON lines into an array; for tests and for the demo's trace. */
export function createCaptureStream(lines: string[]): Writable {
  return new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
}
