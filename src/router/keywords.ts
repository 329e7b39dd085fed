import type { SkillInfo } from '../skills/types.js';

/**
 * Keyword matching of free text to a skill, for the rule router. Words from a skill's name count
 * double, words from its description once; a skill must match at least one word that is not a
 * stop word. Plurals and a few suffixes are folded so "files" finds check_workspace_files.
 */

const STOP_WORDS = new Set(
  `a an and are as at be by can could did do does for from have has how i in is it its me my of on or our
  please show tell that the their them there these this to us we what when where which who why will with
  you your give get list check run skill bot hey hi hello`.split(/\s+/),
);

export function keywordsOf(text: string): Set<string> {
  const words = text.toLowerCase().split(/[^\p{L}\p{N}]+/u);
  return new Set(words.filter((w) => w.length > 1 && !STOP_WORDS.has(w)).map(stem));
}

function stem(word: string): string {
  if (word.length > 4 && word.endsWith('ies')) return `${word.slice(0, -3)}y`;
  if (word.length > 3 && word.endsWith('es') && /(ss|x|ch|sh)es$/.test(word)) return word.slice(0, -2);
  if (word.length > 3 && word.endsWith('s') && !word.endsWith('ss')) return word.slice(0, -1);
  return word;
}

export interface KeywordMatch {
  skill: SkillInfo;
  score: number;
}

/**
 * A skill's name and description words, computed once per SkillInfo object: the registry builds
 * new objects when skills reload, so a changed description is never matched with stale words.
 */
const skillWordsCache = new WeakMap<SkillInfo, { nameWords: Set<string>; descriptionWords: Set<string> }>();

function skillWords(skill: SkillInfo): { nameWords: Set<string>; descriptionWords: Set<string> } {
  let words = skillWordsCache.get(skill);
  if (!words) {
    words = { nameWords: keywordsOf(skill.name.replace(/_/g, ' ')), descriptionWords: keywordsOf(skill.description) };
    skillWordsCache.set(skill, words);
  }
  return words;
}

/** The best-scoring skill for `text`, or undefined when nothing matches. */
export function matchSkill(text: string, skills: readonly SkillInfo[]): KeywordMatch | undefined {
  const wanted = keywordsOf(text);
  let best: KeywordMatch | undefined;
  for (const skill of skills) {
    const { nameWords, descriptionWords } = skillWords(skill);
    let score = 0;
    for (const word of wanted) {
      if (nameWords.has(word)) score += 2;
      else if (descriptionWords.has(word)) score += 1;
    }
    if (score === 0) continue;
    // Prefer a skill that can run without arguments: free text carries none.
    const runnable = skill.parameters.required.length === 0 ? 0.5 : 0;
    const total = score + runnable;
    if (!best || total > best.score) best = { skill, score: total };
  }
  return best;
}
