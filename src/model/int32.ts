/** The largest value of a 32-bit signed integer field (ASFF's Pid / ParentPid, OCSF's `Integer` type, Parquet's INT32). */
export const INT32_MAX = 2147483647

/** Whether `n` fits a 32-bit signed integer field. */
export function isInt32(n: number | undefined): n is number {
  return n !== undefined && Number.isInteger(n) && n >= -INT32_MAX - 1 && n <= INT32_MAX
}
