import type { Interfaces } from '@oclif/core'
import type { JobSpec } from '../jobs/spec.js'
import type { Report } from '../report/model.js'
import { JobCommand, jobDescription, jobFlags } from './job-command.js'

/**
 * The flags and args a command declares, as the type parameters of defineJobCommand. Not oclif's
 * FlagInput and ArgInput: as the type a declaration is checked against, those would make
 * `Flags.boolean()` infer its value type from them, which is `any`.
 */
type Declared = object

/** The value of each flag: what its parser returns. */
type FlagValues<F extends Declared> = {
  [K in keyof F]: F[K] extends Interfaces.BooleanFlag<infer T> ? T : F[K] extends Interfaces.OptionFlag<infer T> ? T : never
}

/** The value of each argument. */
type ArgValues<A extends Declared> = { [K in keyof A]: A[K] extends Interfaces.Arg<infer T> ? T : never }

/** What oclif parsed from the command line, typed by the command's own flags and args. */
export interface ParsedJobCommand<F extends Declared, A extends Declared> {
  flags: FlagValues<typeof jobFlags> & FlagValues<F>
  args: ArgValues<A>
  /** Every argument, for a command that takes any number of them (`strict: false`). */
  argv: string[]
}

interface CommandDeclaration<F extends Declared, A extends Declared> {
  summary: string
  /** Around the step list the spec gives (jobDescription): what the job is, then anything more. */
  description: { intro: string; outro?: string }
  examples: string[]
  /** The command's own flags, after the job flags every job command takes. */
  flags?: F
  args?: A
  /** false: any number of arguments (cert check FILE..., recover SERVICE...). */
  strict?: boolean
}

/** The declared flags and args held to oclif's types once inferred: a value that is no flag (or arg) is an error. */
type OnlyFlagsAndArgs<F, A> = (F extends Interfaces.FlagInput ? unknown : { flags: Interfaces.FlagInput }) &
  (A extends Interfaces.ArgInput ? unknown : { args: Interfaces.ArgInput })

/** A job whose options are empty (or that reads none: unknown) needs no function to make them. */
type TakesNoOptions<O> = [O] extends [Record<string, never>] ? true : unknown extends O ? true : false

/** Turns the parsed command line into the job's options. */
type OptionsFrom<O, F extends Declared, A extends Declared> =
  TakesNoOptions<O> extends true ? { options?: (parsed: ParsedJobCommand<F, A>) => O } : { options: (parsed: ParsedJobCommand<F, A>) => O }

/**
 * The oclif command of a job, declared as data: its help, its flags and how they become the job's
 * options. oclif wants one file per command (the manifest is read from them), so each command file
 * is `export default defineJobCommand(spec, {...})`. Only oclif's own static properties are set:
 * any other one would land in oclif.manifest.json.
 */
export function defineJobCommand<O, C, F extends Declared = Record<never, never>, A extends Declared = Record<never, never>>(
  spec: JobSpec<O, C>,
  declaration: CommandDeclaration<F, A> & OptionsFrom<O, F, A> & OnlyFlagsAndArgs<F, A>,
): typeof JobCommand {
  const optionsOf = declaration.options ?? (() => ({}) as O)
  class DefinedJobCommand extends JobCommand {
    static override summary = declaration.summary
    static override description = jobDescription(spec, declaration.description)
    static override examples = declaration.examples
    static override strict = declaration.strict ?? true
    static override args = (declaration.args ?? {}) as Interfaces.ArgInput
    static override flags = { ...jobFlags, ...declaration.flags } as Interfaces.FlagInput

    async run(): Promise<Report> {
      // oclif infers the parsed types from a class's literal statics; here they come from F and A.
      const parsed = (await this.parse(DefinedJobCommand)) as unknown as ParsedJobCommand<F, A>
      return this.runJob(spec, parsed.flags, optionsOf(parsed))
    }
  }
  return DefinedJobCommand
}
