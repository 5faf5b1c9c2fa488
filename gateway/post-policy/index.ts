// Browser POST uploads: the policy document and its SigV4 signature.
export { checkPolicy, decodePolicy, denied } from './policy.ts';
export type { PolicyCondition, PostPolicy, SizeRange } from './policy.ts';
export { checkPostAlgorithm, parsePostCredential, postSignature, verifyPostSignature } from './signature.ts';
export type { PostCredential } from './signature.ts';
export { readPostForm } from './form.ts';
export type { PostForm } from './form.ts';
