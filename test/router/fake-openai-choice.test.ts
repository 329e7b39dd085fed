import t from 'tap';
import { toolSharingMostWords } from '../../fakes/openai.js';

const SHIPPED = ['workspace_disk_usage', 'read_text_file', 'recent_files', 'system_status', 'check_workspace_files', 'check_python_packages'];

t.test('the fake model picks the tool sharing the most words with the message, on its own rule', async (t) => {
  t.equal(toolSharingMostWords('OpenClaw, what files do we have in our training workspace?', SHIPPED), 'check_workspace_files');
  t.equal(toolSharingMostWords('how is the system status', SHIPPED), 'system_status');
  t.equal(toolSharingMostWords('ping', ['ping', 'pong']), 'ping');
});

t.test('a tie goes to the first tool listed, and no shared word means no choice', async (t) => {
  t.equal(toolSharingMostWords('recent workspace changes', ['workspace_disk_usage', 'recent_files']), 'workspace_disk_usage');
  t.equal(toolSharingMostWords('what is the weather', SHIPPED), undefined);
  t.equal(toolSharingMostWords('a b it', ['a_b']), undefined, 'words under three letters do not count');
});
