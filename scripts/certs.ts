/**
 * `npm run certs -- --host NAME_OR_IP [--days N] [--force]`: a self-signed certificate for the
 * webhook listener, written to TLS_CERT_FILE / TLS_KEY_FILE (default certs/cert.pem and
 * certs/key.pem, key mode 0600), then how to register it with Telegram.
 * Exit codes: 0 written, 1 refused (files exist without --force), 64 bad usage, 78 configuration.
 */
import fs from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadEnvKeys, readEnv } from '../src/config/index.js';
import { ConfigError } from '../src/errors.js';
import { generateSelfSigned } from '../src/http/self-signed.js';

const USAGE = 'Usage: npm run certs -- --host NAME_OR_IP [--days 3650] [--force]';
const EXIT_USAGE = 64;

async function main(argv: string[]): Promise<number> {
  let values: { host?: string; days?: string; force?: boolean };
  try {
    values = parseArgs({
      args: argv,
      options: { host: { type: 'string' }, days: { type: 'string' }, force: { type: 'boolean' } },
    }).values;
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return EXIT_USAGE;
  }
  const host = values.host?.trim().replace(/^\[(.*)\]$/, '$1');
  const days = values.days === undefined ? 3650 : Number(values.days);
  if (!host || !isHostName(host) || !Number.isInteger(days) || days < 1) {
    console.error(`--host must be the server's public DNS name or IP address; --days a positive integer.\n${USAGE}`);
    return EXIT_USAGE;
  }

  const cwd = process.cwd();
  let files: { cert: string; key: string };
  try {
    const env = loadEnvKeys(readEnv(process.env, cwd), ['TLS_CERT_FILE', 'TLS_KEY_FILE']);
    files = { cert: path.resolve(cwd, env.TLS_CERT_FILE), key: path.resolve(cwd, env.TLS_KEY_FILE) };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.problems.join('\n'));
    return err.exitCode;
  }
  const existing = [files.cert, files.key].filter((f) => fs.existsSync(f));
  if (existing.length > 0 && !values.force) {
    console.error(`Refusing to overwrite ${existing.map((f) => path.relative(cwd, f)).join(' and ')}; pass --force to replace them.`);
    return 1;
  }

  const { cert, key } = await generateSelfSigned({ host, days });
  for (const file of [files.cert, files.key]) fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(files.cert, cert, { mode: 0o644 });
  fs.writeFileSync(files.key, key, { mode: 0o600 });
  fs.chmodSync(files.key, 0o600); // writeFileSync keeps the mode of a file that already existed

  const port = 8443;
  const origin = isIP(host) === 6 ? `[${host}]` : host;
  const rel = (f: string) => path.relative(cwd, f) || f;
  console.log(`Wrote ${rel(files.cert)} and ${rel(files.key)} (mode 0600): self-signed for ${isIP(host) ? 'IP' : 'DNS'} ${host}, valid ${days} days.`);
  console.log('');
  console.log('Next:');
  console.log(`  1. In .env:  TLS=on  PORT=${port}  PUBLIC_URL=https://${origin}:${port}`);
  console.log('     (Telegram delivers only to ports 443, 80, 88 and 8443; open the port in the firewall.)');
  console.log('  2. npm run webhook:set   uploads the certificate to Telegram, because it is self-signed,');
  console.log('     and prints getWebhookInfo; check that last_error_message stays empty after a message.');
  console.log('  Or leave PUBLIC_URL set and run npm start: the gateway registers the webhook itself.');
  return 0;
}

/** An IP address, or a DNS name made of letters, digits, hyphens and dots. */
function isHostName(host: string): boolean {
  return isIP(host) !== 0 || /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(host);
}

process.exitCode = await main(process.argv.slice(2));
