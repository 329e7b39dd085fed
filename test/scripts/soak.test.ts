import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { FakeTelegram } from '../../fakes/telegram.js';
import { writeSkillFixtures } from '../../scripts/bench/fixtures.js';
import { writeSelfSigned } from '../../scripts/bench/net.js';
import { BENCH_TOKEN } from '../../scripts/bench/payload.js';
import { ChildProcesses } from '../../scripts/bench/processes.js';
import { runSoak } from '../../scripts/bench/soak.js';
import { ROOT } from '../helpers/gateway-process.js';

// Issue 18: acked updates left unanswered under load. Bounded: 3 rounds, each waited for at most 30 s.
t.test('under CPU contention, every acked update of several rounds over 100 chats is answered and none is left accepted', async (t) => {
  const dir = t.testdir();
  const procs = new ChildProcesses();
  const telegram = await FakeTelegram.start({ token: BENCH_TOKEN });
  t.teardown(async () => {
    procs.killAll();
    await telegram.close();
  });
  const dataDir = path.join(dir, 'data');
  fs.mkdirSync(dataDir);
  const tls = await writeSelfSigned(dir);
  const result = await runSoak({
    procs,
    spec: {
      repoRoot: ROOT,
      entry: 'src/main.ts',
      nodeArgs: ['--import', 'tsx'],
      baseEnv: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? dir },
      tls,
      dataDir,
      ...(await writeSkillFixtures(dir)),
      telegramApiBase: telegram.apiBase,
    },
    telegram,
    ca: tls.cert,
    rounds: 3,
    updates: 1_000,
    chats: 100,
    connections: 32,
    busyLoops: 2,
    roundTimeoutMs: 30_000,
    progress: (line) => t.comment(line),
  });
  t.equal(result.acked, 3_000, 'every POST got a 200');
  t.equal(result.unanswered, 0, 'every acked update answered within its round');
  t.equal(result.left_accepted, 0, 'nothing left in state accepted');
  t.same(result.per_round.map((r) => r.answered), [1_000, 1_000, 1_000]);
});
