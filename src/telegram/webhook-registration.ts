import type { UpdateStore } from '../inbox/update-store.js';
import { createHash, X509Certificate } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/index.js';
import { TELEGRAM_WEBHOOK_PORTS } from '../config/index.js';
import { SkillgateError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { ALLOWED_UPDATES } from './allowed-updates.js';
import type { SetWebhookParams, TelegramApi, WebhookInfo } from './api-client.js';

/**
 * Telegram webhook registration, shared by `npm run webhook:*` and the gateway's start.
 * setWebhook is rate-limited by Telegram and re-registering on every restart earns 429s, so the
 * gateway compares getWebhookInfo with what it wants and calls setWebhook only on a difference.
 * The secret cannot be read back from Telegram: a marker in DATA_DIR remembers a hash of the
 * secret (and the certificate) last registered, so rotating either triggers one re-registration.
 */

/** One list for both delivery modes (src/telegram/allowed-updates.ts). */
export { ALLOWED_UPDATES };

const MARKER_FILE = 'webhook-registration.json';
/** The same marker in the store's meta table, when the replicas share one. */
export const MARKER_META_KEY = 'telegram.webhook.marker';

/** What registration needs; a subset of Config, so CLIs can build it from a partial environment. */
export interface WebhookSettings {
  publicUrl: string;
  webhookPath: string;
  secret: string | undefined;
  maxConnections: number;
  /** The main listener's certificate when TLS is on; uploaded to Telegram when it is self-signed. */
  certFile: string | undefined;
  dataDir: string;
  /**
   * Where the marker of the last registration lives. Default: DATA_DIR/webhook-registration.json;
   * the gateway passes the shared database with several replicas, so they agree on it.
   */
  marker?: MarkerStore;
}

/** The marker's text, wherever it is kept. */
export interface MarkerStore {
  read(): Promise<string | undefined>;
  write(text: string): Promise<void>;
}

export interface RegisterOptions {
  dropPendingUpdates?: boolean;
  /** Fixed IP Telegram connects to instead of resolving the host. */
  ipAddress?: string;
}

export interface EnsureResult {
  /** Whether setWebhook was called. */
  changed: boolean;
  /** Why it was (or, empty, that nothing differed). */
  reasons: string[];
}

interface Marker {
  url: string;
  secretSha256: string;
  certSha256: string | null;
}

export function settingsFromConfig(config: Config): WebhookSettings {
  if (!config.http.publicUrl) {
    throw new SkillgateError('SG_WEBHOOK_URL_INVALID', 'PUBLIC_URL is not set; set it to the https:// address Telegram should call');
  }
  return {
    publicUrl: config.http.publicUrl,
    webhookPath: config.http.webhookPath,
    secret: config.telegram.webhookSecret,
    maxConnections: config.telegram.maxConnections,
    certFile: config.http.tls ? config.http.certFile : undefined,
    dataDir: config.dataDir,
  };
}

/** The reasons Telegram would refuse this webhook URL; empty when it is acceptable. */
export function webhookUrlProblems(url: string): string[] {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return ['PUBLIC_URL: is not a URL (expected https://host[:port])'];
  }
  const problems: string[] = [];
  if (parsed.protocol !== 'https:') problems.push('PUBLIC_URL: must start with https:// (Telegram only calls HTTPS webhooks)');
  const port = parsed.port === '' ? (parsed.protocol === 'http:' ? 80 : 443) : Number(parsed.port);
  if (!(TELEGRAM_WEBHOOK_PORTS as readonly number[]).includes(port)) {
    problems.push(`PUBLIC_URL: port ${port} is not one Telegram delivers to; use ${TELEGRAM_WEBHOOK_PORTS.join(', ')}`);
  }
  if (parsed.username || parsed.password) problems.push('PUBLIC_URL: must not contain a user name or password');
  if (parsed.search || parsed.hash) problems.push('PUBLIC_URL: must not contain a query or fragment (put the path in WEBHOOK_PATH)');
  return problems;
}

/** PUBLIC_URL + WEBHOOK_PATH, without a doubled slash. */
export function webhookUrl(settings: Pick<WebhookSettings, 'publicUrl' | 'webhookPath'>): string {
  return settings.publicUrl.replace(/\/+$/, '') + settings.webhookPath;
}

/** Telegram needs the certificate uploaded only when no public CA vouches for it: issuer == subject. */
export function isSelfSigned(pem: string | Buffer): boolean {
  const cert = new X509Certificate(pem);
  return cert.issuer === cert.subject && cert.verify(cert.publicKey);
}

/** Reads the listener's certificate and returns it when it must be uploaded (self-signed). */
export async function certificateToUpload(certFile: string | undefined): Promise<Buffer | undefined> {
  if (!certFile) return undefined;
  let pem: Buffer;
  try {
    pem = await fs.readFile(certFile);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined; // TLS terminated elsewhere, or certs not made yet
    throw new SkillgateError('SG_WEBHOOK_URL_INVALID', `TLS_CERT_FILE: cannot read ${certFile} (${code})`);
  }
  try {
    return isSelfSigned(pem) ? pem : undefined;
  } catch {
    throw new SkillgateError('SG_WEBHOOK_URL_INVALID', `TLS_CERT_FILE: ${certFile} is not a PEM certificate`);
  }
}

