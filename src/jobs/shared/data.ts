import { z } from 'zod'

/** The data of the apt updates step that security-check (security-updates) and maintain weekly (package-updates) share. */
export const packageUpdatesData = z.strictObject({
  source: z.literal('apt'),
  upgradable: z.number().describe('Packages that can be upgraded, security updates among them.'),
  security: z
    .array(
      z.strictObject({
        name: z.string(),
        from: z.string().optional().describe('The version installed.'),
        version: z.string().describe('The version the upgrade brings.'),
        suites: z.array(z.string()).describe('The suites it comes from: bookworm-security, jammy-updates, ...'),
      }),
    )
    .describe('The pending security updates.'),
  listsAgeDays: z.number().optional().describe("Days since apt's package lists were fetched (apt-get update)."),
})
export type PackageUpdatesData = z.infer<typeof packageUpdatesData>
