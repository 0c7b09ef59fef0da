/**
 * One operation, followed live: its status (polled while it runs), the boot's per-VM and
 * per-service states as they change, how it ended, and its timeline as `bootstrap-cli history ID`
 * prints it. Also the list of recent operations.
 */
import type { HistoryEvent, OperationStatus } from '../../../bootstrap-cli/api-client.js';
import type { PlatformView } from '../../../bootstrap-cli/views.js';
import { duration, failureReport, requestedBy, timelineRows } from '../../../bootstrap-cli/views.js';
import type { BootOutput } from '../../../functions/orchestrations/boot-platform.js';
import { useEffect, useState } from 'preact/hooks';
import type { Api } from '../api.js';
import { Badge, ErrorBox, Section, Table, usePoll } from '../components.js';
import { bootProgress, countLine, isActive, knownOperationIds, stateRows, statusFacts, textFailures } from '../logic/operations.js';
import { href } from '../logic/route.js';

export function OperationView({ api, id, compact = false }: { api: Api; id: string; compact?: boolean }) {
  const op = usePoll<OperationStatus>(() => api.get(`operations/${encodeURIComponent(id)}?history=true`), 1_000, [id], (o) => !o || isActive(o.runtimeStatus));
  const o = op.data;
  if (!o) return op.error ? <ErrorBox>Could not read operation {id}: {op.error}</ErrorBox> : <p aria-busy="true">Loading operation {id}…</p>;
  const asked = requestedBy(o);
  const progress = bootProgress(o.customStatus);
  const rows = timelineRows(o, (o.history ?? []) as HistoryEvent[]);
  const out = o.output as Partial<BootOutput> | null;
  const failures = out && Array.isArray(out.failures) && Array.isArray(out.services) ? failureReport(out as BootOutput) : '';
  const result = o.output && typeof o.output === 'object' && !Array.isArray(o.output) ? (o.output as Record<string, unknown>) : undefined;
  return (
    <div class="operation" data-operation={o.id} data-status={o.runtimeStatus}>
      <p class="op-head" aria-live="polite">
        <strong>{o.id}</strong> <span class="muted">({o.name})</span> <Badge value={o.runtimeStatus} /> started {o.createdTime}, {duration(Date.parse(o.lastUpdatedTime) - Date.parse(o.createdTime))}
        {isActive(o.runtimeStatus) ? ' so far' : ''}
      </p>
      {asked ? (
        <p>
          requested by <strong>{asked.requestedBy}</strong>
          {asked.reason ? `: ${asked.reason}` : ''}
        </p>
      ) : null}
      {progress ? (
        <div class="progress">
          <p>
            Phase <Badge value={progress.phase} /> — VMs {countLine(progress.vms)}, services {countLine(progress.services)}
            {progress.failed ? `, ${progress.failed} failed` : ''}
          </p>
          <div class="columns">
            <Table label="VM states" head={['VM', 'State']} rows={stateRows(progress.vms).map((r) => <tr data-vm={r.name}><td>{r.name}</td><td><Badge value={r.state} /></td></tr>)} />
            <Table label="Service states" head={['Service', 'State']} rows={stateRows(progress.services).map((r) => <tr data-step={r.name}><td>{r.name}</td><td><Badge value={r.state} /></td></tr>)} />
          </div>
        </div>
      ) : null}
      {!progress && statusFacts(o.customStatus).length ? (
        <p class="progress" aria-live="polite">
          Progress: {statusFacts(o.customStatus).map(([k, v]) => `${k} ${v}`).join(' · ')}
        </p>
      ) : null}
      {result && !isActive(o.runtimeStatus) ? (
        <p class="result">
          {typeof result.status === 'string' ? <>Outcome <Badge value={result.status} /> </> : null}
          {typeof result.outcome === 'string' ? <>Outcome <Badge value={result.outcome} /> </> : null}
          {typeof result.reason === 'string' ? result.reason : null}
        </p>
      ) : null}
      {failures ? <pre class="failures">{failures}</pre> : null}
      {textFailures(o.output).length ? (
        <ul class="failures">
          {textFailures(o.output).map((f) => (
            <li>{f}</li>
          ))}
        </ul>
      ) : null}
      {compact ? null : (
        <Section title="Timeline">
          {rows.length === 0 ? (
            <p class="muted">No history events yet.</p>
          ) : (
            <>
              <Table
                label="timeline"
                head={['Time', '+', 'Event', 'Step', 'Took', 'Note']}
                rows={rows.map((r) => (
                  <tr class={r.failed ? 'failed' : ''}>
                    <td>{r.time}</td>
                    <td class="num">{r.offset}</td>
                    <td>{r.event}</td>
                    <td>{r.step}</td>
                    <td class="num">{r.took}</td>
                    <td>{r.note}</td>
                  </tr>
                ))}
              />
              <p class="muted">{rows.some((r) => r.failed) ? `${rows.filter((r) => r.failed).length} failed steps` : 'no failed steps'}</p>
            </>
          )}
        </Section>
      )}
    </div>
  );
}

