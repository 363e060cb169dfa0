import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
const ex = promisify(execFile);
import pg from 'pg';
import { pgClientConfig, startPostgres } from '../../test/bed/postgres.js';
import { buildFlat, buildPartitioned, copyDatabase, sqlRunner } from './data.js';

const server = await startPostgres({ database: 'postgres', extraConf: { fsync: 'on', synchronous_commit: 'on', shared_buffers: "'128MB'", log_lock_waits: 'on', log_min_error_statement: 'error' } });
try {
  const info = server.info;
  const sql = sqlRunner(pgClientConfig(info, 'postgres'));
  await buildFlat(sql, 'tpl_flat', 120000);
  await buildPartitioned(sql, 'tpl_flat', 'tpl_part', 1);
  const work = mkdtempSync(path.join(os.tmpdir(), 'scratch-'));
  for (let i = 0; i < 8; i++) {
    const db = `r${i}`;
    await copyDatabase(sql, 'tpl_part', db);
    const c = new pg.Client(pgClientConfig(info, db)); c.on('error', () => undefined); await c.connect();
    let stop = false; const errs: string[] = []; let max = 0;
    const loop = (async () => { while (!stop) { const t = performance.now(); try { await c.query(`insert into task_results (task_id, agent_id, execution_time, status) values (1 + (random()*49)::int, 1 + (random()*9)::int, now(), 'success')`); } catch (e) { const er = e as { message: string; detail?: string }; errs.push(`${er.message} | ${er.detail}`); } max = Math.max(max, performance.now() - t); await new Promise(r => setTimeout(r, 5)); } })();
    const cfg = path.join(work, 'c.yaml');
    writeFileSync(cfg, JSON.stringify({ postgres: { host: info.host, port: info.port, user: 'postgres', database: db }, log: { file: '' }, lock: { dir: work } }));
    const out = (await ex(process.execPath, ['/work/main/bin/run.js', 'maintain', 'daily', '--config', cfg, '--only', 'retention', '--json'], { env: { ...process.env, PGPASSWORD: info.password } }).catch((e: { stdout: string }) => e)).stdout;
    const rep = JSON.parse(out); const st = rep.steps.find((s: { id: string }) => s.id === "retention");
    stop = true; await loop; await c.end();
    console.log('orphans', (await sql(db, `select c.relname from pg_class c where c.relname like 'task_results_2%' and c.relkind = 'r' and not exists (select 1 from pg_inherits i where i.inhrelid = c.oid)`)).map((r) => r.relname));
    console.log(i, st.durationMs, st.status, st.summary, st.error?.message, 'writer max', Math.round(max), errs);
  }
  console.log(await sql('r0', `select oid, relname, relkind from pg_class where oid between 16380 and 16430 order by oid`));
  const logText = readFileSync(info.logFile, 'utf8');
  console.log(logText.split('\n').filter((l) => /deadlock|waits|still waiting|Process|DETAIL|STATEMENT|CONTEXT/.test(l)).slice(0, 60).join('\n'));
} finally { await server.stop(); }
