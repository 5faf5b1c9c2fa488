// Browser POST uploads: the policy document and its SigV4 (or SigV2) signature.
export { checkPolicy, decodePolicy, denied, SIGV2_EXEMPT, SIGV4_EXEMPT } from './policy.ts';
export type { PolicyCondition, PostPolicy, SizeRange } from './policy.ts';
export { checkPostAlgorithm, parsePostCredential, postSignature, verifyPostSignature, verifyPostSignatureV2 } from './signature.ts';
export type { PostCredential } from './signature.ts';
export { readPostForm } from './form.ts';
export type { PostForm } from './form.ts';
