/**
 * The errors of the store contract, re-exported from `@pyrexis/models` so a store author can
 * depend on `@pyrexis/storage` alone. They are the same classes (not copies): `instanceof` and
 * {@link isPyrexisError} work across both imports.
 */
export {
  CorruptRecordError,
  DuplicateJobError,
  ErrorCode,
  IncompatibleStoreError,
  isPyrexisError,
  JobNotFoundError,
  PyrexisError,
  ResultExistsError,
  StaleVersionError,
  StoreClosedError,
  StoreFailureError,
  ValidationError,
} from "@pyrexis/models";
