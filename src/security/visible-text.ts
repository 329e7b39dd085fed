/**
 * Text a person must judge before approving (a skill's arguments) made to look like what it is.
 * Every code point that renders as nothing, as blank, or as a line break is shown as an escape:
 * controls (Cc), format characters (Cf: zero-width, bidi overrides and isolates, tags), line and
 * paragraph separators (Zl, Zp), private-use (Co), unassigned (Cn), lone surrogates (Cs), every
 * space but U+0020 (Zs), blank letters (Braille blank U+2800, the Hangul fillers U+115F, U+1160,
 * U+3164, U+FFA0, Khmer's invisible vowels), variation selectors and the grapheme joiner, and
 * full-width copies of ASCII. A run of one such code point is collapsed with a count
 * (`\u2800×600`), so a payload hidden behind hundreds of blanks fits on the screen next to them.
 * Also made visible: a stack of three or more combining marks on one character, and the
 * Cyrillic, Greek, Armenian or Cherokee letters inside a word that is otherwise Latin (`сurl`).
 * Expressions are compiled once.
 */

const HIDDEN =
  /([\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{Cn}\p{Cs}\p{Zs}\u2800\u115f\u1160\u3164\uffa0\u034f\u17b4\u17b5\u180b-\u180f\ufe00-\ufe0f\u{e0100}-\u{e01ef}\uff01-\uff5e])\1*/gu;
const MARK_STACK = /\p{M}{3,}/gu;
const WORD = /[\p{L}\p{M}\p{N}_]+/gu;
const LATIN = /\p{Script=Latin}/u;
const LOOKALIKE_SCRIPT = /[\p{Script=Cyrillic}\p{Script=Greek}\p{Script=Armenian}\p{Script=Cherokee}]/u;
const LOOKALIKE_LETTERS = /[\p{Script=Cyrillic}\p{Script=Greek}\p{Script=Armenian}\p{Script=Cherokee}]/gu;

/** Runs shorter than this are spelled out; longer ones get a count. */
const COLLAPSE_FROM = 3;

export function revealInvisible(text: string): string {
  return text
    .replace(WORD, (word) => (LATIN.test(word) && LOOKALIKE_SCRIPT.test(word) ? word.replace(LOOKALIKE_LETTERS, (c) => escape(c)) : word))
    .replace(MARK_STACK, (marks) => [...marks].map((c) => escape(c)).join(''))
    .replace(HIDDEN, (run: string, char: string) => {
      if (char === ' ') return run;
      const count = run.length / char.length;
      return count >= COLLAPSE_FROM ? `${escape(char)}×${count}` : escape(char).repeat(count);
    });
}

/** `\u2800`, or `\u{e0041}` beyond the Basic Multilingual Plane. */
export function escape(char: string): string {
  const cp = char.codePointAt(0)!;
  return cp > 0xffff ? `\\u{${cp.toString(16)}}` : `\\u${cp.toString(16).padStart(4, '0')}`;
}
