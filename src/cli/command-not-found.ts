import { hostname } from 'node:os'
import { Errors, type Hook } from '@oclif/core'
import { errorDocument } from '../report/model.js'
import { jsonRequested, toJson, writeStandardOutput } from './output.js'

/**
 * oclif's command_not_found hook: an unknown command is bad usage (exit 2, oclif's line on
 * stderr), and under --json stdout still holds one JSON document, the error document.
 */
const commandNotFound: Hook.CommandNotFound = async function ({ id, argv, config }) {
  const command = id.split(':').join(config.topicSeparator)
  const message = `command ${command} not found`
  if (jsonRequested(argv ?? [])) {
    await writeStandardOutput(toJson(errorDocument({ command, version: config.version, host: hostname(), exitCode: 2 }, { code: 'unknown-command', message, hint: `${config.bin} --help lists the commands` })))
  }
  throw new Errors.CLIError(message)
}

export default commandNotFound
