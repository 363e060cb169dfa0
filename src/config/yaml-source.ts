import { EVENT_ID, YAMLException, constructFromEvents, getScalarValue, parseEvents, type Event } from 'js-yaml'

/**
 * A YAML file parsed once, in time linear in its size, into its value and the event stream that
 * says where each node starts, so that an error found later (an unknown key, a wrong type) can
 * name its line.
 *
 * js-yaml's event parser: about 0.1 s for a 1 MB file (docs/benchmarks.md, bench/config-load.ts),
 * where the yaml package's document API took 0.5-3 s and its uniqueKeys check compared every
 * key of a mapping with every other (10k services: 2.4 s, an 11 MB file: 14 minutes).
 */

export class YamlError extends Error {
  constructor(
    message: string,
    /** 1-based, when the parser knows it. */
    readonly line?: number,
  ) {
    super(message)
    this.name = 'YamlError'
  }
}

/** Nesting deeper than this is no configuration. */
const MAX_DEPTH = 64
/** Aliases may share a block of settings; more than this is no configuration either. */
const MAX_ALIASES = 1000
/** Values the document may expand to through its aliases (a file of 1 MiB holds about half a million). */
const MAX_EXPANDED_VALUES = 1_000_000

type Path = readonly (string | number)[]

export class YamlSource {
  private constructor(
    private readonly text: string,
    private readonly events: Event[],
  ) {}

  /** The document's value ({} for an empty file) and its source. Throws a YamlError. */
  static parse(text: string): { value: unknown; source: YamlSource } {
    let events: Event[]
    let documents: unknown[]
    try {
      events = parseEvents(text, { maxDepth: MAX_DEPTH })
      documents = constructFromEvents(events, { source: text, maxAliases: MAX_ALIASES })
    } catch (error) {
      if (error instanceof YAMLException) throw new YamlError(error.reason, error.mark ? error.mark.line + 1 : undefined)
      throw error
    }
    if (documents.length > 1) throw new YamlError('more than one YAML document (---): the configuration is one', lineAt(text, text.indexOf('\n---') + 1))
    const value = documents[0] ?? null
    checkExpansion(value)
    return { value: value === null ? {} : value, source: new YamlSource(text, events) }
  }

  /**
   * The line of the node at `path`; when it is a collection, the line of the key that holds it;
   * when the path goes nowhere, the line of the deepest mapping or sequence on the way.
   */
  lineOf(path: Path): number {
    const found = this.locate(path)
    if (found.node === undefined) return lineAt(this.text, found.nearest)
    const node = this.events[found.node]!
    const collection = node.type === EVENT_ID.MAPPING || node.type === EVENT_ID.SEQUENCE
    return lineAt(this.text, collection && found.key !== undefined ? found.key : startOf(node))
  }

  /** The line of `key` in the mapping at `parent` (an unknown key), else of that mapping. */
  lineOfKey(parent: Path, key: string): number {
    const found = this.locate([...parent, key])
    return lineAt(this.text, found.key !== undefined && found.node !== undefined ? found.key : found.nearest)
  }

  /** Walks the events along `path`: event indexes of the node and its key, or the offset of the deepest collection reached. */
  private locate(path: Path): { node?: number; key?: number; nearest: number } {
    // events[0] opens the document, events[1] is its root node.
    let index = 1
    let key: number | undefined
    let nearest = 0
    for (const segment of path) {
      const event = this.events[index]
      if (!event) return { nearest }
      nearest = startOf(event)
      const child = this.child(index, segment)
      if (!child) return { nearest }
      index = child.index
      key = child.key
    }
    return this.events[index] ? { node: index, key, nearest } : { nearest }
  }

  /** The child of the collection at `index` named by a key (mapping) or position (sequence). */
  private child(index: number, segment: string | number): { index: number; key?: number } | undefined {
    const event = this.events[index]!
    if (event.type === EVENT_ID.MAPPING) {
      for (let at = index + 1; this.events[at]!.type !== EVENT_ID.POP;) {
        const keyEvent = this.events[at]!
        const value = this.skip(at)
        if (keyEvent.type === EVENT_ID.SCALAR && getScalarValue(this.text, keyEvent) === String(segment)) return { index: value, key: startOf(keyEvent) }
        at = this.skip(value)
      }
    } else if (event.type === EVENT_ID.SEQUENCE && typeof segment === 'number') {
      let at = index + 1
      for (let position = 0; this.events[at]!.type !== EVENT_ID.POP; position++) {
        if (position === segment) return { index: at }
        at = this.skip(at)
      }
    }
    return undefined
  }

  /** The index just past the node at `index` (past its closing POP for a collection). */
  private skip(index: number): number {
    const type = this.events[index]!.type
    if (type !== EVENT_ID.MAPPING && type !== EVENT_ID.SEQUENCE) return index + 1
    let depth = 0
    let at = index
    do {
      const next = this.events[at++]!.type
      if (next === EVENT_ID.MAPPING || next === EVENT_ID.SEQUENCE) depth++
      else if (next === EVENT_ID.POP) depth--
    } while (depth > 0)
    return at
  }
}

function startOf(event: Event): number {
  if (event.type === EVENT_ID.MAPPING || event.type === EVENT_ID.SEQUENCE) return event.start
  if (event.type === EVENT_ID.SCALAR) return event.valueStart
  if (event.type === EVENT_ID.ALIAS) return event.anchorStart
  return 0
}

/** 1-based line of an offset. */
function lineAt(text: string, offset: number): number {
  let line = 1
  for (let at = text.indexOf('\n'); at !== -1 && at < offset; at = text.indexOf('\n', at + 1)) line++
  return line
}

/**
 * Refuses a document whose aliases make it a cycle (`a: &x {b: *x}`) or expand to more values
 * than any configuration holds (nested aliases double at each level: a "billion laughs").
 * Linear: each distinct object is measured once.
 */
function checkExpansion(root: unknown): void {
  const sizes = new Map<object, number>()
  const IN_PROGRESS = -1
  const measure = (value: unknown): number => {
    if (value === null || typeof value !== 'object') return 1
    const known = sizes.get(value)
    if (known === IN_PROGRESS) throw new YamlError('an alias (*name) refers to a mapping or sequence that contains it')
    if (known !== undefined) return known
    sizes.set(value, IN_PROGRESS)
    let size = 1
    for (const child of Object.values(value)) {
      size += measure(child)
      if (size > MAX_EXPANDED_VALUES) throw new YamlError(`the aliases (*name) expand to more than ${MAX_EXPANDED_VALUES.toLocaleString('en')} values`)
    }
    sizes.set(value, size)
    return size
  }
  measure(root)
}
