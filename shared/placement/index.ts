// Public surface of placement: where a chunk's blobs go and under which names.
export { physicalBucketName, physicalKey, sanitizeProvider } from './naming.ts';
export {
  placeReplicas,
  placeStandard,
  placeForRead,
  STANDARD_CLASS,
  type PlacementCandidate,
  type ReplicaClass,
  type Placement,
  type ReplicaHealth,
} from './replicas.ts';
