export { loadConfig, loadEnvKeys, loadSkillsConfig, readEnv, type RawEnv } from './load.js';
export { envSchema, TELEGRAM_WEBHOOK_PORTS, type Env } from './env-schema.js';
export { configSchema, toConfig, SKILLS_ENV_KEYS, type Config } from './schema.js';
export { privatePaths, warnLoosePermissions, type PrivatePath } from './permissions.js';
