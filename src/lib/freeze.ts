/**
 * `value` and everything reachable from it frozen: a step that tries to change the loaded
 * configuration fails at once (a TypeError in strict mode) instead of changing it for the steps
 * after it. Objects of classes (a Secret) are frozen too; their private fields stay theirs.
 */
export function deepFreeze<T>(value: T): Readonly<T> {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const key of Reflect.ownKeys(value)) deepFreeze((value as Record<string | symbol, unknown>)[key])
  }
  return value
}
