// The one failure the quorum writer owns: not enough targets stored the blob. The
// gateway answers 503 (PRODUCT.md §1.3, "Quorum writes"); source failures (client gone,
// bad signature, wrong length) are re-thrown as they came, not wrapped in this.
export class QuorumError extends Error {
  readonly failed: { backendId: string; error: string }[];
  constructor(message: string, failed: { backendId: string; error: string }[]) {
    super(message);
    this.name = 'QuorumError';
    this.failed = failed;
  }
}
