// oclif writes commands in the order its file search found them, which differs between file
// systems; the checked-in manifest must not depend on where it was built, so commands are sorted.
import { readFileSync, writeFileSync } from 'node:fs'

const path = new URL('../oclif.manifest.json', import.meta.url)
const manifest = JSON.parse(readFileSync(path, 'utf8'))
manifest.commands = Object.fromEntries(Object.entries(manifest.commands).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
writeFileSync(path, `${JSON.stringify(manifest, null, 2)}\n`)
