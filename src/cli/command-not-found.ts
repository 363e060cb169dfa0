import { Errors, type Hook } from '@oclif/core'
import { nearestCommand } from './nearest-command.js'

/**
 * oclif's command_not_found hook: an unknown command is bad usage (exit 2) that names the nearest
 * command. Never a prompt, never the guessed command run in its place (as @oclif/plugin-not-found
 * does on a terminal, and exits 127 without a suggestion elsewhere): probe-ops runs as root, and
 * `maintain daly` must not start the nightly maintenance on a keystroke. Loaded only when a
 * command is not found, so --version pays nothing for it.
 */
const commandNotFound: Hook.CommandNotFound = async function ({ id, config }) {
  const show = (ids: string) => ids.split(':').join(config.topicSeparator)
  const known = [...config.commandIDs, ...config.topics.map((t) => t.name)].filter((name) => !config.findCommand(name)?.hidden)
  const nearest = nearestCommand(id, known)
  const suggestion = nearest ? `; did you mean "${show(nearest)}"?` : ''
  throw new Errors.CLIError(`command ${show(id)} not found${suggestion}`, { exit: 2, suggestions: [`${config.bin} --help lists the commands`] })
}

export default commandNotFound
