// The TAP stream of `tap --reporter=tap`, read line by line, turned into what `npm test` prints:
// the lines worth showing (file results, failures with their diagnostics), one line per skipped
// or todo test with its reason, and the final `N passed, N failed, N skipped` line.
// Pure (no I/O) so that it can be tested by feeding it TAP text.
//
// Counting: tap's own final `# { total, pass, fail, skip, todo }` comment is the count of tests
// (not assertions). A todo counts as skipped. A run is failed, whatever tap's counts say, when a
// test file ended `not ok` (a crash: non-zero exit, missing plan), when tap exited non-zero, or
// when there were no tests at all.

const POINT = /^(not ok|ok) \d+(?: - (.*?))?(?: # (SKIP|TODO)\b\s*(.*))?$/i;
const SUBTEST = /^# Subtest: (.*)$/;
const TIME = /\s+# time=[\d.]+m?s$/;

export class TapSummary {
  /** `# Subtest:` names by depth: [file, subtest, ...]. */
  #path = [];
  #counts;
  #notOkFiles = 0;
  #failureIndent = -1; // indentation of the `not ok` whose diagnostics are being shown
  #yamlIndent = -1; // inside a `---` ... `...` diagnostics block at this indentation
  /** @type {Array<{ kind: 'skip' | 'todo', path: string, reason: string }>} */
  skips = [];
  /** Paths of the failed tests, innermost first (`file > test > assertion`). */
  failures = [];

  /** Reads one line; returns true when `npm test` should print it. */
  push(line) {
    const indent = line.length - line.trimStart().length;
    const body = line.trim();
    const depth = Math.floor(indent / 4);
    const counts = /^# \{ (total: \d+.*) \}$/.exec(line);
    if (counts) this.#counts = Object.fromEntries(counts[1].split(', ').map((kv) => kv.split(': ')).map(([k, v]) => [k, Number(v)]));
    if (this.#yamlIndent >= 0) {
      if (body === '...' && indent === this.#yamlIndent) this.#yamlIndent = -1;
      return this.#failureIndent >= 0;
    }
    if (body === '---') {
      this.#yamlIndent = indent;
      return this.#failureIndent >= 0;
    }
    const subtest = SUBTEST.exec(body);
    if (subtest) this.#path.splice(depth, Infinity, subtest[1]);

    const point = POINT.exec(body);
    if (point) {
      const [, status, rawName, directive, reason] = point;
      const name = (rawName ?? '').replace(TIME, '');
      // A skipped test or an assertion has no `# Subtest:` of its own: its path is its parents' plus its name.
      const where = [...this.#path.slice(0, depth), name].filter(Boolean).join(' > ');
      if (directive) {
        this.skips.push({ kind: directive.toLowerCase() === 'todo' ? 'todo' : 'skip', path: where, reason: reason.replace(TIME, '').trim() });
      } else if (status === 'not ok') {
        if (depth === 0) this.#notOkFiles++;
        // A failed subtest repeats its failed assertion's verdict: keep the innermost only.
        if (!this.failures.some((f) => f.startsWith(`${where} > `))) this.failures.push(where);
      }
      this.#path.splice(depth, Infinity);
    }

    if (point?.[1] === 'not ok' && !point[3]) this.#failureIndent = indent;
    else if (this.#failureIndent >= 0 && indent <= this.#failureIndent && body !== '') this.#failureIndent = -1;
    return indent === 0 || this.#failureIndent >= 0;
  }

  /** The totals once tap exited with `exitCode`. */
  result(exitCode) {
    const c = this.#counts ?? {};
    const total = c.total ?? 0;
    const passed = c.pass ?? 0;
    const skipped = (c.skip ?? 0) + (c.todo ?? 0);
    const problems = [];
    if (!this.#counts) problems.push('tap printed no totals (no tests at all, or tap itself failed)');
    else if (total === 0) problems.push('no tests at all');
    if (this.#notOkFiles > (c.fail ?? 0)) problems.push(`${this.#notOkFiles} test file(s) failed or crashed`);
    if (exitCode !== 0 && (c.fail ?? 0) === 0 && problems.length === 0) problems.push(`tap exited with code ${exitCode}`);
    const failed = Math.max(c.fail ?? 0, this.#notOkFiles, problems.length > 0 ? 1 : 0);
    return { passed, failed, skipped, todo: c.todo ?? 0, problems, skips: this.skips, failures: this.failures, line: `${passed} passed, ${failed} failed, ${skipped} skipped` };
  }
}

/** One printable line per skipped or todo test: `skip: file > test: reason`. */
export function formatSkip({ kind, path, reason }) {
  return `${kind}: ${path}${reason ? `: ${reason}` : ''}`;
}

/** The whole summary of a finished run's TAP text (for tests and tools). */
export function summarizeTap(text, exitCode = 0) {
  const summary = new TapSummary();
  for (const line of text.split('\n')) summary.push(line);
  return summary.result(exitCode);
}
