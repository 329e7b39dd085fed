/**
 * Any PEM private key block, whether or not it is the configured TLS key: from its BEGIN line to
 * its END line, or, when the END line is missing (output cut at a size cap, a log preview), over
 * everything that can still belong to the key: base64 lines, `Proc-Type:`/`DEK-Info:` headers,
 * whitespace, and the `\n` escapes it has inside a JSON string. Compiled once.
 */
const LABEL = String.raw`-----(?:BEGIN|END) (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----`;
const BEGIN = LABEL.replace('(?:BEGIN|END)', 'BEGIN');
const END = LABEL.replace('(?:BEGIN|END)', 'END');
const BODY = String.raw`(?:[A-Za-z0-9+/=:, \t\r\n-]|\\[nrt])*`;

export const PEM_PRIVATE_KEY = new RegExp(`${BEGIN}(?:${BODY}${END}|${BODY})`, 'g');

/** What every private key block holds: a text shorter than this holds none. */
export const PEM_MARK = 'PRIVATE KEY';

/** Cheap pre-check, so texts without a key never run the expression. */
export function mayHoldPem(text: string): boolean {
  return text.includes(PEM_MARK);
}
