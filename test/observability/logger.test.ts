import t from 'tap';
import { createCaptureStream, createLogger } from '../../src/observability/logger.js';
import { createRedactor } from '../../src/observability/redact.js';

const SECRET = '123456:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQ';

t.test('pretty output (a TTY) is human-readable and still redacted', async (t) => {
  const lines: string[] = [];
  const logger = createLogger({ level: 'info', redact: createRedactor([SECRET]), destination: createCaptureStream(lines), pretty: true });
  logger.info({ token: SECRET }, `started with ${SECRET}`);
  await new Promise((resolve) => setImmediate(resolve));
  const out = lines.join('\n');
  t.match(out, /INFO/, 'a level word, not a JSON number');
  t.notMatch(out, /^\{/, 'not a JSON line');
  t.notMatch(out, /AAbbCCdd/, 'the token never appears');
});

t.test('JSON output (no TTY) is one redacted JSON object per line', async (t) => {
  const lines: string[] = [];
  const logger = createLogger({ level: 'info', redact: createRedactor([SECRET]), destination: createCaptureStream(lines), pretty: false });
  logger.info({ token: SECRET }, 'hello');
  await new Promise((resolve) => setImmediate(resolve));
  const entry = JSON.parse(lines[0]!) as { msg: string; level: number; token: string };
  t.equal(entry.msg, 'hello');
  t.equal(entry.level, 30);
  t.notMatch(entry.token, /AAbbCCdd/);
});
