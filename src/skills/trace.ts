/** Arguments as logged: whole when small, else a preview (a 5 MB argument must not make a 5 MB line). */
export function argsForLog(args: unknown): unknown {
  const json = JSON.stringify(args) ?? '';
  return json.length <= LOGGED_ARGS_MAX_CHARS ? args : `${json.slice(0, LOGGED_ARGS_MAX_CHARS)}… (${json.length} chars)`;
}

const LOGGED_ARGS_MAX_CHARS = 2000;
