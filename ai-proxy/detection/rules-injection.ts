// Prompt-injection heuristics: the phrasings catalogued by OWASP LLM01 (Prompt
// Injection) and common jailbreak prompts ("ignore previous instructions", DAN,
// system-prompt extraction, chat-template delimiters). Heuristics only: the default
// action is WARN, never BLOCK. Every gap is bounded (\s{1,3}, fixed repeats).
//
// Speed: the alternation runs on the shared lowercased copy without /i and starts with
// \b, which lets V8 reject most positions at once (measured about 3× faster than /i
// with a lookbehind; adding any top-level alternative without \b made it 3× slower
// again, so the template delimiters are found with indexOf instead).
import { regexScanner, rule, type Hit, type RuleInfo, type Scanner } from './rule.ts';

const S = '\\s{1,3}';
const PHRASES = [
  // "ignore all previous instructions", "disregard the above rules", "forget your prior prompt"
  `(?:ignore|disregard|forget|override|bypass)${S}(?:(?:all|any|the|your|my|of|these|those)${S}){0,3}(?:previous|prior|above|earlier|preceding|original|initial|system)${S}(?:instructions?|prompts?|rules|directions|guidelines|directives|messages?)`,
  // system-prompt extraction
  `(?:reveal|show|print|output|repeat|display|leak|dump)${S}(?:me${S})?(?:your|the)${S}(?:(?:full|entire|hidden|secret|initial|original)${S}){0,2}(?:system${S}prompt|system${S}instructions|hidden${S}instructions|initial${S}instructions)`,
  // role overrides / jailbreak personas
  `you${S}are${S}now${S}(?:dan|in${S}developer${S}mode|an?${S}(?:unrestricted|unfiltered|uncensored|jailbroken))`,
  `(?:do${S}anything${S}now|dan${S}mode|developer${S}mode${S}(?:enabled|activated|on)|jailbreak${S}mode)`,
  `pretend${S}(?:that${S})?(?:you${S}have${S}no|there${S}are${S}no|you${S}are${S}not${S}bound${S}by)${S}(?:(?:any|the)${S})?(?:restrictions|rules|guidelines|filters|limits|policies)`,
  `act${S}as${S}(?:an?${S})?(?:unrestricted|unfiltered|uncensored|jailbroken)${S}(?:ai|assistant|model|version)`,
  `new${S}system${S}(?:instructions|prompt)\\s{0,3}:`,
];
/**
 * Chat-template delimiters smuggled into user text (ChatML "<|im_start|>system",
 * Llama 2 "<<SYS>>" and "[INST]"), written as the templates write them. Each is found by
 * an indexOf on an anchor that starts with a rare character, then checked in place.
 */
const DELIMITERS: ReadonlyArray<{ anchor: string; offset: number; regex: RegExp }> = [
  { anchor: '|im_start|', offset: 1, regex: /<\|im_start\|>\s{0,3}system/y },
  { anchor: 'SYS>>', offset: 2, regex: /<<SYS>>/y },
  { anchor: 'INST]', offset: 1, regex: /\[INST\]/y },
];

function delimiterScanner(info: RuleInfo): Scanner {
  return {
    rules: [info],
    maxLength: 30,
    scan(text: string, hits: Hit[]) {
      for (const { anchor, offset, regex } of DELIMITERS) {
        for (let at = text.indexOf(anchor); at !== -1; at = text.indexOf(anchor, at + 1)) {
          regex.lastIndex = at - offset;
          const m = at >= offset ? regex.exec(text) : null;
          if (m) hits.push({ rule: info, start: m.index, end: m.index + m[0].length });
        }
      }
    },
  };
}

export function injectionScanners(): Scanner[] {
  const info = rule('injection.prompt-injection', 'injection', 'INJECTION', 10);
  return [
    regexScanner({ rule: info, regex: new RegExp(`\\b(?:${PHRASES.join('|')})`, 'g'), onLowercase: true, maxLength: 200 }),
    delimiterScanner(info),
  ];
}
