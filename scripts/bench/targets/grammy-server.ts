import fs from 'node:fs';
import Fastify from 'fastify';
import { Bot, webhookCallback } from 'grammy';
import { announceListening, readTargetOptions } from './target-options.js';

/**
 * The peer: grammY's webhookCallback on Fastify over HTTPS, checking the secret token. Without
 * `apiRoot` the message handler does nothing (the intake row: what grammY costs before any work);
 * with it, the handler replies to every message through that Bot API (ctx.reply, the throughput
 * row: the same work skillgate does, minus storing). botInfo is preset so no getMe leaves the
 * machine; nothing is stored.
 */
const options = readTargetOptions(process.argv);
const REPLY_TEXT = 'Hi! I run skills for you. Send /help to see them.';
const bot = new Bot(options.token, {
  ...(options.apiRoot ? { client: { apiRoot: options.apiRoot } } : {}),
  botInfo: {
    id: Number(options.token.split(':')[0]),
    is_bot: true,
    first_name: 'Bench',
    username: 'bench_bot',
    can_join_groups: true,
    can_read_all_group_messages: false,
    supports_inline_queries: false,
    can_connect_to_business: false,
    has_main_web_app: false,
    has_topics_enabled: false,
    allows_users_to_create_topics: false,
    can_manage_bots: false,
    supports_join_request_queries: false,
  },
});
if (options.apiRoot) bot.on('message', (ctx) => ctx.reply(REPLY_TEXT));
else bot.on('message', () => undefined);

const app = Fastify({
  logger: false,
  https: { cert: fs.readFileSync(options.certFile), key: fs.readFileSync(options.keyFile) },
});
app.post(options.path, webhookCallback(bot, 'fastify', { secretToken: options.secret }));
await app.listen({ host: '127.0.0.1', port: options.port });
announceListening(options.port);
