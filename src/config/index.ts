export { loadConfig, loadEnvKeys, loadSkillsConfig, readEnv, type RawEnv } from './load.js';
export { envSchema, toConfig, SKILLS_ENV_KEYS, TELEGRAM_WEBHOOK_PORTS, type Config, type Env } from './schema.js';
export { privatePaths, warnLoosePermissions, type PrivatePath } from './permissions.js';
