// Public surface of the quorum writer.
export {
  quorumWrite,
  DEFAULT_MAX_LAG_BYTES,
  type QuorumTarget,
  type QuorumResult,
  type QuorumMeter,
  type QuorumWriteOptions,
} from './quorum-writer.ts';
export { QuorumError } from './errors.ts';
export { IncompleteBodyError } from '../storage/errors.ts';
