export { freePort, freePorts } from '../../src/lib/ports.js'
