import { hostname } from 'node:os'
import { Errors, type Hook } from '@oclif/core'
import { errorDocument } from '../report/model.js'
import { nearestCommand } from './nearest-command.js'
import { jsonRequested, toJson, writeStandardOutput } from './output.js'

/**
 * oclif's command_not_found hook: an unknown command is bad usage (exit 2) that names the nearest
 * command, and under --json stdout still holds one JSON document, the error document. Never a
 * prompt, never the guessed command run in its place (as @oclif/plugin-not-found does on a
 * terminal, and exits 127 without a suggestion elsewhere): probe-ops runs as root, and
 * `maintain daly` must not start the nightly maintenance on a keystroke. Loaded only when a
 * command is not found, so --version pays nothing for it.
 */
const commandNotFound: Hook.CommandNotFound = async function ({ id, argv, config }) {
  const show = (ids: string) => ids.split(':').join(config.topicSeparator)
  const known = [...config.commandIDs, ...config.topics.map((t) => t.name)].filter((name) => !config.findCommand(name)?.hidden)
  const nearest = nearestCommand(id, known)
  const message = `command ${show(id)} not found${nearest ? `; did you mean "${show(nearest)}"?` : ''}`
  const hint = `${config.bin} --help lists the commands`
  if (jsonRequested(argv ?? [])) {
    await writeStandardOutput(
      toJson(errorDocument({ command: show(id), version: config.version, host: hostname(), exitCode: 2 }, { code: 'unknown-command', message, hint })),
    )
  }
  throw new Errors.CLIError(message, { exit: 2, suggestions: [hint] })
}

export default commandNotFound