/** Calls setWebhook with everything the gateway needs, then records the marker. */
export async function registerWebhook(
  api: TelegramApi,
  settings: WebhookSettings,
  options: RegisterOptions = {},
): Promise<{ url: string; certificateUploaded: boolean }> {
  const url = webhookUrl(settings);
  const problems = webhookUrlProblems(url);
  if (problems.length > 0) throw new SkillgateError('SG_WEBHOOK_URL_INVALID', problems.join('; '));
  const certificate = await certificateToUpload(settings.certFile);
  const params: SetWebhookParams = {
    url,
    allowed_updates: [...ALLOWED_UPDATES],
    max_connections: settings.maxConnections,
    ...(settings.secret ? { secret_token: settings.secret } : {}),
    ...(options.dropPendingUpdates ? { drop_pending_updates: true } : {}),
    ...(options.ipAddress ? { ip_address: options.ipAddress } : {}),
    ...(certificate ? { certificate } : {}),
  };
  await api.setWebhook(params);
  await markerStoreOf(settings).write(JSON.stringify(markerFor(settings, certificate)) + '\n');
  return { url, certificateUploaded: certificate !== undefined };
}

/**
 * For the gateway's start: registers the webhook only when Telegram's current registration, or
 * the marker of what we last registered, differs from the configuration.
 */
export async function ensureWebhook(deps: { api: TelegramApi; config: Config; logger: Logger; marker?: MarkerStore }): Promise<EnsureResult> {
  const settings = { ...settingsFromConfig(deps.config), ...(deps.marker ? { marker: deps.marker } : {}) };
  const reasons = await registrationDifferences(deps.api, settings);
  if (reasons.length === 0) {
    deps.logger.info({ url: webhookUrl(settings) }, 'Telegram webhook already registered; not re-registering');
    return { changed: false, reasons };
  }
  const { url, certificateUploaded } = await registerWebhook(deps.api, settings);
  deps.logger.info({ url, reasons, certificateUploaded }, 'Telegram webhook registered');
  return { changed: true, reasons };
}

/** What differs between Telegram's registration and ours; empty when nothing does. */
export async function registrationDifferences(api: TelegramApi, settings: WebhookSettings): Promise<string[]> {
  const info = await api.getWebhookInfo();
  const certificate = await certificateToUpload(settings.certFile);
  const wanted = markerFor(settings, certificate);
  const reasons: string[] = [];
  if (info.url !== wanted.url) reasons.push(info.url ? 'url changed' : 'no webhook registered');
  if ((info.max_connections ?? 40) !== settings.maxConnections) reasons.push('max_connections changed');
  if (!sameSet(info.allowed_updates, ALLOWED_UPDATES)) reasons.push('allowed_updates changed');
  if (info.has_custom_certificate !== (certificate !== undefined)) reasons.push('certificate upload changed');
  const marker = await readMarker(markerStoreOf(settings));
  if (!marker) reasons.push('no record of the registered secret');
  else {
    if (marker.secretSha256 !== wanted.secretSha256) reasons.push('secret changed');
    if (marker.certSha256 !== wanted.certSha256) reasons.push('certificate changed');
  }
  return reasons;
}

/** The fields `npm run webhook:info` prints, one `name: value` line each. */
export function describeWebhookInfo(info: WebhookInfo): string[] {
  const lines = [
    `url: ${info.url || '(none: no webhook set)'}`,
    `pending_update_count: ${info.pending_update_count}`,
    `last_error_date: ${info.last_error_date ? new Date(info.last_error_date * 1000).toISOString() : '(none)'}`,
    `last_error_message: ${info.last_error_message ?? '(none)'}`,
    `max_connections: ${info.max_connections ?? '(default)'}`,
    `ip_address: ${info.ip_address ?? '(none)'}`,
    `allowed_updates: ${info.allowed_updates ? info.allowed_updates.join(', ') : '(default)'}`,
    `has_custom_certificate: ${info.has_custom_certificate}`,
  ];
  return lines;
}

/** After deleteWebhook the marker is stale: the next start must register again. */
export async function forgetRegistration(dataDir: string): Promise<void> {
  await fs.rm(path.join(dataDir, MARKER_FILE), { force: true });
}

function markerFor(settings: WebhookSettings, certificate: Buffer | undefined): Marker {
  return {
    url: webhookUrl(settings),
    secretSha256: sha256(settings.secret ?? ''),
    certSha256: certificate ? sha256(certificate) : null,
  };
}

async function readMarker(store: MarkerStore): Promise<Marker | undefined> {
  try {
    const parsed = JSON.parse((await store.read()) ?? '') as Partial<Marker>;
    if (typeof parsed.secretSha256 !== 'string') return undefined;
    return { url: String(parsed.url), secretSha256: parsed.secretSha256, certSha256: parsed.certSha256 ?? null };
  } catch {
    return undefined; // missing or corrupt: register once more, which is always safe
  }
}

function markerStoreOf(settings: WebhookSettings): MarkerStore {
  return settings.marker ?? markerFile(settings.dataDir);
}

/** The marker as a private file in DATA_DIR, replaced atomically. */
function markerFile(dataDir: string): MarkerStore {
  const file = path.join(dataDir, MARKER_FILE);
  return {
    read: () => fs.readFile(file, 'utf8').catch(() => undefined),
    write: async (text) => {
      await fs.mkdir(dataDir, { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      await fs.writeFile(tmp, text, { mode: 0o600 });
      await fs.rename(tmp, file);
    },
  };
}

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function sameSet(actual: readonly string[] | undefined, wanted: readonly string[]): boolean {
  if (!actual) return false;
  return actual.length === wanted.length && wanted.every((u) => actual.includes(u));
}

/** The marker in the store's meta table (PostgreSQL, shared by the replicas). */
export function sharedMarker(store: Pick<UpdateStore, 'getMeta' | 'setMeta'>): MarkerStore {
  return {
    read: async () => store.getMeta(MARKER_META_KEY),
    write: async (text) => store.setMeta(MARKER_META_KEY, text),
  };
}
