import t from 'tap';
import { loadConfig } from '../../src/config/index.js';
t.test('x', async (t) => { t.throws(() => loadConfig({})); });
