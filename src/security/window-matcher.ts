import type { SecretForm } from './secret-forms.js';

/** A run of this many characters of a secret (in any of its forms) is treated as the secret. */
export const WINDOW = 12;

const BASE = 0x01000193; // FNV prime: odd, spreads UTF-16 code units well under Math.imul
const B64_CHAR = /[A-Za-z0-9+/_-]/;

/** Where secret material sits in a text: half-open [start, end) ranges, sorted, not overlapping. */
export type Spans = Array<[number, number]>;

/**
 * Finds every run of WINDOW or more characters that is a substring of a secret form, in one pass.
 * Built once: every WINDOW-character window of every form goes into a bit filter (by a rolling
 * hash) and a map (to confirm); scanning is then a rolling hash per character with a table
 * lookup, and only filter hits cost a substring. Overlapping hits merge, so a secret cut short,
 * or a longer run of one, is covered whole.
 */
export class WindowMatcher {
  private readonly filter: Uint32Array;
  private readonly mask: number;
  private readonly hashes = new Set<number>();
  /** window -> true when it comes from a base64 form. */
  private readonly windows = new Map<string, boolean>();
  /** BASE^(WINDOW-1), to drop the leaving character from the rolling hash. */
  private readonly top: number;
  /** 1 for every UTF-16 code unit that occurs in some window. */
  private readonly alphabet = new Uint8Array(65536);

  constructor(forms: readonly SecretForm[]) {
    for (const form of forms) {
      for (let i = 0; i < form.text.length; i++) this.alphabet[form.text.charCodeAt(i)] = 1;
      for (let i = 0; i + WINDOW <= form.text.length; i++) {
        const w = form.text.slice(i, i + WINDOW);
        this.windows.set(w, (this.windows.get(w) ?? false) || form.base64);
      }
    }
    // 16 to 32 filter bits per window: under 6 % of positions reach the exact hash check, and
    // the filter of an RSA key's ~22k windows stays small enough (64 KiB) for the CPU cache.
    let bits = 1 << 16;
    while (bits < this.windows.size * 16) bits *= 2;
    this.filter = new Uint32Array(bits / 32);
    this.mask = bits - 1;
    for (const w of this.windows.keys()) {
      const h = hashOf(w);
      this.hashes.add(h);
      this.filter[(h & this.mask) >>> 5]! |= 1 << (h & 31);
    }
    let top = 1;
    for (let i = 1; i < WINDOW; i++) top = Math.imul(top, BASE);
    this.top = top;
  }

  spans(text: string): Spans {
    const spans: Spans = [];
    if (this.windows.size === 0 || text.length < WINDOW) return spans;
    const { filter, mask, top, alphabet } = this;
    // `run` counts the characters since the last one no window contains (a space, in most
    // secrets): ordinary prose is mostly skipped there, without hashing.
    let h = 0;
    let run = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (alphabet[c] === 0) {
        run = 0;
        h = 0;
        continue;
      }
      if (run < WINDOW) {
        h = (Math.imul(h, BASE) + c) | 0;
        if (++run < WINDOW) continue;
      } else {
        h = (Math.imul(h - Math.imul(text.charCodeAt(i - WINDOW), top), BASE) + c) | 0;
      }
      if ((filter[(h & mask) >>> 5]! & (1 << (h & 31))) !== 0 && this.hashes.has(h)) {
        const start = i + 1 - WINDOW;
        const base64 = this.windows.get(text.slice(start, i + 1));
        if (base64 !== undefined) addSpan(spans, text, start, i + 1, base64);
      }
    }
    return spans;
  }
}

function hashOf(w: string): number {
  let h = 0;
  for (let i = 0; i < w.length; i++) h = (Math.imul(h, BASE) + w.charCodeAt(i)) | 0;
  return h;
}

/**
 * Records [start, end), merged with the previous span when they touch. A base64 hit also takes
 * the one character on each side that mixes the secret's bits with its neighbours', and the
 * padding after it.
 */
function addSpan(spans: Spans, text: string, start: number, end: number, base64: boolean): void {
  if (base64) {
    if (start > 0 && B64_CHAR.test(text[start - 1]!)) start--;
    if (end < text.length && B64_CHAR.test(text[end]!)) end++;
    while (end < text.length && text[end] === '=') end++;
  }
  const last = spans[spans.length - 1];
  if (last && start <= last[1]) last[1] = Math.max(last[1], end);
  else spans.push([start, end]);
}