export function OperationPage({ api, id }: { api: Api; id: string }) {
  return (
    <div>
      <p>
        <a href={href({ page: 'operations' })}>← Operations</a>
      </p>
      <h1>Operation</h1>
      <OperationView api={api} id={id} />
    </div>
  );
}

type Summary = Pick<OperationStatus, 'id' | 'name' | 'runtimeStatus' | 'createdTime' | 'lastUpdatedTime'>;

/** Recent operations: there is no list route, so the fixed ids of every target are read (as `bootstrap-cli history` does). */
export function OperationsPage({ api }: { api: Api }) {
  const [ops, setOps] = useState<Summary[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [id, setId] = useState('');
  useEffect(() => {
    let stopped = false;
    (async () => {
      const platform = await api.get<PlatformView>('platform');
      if (platform.status !== 200) return setError(`could not read the platform (${platform.status})`);
      const p = platform.body;
      const ids = knownOperationIds(p.vms.map((v) => v.name), p.services.map((s) => s.name), p.operations.map((o) => o.id));
      const found: Summary[] = [];
      for (let i = 0; i < ids.length; i += 8) {
        const batch = await Promise.all(ids.slice(i, i + 8).map((x) => api.get<Summary>(`operations/${encodeURIComponent(x)}`)));
        for (const a of batch) if (a.status === 200 || a.status === 202) found.push(a.body);
      }
      found.sort((a, b) => Date.parse(b.createdTime) - Date.parse(a.createdTime));
      if (!stopped) setOps(found);
    })().catch((e) => setError((e as Error).message));
    return () => {
      stopped = true;
    };
  }, []);
  return (
    <div>
      <h1>Operations</h1>
      <form
        class="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          if (id.trim()) location.hash = href({ page: 'operation', id: id.trim() });
        }}
      >
        <label for="op-id">Operation id</label>
        <input id="op-id" value={id} onInput={(e) => setId((e.target as HTMLInputElement).value)} placeholder="restart-svc-dashboard" />
        <button type="submit">Open</button>
      </form>
      {error ? <ErrorBox>{error}</ErrorBox> : null}
      {!ops ? (
        <p aria-busy="true">Reading recent operations…</p>
      ) : ops.length === 0 ? (
        <p class="muted">No operations yet.</p>
      ) : (
        <Table
          label="operations"
          head={['Operation', 'Name', 'Status', 'Started', 'Duration']}
          rows={ops.map((o) => (
            <tr>
              <td>
                <a href={href({ page: 'operation', id: o.id })}>{o.id}</a>
              </td>
              <td>{o.name}</td>
              <td>
                <Badge value={o.runtimeStatus} />
              </td>
              <td>{o.createdTime}</td>
              <td class="num">{duration(Date.parse(o.lastUpdatedTime) - Date.parse(o.createdTime))}</td>
            </tr>
          ))}
        />
      )}
    </div>
  );
}
