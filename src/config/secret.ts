import { inspect } from 'node:util'

/**
 * A password or token. It prints, serialises and inspects as "[redacted]" so that one
 * carelessly logged object cannot leak it; `reveal()` is the only way to the value, and is
 * called only where a client library needs it.
 */
export class Secret {
  readonly #value: string
  readonly source: string

  constructor(value: string, source: string) {
    this.#value = value
    this.source = source
  }

  reveal(): string {
    return this.#value
  }

  toString(): string {
    return '[redacted]'
  }

  toJSON(): string {
    return '[redacted]'
  }

  [inspect.custom](): string {
    return `Secret([redacted] from ${this.source})`
  }
}

/** HTTP basic auth for a URL setting: from the URL's userinfo, or from user + passwordFile. */
export interface BasicCredentials {
  user: string
  password: Secret
  /** The file the password came from. */
  passwordFile?: string
  /** The password was written inside the URL (where config show shows it redacted). */
  inUrl?: boolean
}
