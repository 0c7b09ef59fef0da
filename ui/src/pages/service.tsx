/** One service: its spec, state and endpoint, scale and move, its logs, recent events and its restart history (who asked and why). */
import type { Api } from '../api.js';
import { ActionButton, Badge, ErrorBox, Section, Table, usePoll } from '../components.js';
import { restartPath } from '../logic/operations.js';
import { href } from '../logic/route.js';
import { LogsSection, PlacementControls } from './service-controls.js';

interface ServiceEvent {
  at: string;
  type: string;
  outcome: string;
  requestedBy?: string;
  reason?: string;
  operationId?: string;
  details?: Record<string, unknown>;
}
interface ServiceView {
  name: string;
  spec: { kind: string; vm: string; replicas?: number; port: number; source: string; env: Record<string, unknown>; secretEnv: string[]; dependsOn: string[]; health: { path: string; timeoutInMs: number; startupTimeoutInMs: number }; role?: string };
  state: string;
  endpoint: { url: string } | null;
  imageTag?: string;
  startedAt?: string;
  restartCount: number;
  lastRestartAt: string | null;
  runningOperation: { id: string } | null;
  events: ServiceEvent[];
}

export function ServicePage({ api, name, follow }: { api: Api; name: string; follow: (id: string) => void }) {
  const svc = usePoll<ServiceView>(() => api.get(`services/${encodeURIComponent(name)}`), 3_000, [name]);
  const s = svc.data;
  if (!s) return svc.error ? <ErrorBox>Could not read service {name}: {svc.error}</ErrorBox> : <p aria-busy="true">Loading {name}…</p>;
  const restartPathOf = restartPath(s.spec.kind, s.name);
  const restarts = s.events.filter((e) => e.type === 'restart');
  return (
    <div>
      <p>
        <a href={href({ page: 'overview' })}>← Platform</a>
      </p>
      <h1>
        {s.name} <Badge value={s.state} />
      </h1>
      <div class="actions">
        {restartPathOf ? (
          <ActionButton label="Restart" confirm={`Restart ${s.spec.kind} ${s.name}?`} run={() => api.post(restartPathOf, { requestedBy: 'central UI', reason: 'restarted from the central UI' })} onStarted={follow} />
        ) : null}
        {s.runningOperation ? (
          <a href={href({ page: 'operation', id: s.runningOperation.id })}>restart in progress: {s.runningOperation.id}</a>
        ) : null}
      </div>
      {s.spec.kind !== 'broker' ? <PlacementControls api={api} name={s.name} vm={s.spec.vm} replicas={s.spec.replicas ?? 1} follow={follow} /> : null}
      <Section title="State">
        <dl class="facts">
          <dt>Endpoint</dt>
          <dd>{s.endpoint?.url ?? '-'}</dd>
          <dt>Image</dt>
          <dd>{s.imageTag ?? '-'}</dd>
          <dt>Started</dt>
          <dd>{s.startedAt ?? '-'}</dd>
          <dt>Restarts</dt>
          <dd>
            {s.restartCount}
            {s.lastRestartAt ? `, last at ${s.lastRestartAt}` : ''}
          </dd>
        </dl>
      </Section>
      <Section title="Spec">
        <dl class="facts">
          <dt>Kind</dt>
          <dd>{s.spec.kind}{s.spec.role ? ` (${s.spec.role})` : ''}</dd>
          <dt>VM</dt>
          <dd>{s.spec.vm}</dd>
          <dt>Port</dt>
          <dd>{s.spec.port}</dd>
          <dt>Source</dt>
          <dd>{s.spec.source}</dd>
          <dt>Depends on</dt>
          <dd>{s.spec.dependsOn.length ? s.spec.dependsOn.join(', ') : 'nothing'}</dd>
          <dt>Health check</dt>
          <dd>
            {s.spec.health.path} (timeout {s.spec.health.timeoutInMs} ms, healthy within {s.spec.health.startupTimeoutInMs} ms)
          </dd>
          <dt>Environment</dt>
          <dd class="env">
            {Object.entries(s.spec.env).map(([k, v]) => (
              <div>
                <code>
                  {k}={String(v)}
                </code>
              </div>
            ))}
            {s.spec.secretEnv.map((k) => (
              <div>
                <code>{k}</code> <span class="muted">(secret, from an app setting: never shown)</span>
              </div>
            ))}
          </dd>
        </dl>
      </Section>
      <LogsSection api={api} name={s.name} replicas={s.spec.replicas ?? 1} />
      <Section title="Restart history">
        {restarts.length === 0 ? <p class="muted">No restarts recorded.</p> : <EventsTable events={restarts} />}
      </Section>
      <Section title="Recent events">
        {s.events.length === 0 ? <p class="muted">No events recorded.</p> : <EventsTable events={s.events} />}
      </Section>
    </div>
  );
}

function EventsTable({ events }: { events: ServiceEvent[] }) {
  return (
    <Table
      label="events"
      head={['Time', 'Event', 'Outcome', 'By', 'Why / detail', 'Operation']}
      rows={events.map((e) => (
        <tr>
          <td>{e.at}</td>
          <td>{e.type}</td>
          <td>
            <Badge value={e.outcome} />
          </td>
          <td>{e.requestedBy ?? ''}</td>
          <td>{[e.reason, typeof e.details?.delayInMs === 'number' ? `waits ${e.details.delayInMs} ms` : ''].filter(Boolean).join('; ')}</td>
          <td>{e.operationId ? <a href={href({ page: 'operation', id: e.operationId })}>{e.operationId}</a> : ''}</td>
        </tr>
      ))}
    />
  );
}
