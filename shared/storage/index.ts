// Public surface of the storage layer: the StorageBackend contract, its drivers and
// the pool that holds them.
export * from './types.ts';
export { IncompleteBodyError, BackendTimeoutError, InvalidLocatorError, describeError } from './errors.ts';
export { createLocalDiskBackend, type LocalDiskOptions } from './drivers/local-disk.ts';
export { createS3Backend, type S3BackendOptions } from './drivers/s3.ts';
export { createDriver, type DriverSpec, type DriverOptions } from './registry.ts';
