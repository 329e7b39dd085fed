/** What the bench hands a server-under-test child, as one JSON argv argument. */
export interface TargetOptions {
  port: number;
  certFile: string;
  keyFile: string;
  path: string;
  secret: string;
  token: string;
  /** grammY only: the fake Bot API to reply through (TELEGRAM_API_BASE); absent: a no-op handler. */
  apiRoot?: string;
}

export function readTargetOptions(argv: string[]): TargetOptions {
  const raw = argv[2];
  if (!raw) throw new Error('usage: <target>.ts \'{"port":..., "certFile":..., ...}\'');
  return JSON.parse(raw) as TargetOptions;
}

/** The line the bench waits for before it starts the load. */
export function announceListening(port: number): void {
  process.stdout.write(`LISTENING ${port}\n`);
}
