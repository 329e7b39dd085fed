/**
 * `npm run alert -- "text"`: sends one Discord alert with the gateway's payload and limits.
 * Prints `Webhook dispatch succeeded.` and exits 0, or the reason and exits 1 (also when
 * DISCORD_WEBHOOK_URL is missing or malformed: the contract has this command fail with 1).
 */
import { sendDiscordAlertOnce } from '../src/alerts/discord.js';
import { loadEnvKeys, readEnv } from '../src/config/index.js';
import { ConfigError } from '../src/errors.js';

async function main(argv: string[]): Promise<number> {
  const text = argv.join(' ').trim();
  if (!text) {
    console.error('Usage: npm run alert -- "text of the alert"');
    return 1;
  }
  let url: string | undefined;
  try {
    url = loadEnvKeys(readEnv(process.env, process.cwd()), ['DISCORD_WEBHOOK_URL']).DISCORD_WEBHOOK_URL;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.problems.join('\n'));
    return 1;
  }
  if (!url) {
    console.error('DISCORD_WEBHOOK_URL: is not set (in the environment or .env); create one in Discord under Channel settings > Integrations > Webhooks');
    return 1;
  }
  const result = await sendDiscordAlertOnce(url, text);
  if (result.ok) {
    console.log('Webhook dispatch succeeded.');
    return 0;
  }
  console.error(`Webhook dispatch failed: ${result.reason}`);
  return 1;
}

process.exitCode = await main(process.argv.slice(2));
