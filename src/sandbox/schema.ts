/**
 * The network probe platform's schema as the sandbox creates it, and the generator of its
 * data: a few users, agents and tasks, and `days` of task results ending now. Rows are made
 * server-side by one INSERT ... SELECT over generate_series, so even a few hundred thousand
 * take seconds; indexes and foreign keys are added after the load, which is faster than
 * maintaining them row by row.
 */

export const PROTOCOLS = ['http', 'https', 'tcp', 'udp', 'dns', 'icmp'] as const

export interface SeedSize {
  days: number
  rowsPerDay: number
  agents: number
  tasks: number
}

export const DEFAULT_SEED: SeedSize = { days: 120, rowsPerDay: 3000, agents: 10, tasks: 50 }

/** Tables, without the indexes and constraints that INDEX_SQL adds after the load. */
export const SCHEMA_SQL = `
create table users (
  id serial primary key,
  username text not null unique,
  email text not null unique,
  password_hash text not null,
  role text not null check (role in ('admin', 'operator', 'viewer')),
  is_active boolean not null default true,
  created_at timestamptz not null default now(),
  last_login timestamptz
);

create table agents (
  id serial primary key,
  name text not null unique,
  hostname text not null,
  ip_address inet not null,
  location text not null,
  status text not null check (status in ('online', 'offline', 'maintenance')),
  version text not null,
  capabilities jsonb not null default '[]',
  last_heartbeat timestamptz,
  created_at timestamptz not null default now()
);

create table tasks (
  id serial primary key,
  name text not null,
  protocol text not null check (protocol in ('http', 'https', 'tcp', 'udp', 'dns', 'icmp')),
  target text not null,
  port integer,
  interval_seconds integer not null default 60,
  timeout_seconds integer not null default 5,
  enabled boolean not null default true,
  config jsonb not null default '{}',
  created_by integer not null references users (id),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table task_results (
  id bigserial,
  task_id integer not null,
  agent_id integer not null,
  execution_time timestamptz not null,
  status text not null,
  response_time_ms double precision,
  error_message text,
  result jsonb,
  created_at timestamptz not null default now()
);
`

/** The indexes and constraints of task_results, added once the rows are in. */
export const INDEX_SQL = `
alter table task_results add constraint task_results_pkey primary key (id);
alter table task_results add constraint task_results_task_id_fkey foreign key (task_id) references tasks (id) on delete cascade;
alter table task_results add constraint task_results_agent_id_fkey foreign key (agent_id) references agents (id);
alter table task_results add constraint task_results_status_check check (status in ('success', 'failed', 'timeout'));
create index idx_task_results_execution_time on task_results (execution_time);
create index idx_task_results_task_id_execution_time on task_results (task_id, execution_time);
create index idx_tasks_protocol on tasks (protocol);
`

const LOCATIONS = ['Beijing', 'Shanghai', 'Guangzhou', 'Shenzhen', 'Hangzhou', 'Chengdu', 'Wuhan', "Xi'an", 'Singapore', 'Frankfurt']

const TARGETS: Record<(typeof PROTOCOLS)[number], { target: (i: number) => string; port: number | null }> = {
  http: { target: (i) => `http://service-${i}.example.com/health`, port: 80 },
  https: { target: (i) => `https://www-${i}.example.com/`, port: 443 },
  tcp: { target: (i) => `db-${i}.example.net`, port: 5432 },
  udp: { target: (i) => `ntp-${i}.example.net`, port: 123 },
  dns: { target: (i) => `ns${i}.example.org`, port: 53 },
  icmp: { target: (i) => `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}`, port: null },
}

function literal(value: string | number | boolean | null): string {
  if (value === null) return 'null'
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  return `'${value.replaceAll("'", "''")}'`
}

