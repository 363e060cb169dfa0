import { describe, expect, it } from 'vitest'
import type { Client } from 'pg'
import { createDatabaseSql, settingSql, splitSettingList } from '../../src/backups/database-properties.js'
import { rolesInScript } from '../../src/backups/verify.js'

// The statements are built with pg's own literal escaping; only that method is needed here.
const client = { escapeLiteral: (s: string) => `'${s.replaceAll("'", "''")}'` } as unknown as Client

describe('database properties', () => {
  it('splits list settings as PostgreSQL stores them', () => {
    expect(splitSettingList('"$user", public')).toEqual(['$user', 'public'])
    expect(splitSettingList('"Odd ""Schema""",x')).toEqual(['Odd "Schema"', 'x'])
    expect(splitSettingList('')).toEqual([])
  })

  it('writes each setting back as the statement that stored it', () => {
    expect(settingSql(client, 'db', { role: null, setting: 'work_mem=64MB' })).toBe(`alter database "db" set "work_mem" = '64MB'`)
    expect(settingSql(client, 'db', { role: 'Reader', setting: 'search_path="$user", public' })).toBe(`alter role "Reader" in database "db" set "search_path" = '$user', 'public'`)
    expect(settingSql(client, 'db', { role: null, setting: "application_name=it's" })).toBe(`alter database "db" set "application_name" = 'it''s'`)
  })

  it('creates the database from template0 with the recorded locale and owner', () => {
    const properties = { owner: 'app', encoding: 'UTF8', collate: 'C.UTF-8', ctype: 'C.UTF-8', localeProvider: 'libc' as const, connectionLimit: 5, privileges: null, settings: [] }
    expect(createDatabaseSql(client, 'new', properties, { owners: true })).toBe(`create database "new" template template0 encoding 'UTF8' locale_provider libc lc_collate 'C.UTF-8' lc_ctype 'C.UTF-8' owner "app"`)
    expect(createDatabaseSql(client, 'new', properties, { owners: false })).not.toMatch(/owner/)
    expect(createDatabaseSql(client, 'new', undefined, { owners: true })).toBe('create database "new"')
  })

  it('finds the roles a restore script names', () => {
    const script = [
      'ALTER TABLE public.tasks OWNER TO app;',
      'ALTER TABLE public."TO x" OWNER TO "Odd ""Role""";',
      'GRANT SELECT ON TABLE public.tasks TO "Reader-1";',
      'REVOKE ALL ON SCHEMA public FROM PUBLIC;',
      'GRANT USAGE ON SCHEMA public TO PUBLIC;',
      'GRANT ALL ON TABLE public.x TO writer WITH GRANT OPTION;',
      'ALTER DEFAULT PRIVILEGES FOR ROLE app IN SCHEMA public GRANT SELECT ON TABLES TO auditor;',
      'SET SESSION AUTHORIZATION grantor;',
      "COMMENT ON TABLE public.tasks IS 'OWNER TO nobody;';",
    ].join('\n')
    expect(rolesInScript(script)).toEqual({ owners: ['Odd "Role"', 'app'], grantees: ['Reader-1', 'app', 'auditor', 'grantor', 'writer'] })
  })
})
