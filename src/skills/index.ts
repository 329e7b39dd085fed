export { SkillRuntime, type SkillRuntimeOptions, type SkillRuntimeStatus } from './runtime.js';
export { compileArgsValidator, typeName } from './validate.js';
export { capText, truncationMark } from './result.js';
export { measureSkillLatency, type LatencyReport } from './measure.js';
export type { SkillInfo, SkillOutcome, SkillParameters, SkillResult, SkillRunner } from './types.js';