/** Users, agents and tasks: small, fixed, and statements with no parameters. */
export function referenceDataSql(size: Pick<SeedSize, 'agents' | 'tasks'>): string {
  const users = [
    ['admin', 'admin'],
    ['operator', 'operator'],
    ['viewer', 'viewer'],
    ['alice', 'operator'],
  ]
  const userRows = users.map(
    ([name, role], i) =>
      `(${literal(name!)}, ${literal(`${name}@sandbox.example`)}, 'sandbox-no-login-' || md5(random()::text), ${literal(role!)}, now() - interval '${200 - i * 10} days', now() - interval '${i + 1} hours')`,
  )
  const agentRows = Array.from({ length: size.agents }, (_, i) => {
    const n = i + 1
    const name = `agent-${String(n).padStart(3, '0')}`
    const status = n === size.agents && size.agents > 2 ? 'offline' : 'online'
    const heartbeat = status === 'online' ? `now() - interval '${(n * 7) % 30} seconds'` : "now() - interval '3 hours'"
    return `(${literal(name)}, ${literal(`probe-${n}.sandbox.local`)}, '10.20.0.${n}', ${literal(LOCATIONS[i % LOCATIONS.length]!)}, ${literal(status)}, '1.4.${n % 3}', '["http","https","tcp","udp","dns","icmp"]', ${heartbeat}, now() - interval '150 days')`
  })
  const taskRows = Array.from({ length: size.tasks }, (_, i) => {
    const protocol = PROTOCOLS[i % PROTOCOLS.length]!
    const { target, port } = TARGETS[protocol]
    const interval = [30, 60, 60, 120, 300][i % 5]!
    const config =
      protocol === 'http' || protocol === 'https'
        ? `{"method":"GET","expected_status":200}`
        : protocol === 'dns'
          ? `{"record_type":"A","query":"example.com"}`
          : protocol === 'icmp'
            ? `{"count":4}`
            : '{}'
    return `(${literal(`${protocol.toUpperCase()} check ${i + 1}`)}, ${literal(protocol)}, ${literal(target(i + 1))}, ${literal(port)}, ${interval}, ${protocol === 'https' ? 10 : 5}, ${i % 17 !== 16}, ${literal(config)}, ${(i % 2) + 1}, now() - interval '${140 - (i % 20)} days')`
  })
  return [
    `insert into users (username, email, password_hash, role, created_at, last_login) values\n  ${userRows.join(',\n  ')};`,
    `insert into agents (name, hostname, ip_address, location, status, version, capabilities, last_heartbeat, created_at) values\n  ${agentRows.join(',\n  ')};`,
    `insert into tasks (name, protocol, target, port, interval_seconds, timeout_seconds, enabled, config, created_by, created_at) values\n  ${taskRows.join(',\n  ')};`,
  ].join('\n')
}

/**
 * `days * rowsPerDay` task results spread evenly over the last `days` days, each from one of
 * the tasks and agents, with the protocol's typical latency, about 3% failures and 2% timeouts.
 * Parameters: $1 days, $2 rows per day.
 */
export const TASK_RESULTS_SQL = `
with g as (
  select n,
         now() - make_interval(secs => (n + random()) * 86400.0 / $2::int) as execution_time,
         random() as r,
         random() as jitter
    from generate_series(0, $1::int * $2::int - 1) as n
), t as (
  select id, protocol, timeout_seconds, row_number() over (order by id) - 1 as slot, count(*) over () as total from tasks
), a as (
  select id, row_number() over (order by id) - 1 as slot, count(*) over () as total from agents
), rows as (
  select g.execution_time, g.r, g.jitter, t.id as task_id, t.protocol, t.timeout_seconds, a.id as agent_id,
         case t.protocol when 'icmp' then 18 when 'udp' then 22 when 'dns' then 30 when 'tcp' then 45 when 'http' then 140 else 260 end as base_ms
    from g
    join t on t.slot = g.n % t.total
    join a on a.slot = (g.n / t.total) % a.total
)
insert into task_results (task_id, agent_id, execution_time, status, response_time_ms, error_message, result, created_at)
select task_id, agent_id, execution_time,
       case when r < 0.02 then 'timeout' when r < 0.05 then 'failed' else 'success' end,
       case when r < 0.02 then timeout_seconds * 1000.0
            when r < 0.05 then null
            else round((base_ms * (0.5 + jitter) * case when jitter > 0.97 then 6 else 1 end)::numeric, 2)::float8 end,
       case when r < 0.02 then 'timed out after ' || timeout_seconds || ' s'
            when r < 0.05 then (array['connection refused', 'connection reset by peer', 'no route to host', 'name resolution failed'])[1 + floor(jitter * 4)::int]
            else null end,
       case when r < 0.05 then null
            when protocol in ('http', 'https') then jsonb_build_object('status_code', case when jitter > 0.99 then 503 else 200 end, 'content_length', 512 + floor(jitter * 4096)::int)
            when protocol = 'icmp' then jsonb_build_object('packets_sent', 4, 'packets_received', case when jitter > 0.98 then 3 else 4 end)
            when protocol = 'dns' then jsonb_build_object('answers', 1 + floor(jitter * 3)::int, 'record_type', 'A')
            else jsonb_build_object('connected', true) end,
       execution_time
  from rows`
