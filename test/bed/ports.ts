/** Free loopback ports for the bed's services and tests: the toolkit's, never one handed out twice in a process. */
export { freePort, freePorts } from '../../src/lib/ports.js'
