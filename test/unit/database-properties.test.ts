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
    expect(settingSql(client, 'db', { role: 'Reader', setting: 'search_path="$user", public' })).toBe(
      `alter role "Reader" in database "db" set "search_path" = '$user', 'public'`,
    )
    expect(settingSql(client, 'db', { role: null, setting: "application_name=it's" })).toBe(`alter database "db" set "application_name" = 'it''s'`)
    expect(settingSql(client, 'a.b', { role: 'john.doe', setting: 'app.jwt_secret=x=y' })).toBe(
      `alter role "john.doe" in database "a.b" set "app.jwt_secret" = 'x=y'`,
    )
    expect(settingSql(client, 'db', { role: null, setting: 'temp_tablespaces=' })).toBe(`alter database "db" set "temp_tablespaces" = ''`)
  })

  it('creates the database from template0 with the recorded locale and owner', () => {
    const properties = {
      owner: 'app.x',
      encoding: 'UTF8',
      collate: 'C.UTF-8',
      ctype: 'C.UTF-8',
      localeProvider: 'libc' as const,
      connectionLimit: 5,
      privileges: null,
      settings: [],
    }
    expect(createDatabaseSql(client, 'new', properties, { owners: true, serverVersion: 150020 })).toBe(
      `create database "new" template template0 encoding 'UTF8' locale_provider libc lc_collate 'C.UTF-8' lc_ctype 'C.UTF-8' owner "app.x"`,
    )
    expect(createDatabaseSql(client, 'new', properties, { owners: false, serverVersion: 150020 })).not.toMatch(/owner/)
    // PostgreSQL 14 has no locale providers; 17 has a builtin one with its own locale.
    expect(createDatabaseSql(client, 'new', { ...properties, localeProvider: 'icu', providerLocale: 'en-US' }, { owners: false, serverVersion: 140010 })).toBe(
      `create database "new" template template0 encoding 'UTF8' lc_collate 'C.UTF-8' lc_ctype 'C.UTF-8'`,
    )
    expect(
      createDatabaseSql(client, 'new', { ...properties, localeProvider: 'builtin', providerLocale: 'C.UTF-8' }, { owners: false, serverVersion: 170002 }),
    ).toMatch(/locale_provider builtin .* builtin_locale 'C.UTF-8'$/)
    expect(createDatabaseSql(client, 'new', undefined, { owners: true, serverVersion: 150020 })).toBe('create database "new" template template0')
  })

  it('finds the roles a restore script names', () => {
    const script = [
      '-- Name: tasks; Type: TABLE; Schema: public; Owner: app',
      'ALTER TABLE public.tasks OWNER TO app;',
      '-- Name: TO x; Type: TABLE; Schema: public; Owner: Odd "Role"',
      '-- Name: SCHEMA public; Type: ACL; Schema: -; Owner: pg_database_owner',
      '-- Name: x; Type: DEFAULT ACL; Schema: public; Owner: -',
      'GRANT SELECT ON TABLE public.tasks TO "Reader-1.x";',
      'REVOKE ALL ON SCHEMA public FROM PUBLIC;',
      'GRANT USAGE ON SCHEMA public TO PUBLIC;',
      'GRANT ALL ON TABLE public.x TO writer WITH GRANT OPTION;',
      'ALTER DEFAULT PRIVILEGES FOR ROLE app IN SCHEMA public GRANT SELECT ON TABLES TO auditor;',
      'SET SESSION AUTHORIZATION grantor;',
      '    ALTER TABLE t OWNER TO in_a_function_body;',
      "COMMENT ON TABLE public.tasks IS 'OWNER TO nobody;';",
    ].join('\n')
    expect(rolesInScript(script)).toEqual({
      owners: ['Odd "Role"', 'app', 'pg_database_owner'],
      grantees: ['Reader-1.x', 'app', 'auditor', 'grantor', 'writer'],
    })
  })
})
