export { loadConfig, readEnv, type RawEnv } from './load.js';
export { envSchema, toConfig, TELEGRAM_WEBHOOK_PORTS, type Config, type Env } from './schema.js';
