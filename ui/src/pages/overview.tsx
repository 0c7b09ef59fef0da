/** The platform at a glance: operations in progress, VMs, services, Kafka and its topics; the actions on each. */
import type { PlatformView } from '../../../bootstrap-cli/views.js';
import { endpointOf } from '../../../bootstrap-cli/views.js';
import type { Api } from '../api.js';
import { ActionButton, Badge, ErrorBox, Section, Table, usePoll } from '../components.js';
import { restartPath } from '../logic/operations.js';
import { href } from '../logic/route.js';

interface VmRow {
  name: string;
  size?: string;
  publicIp?: string;
  privateIp?: string;
  powerState?: string;
  dockerReady?: boolean;
}

export function Overview({ api, follow }: { api: Api; follow: (id: string) => void }) {
  const platform = usePoll<PlatformView>(() => api.get('platform'), 3_000);
  const vms = usePoll<VmRow[]>(() => api.get('vms'), 5_000);
  const desired = usePoll<{ topology?: { kafka?: { topics?: Array<{ name: string; partitions?: number }> } } }>(() => api.get('desired-state'), 15_000);
  const p = platform.data;
  if (!p) return platform.error ? <ErrorBox>Could not read the platform: {platform.error}</ErrorBox> : <p aria-busy="true">Loading the platform…</p>;
  const vmInfo = new Map((vms.data ?? []).map((v) => [v.name, v]));
  const kafka = p.services.find((s) => s.kind === 'broker');
  const services = p.services.filter((s) => s.kind !== 'broker');
  const topics = desired.data?.topology?.kafka?.topics;
  return (
    <div>
      <h1>
        Platform <span class="muted">{p.name ?? '(no topology seeded)'}</span>
      </h1>
      {platform.error ? <ErrorBox>Refresh failed ({platform.error}); showing the last answer.</ErrorBox> : null}
      <Section
        title="Operations in progress"
        actions={<ActionButton label="Start a boot" confirm="Boot the whole platform now?" run={() => api.post('boot', { requestedBy: 'central UI' })} onStarted={follow} testId="boot" />}
      >
        {p.operations.length === 0 ? (
          <p class="muted">None running.</p>
        ) : (
          <ul class="ops" aria-live="polite">
            {p.operations.map((o) => (
              <li>
                <a href={href({ page: 'operation', id: o.id })}>{o.id}</a> <span class="muted">{o.name}</span> <Badge value={o.runtimeStatus} />
              </li>
            ))}
          </ul>
        )}
      </Section>
      <Section title="VMs" actions={<a class="button" href={href({ page: 'provision' })}>Provision a VM</a>}>
        <Table
          label="VMs"
          stack
          head={['VM', 'Power', 'Private address', 'Public address', 'Docker', '']}
          rows={p.vms.map((v) => {
            const info = vmInfo.get(v.name);
            return (
              <tr data-vm={v.name}>
                <th scope="row">{v.name}</th>
                <td data-label="Power" class="status">
                  <Badge value={info?.powerState ?? v.powerState} />
                </td>
                <td data-label="Private address">{info?.privateIp ?? '-'}</td>
                <td data-label="Public address">{info?.publicIp ?? v.publicIp ?? '-'}</td>
                <td data-label="Docker">{info ? (info.dockerReady ? 'ready' : 'not ready') : '-'}</td>
                <td data-label="Actions" class="row-actions">
                  <ActionButton label="Init" confirm={`Install and start Docker on ${v.name}?`} run={() => api.post(`vms/${v.name}/init`, { requestedBy: 'central UI' })} onStarted={follow} />
                  <ActionButton label="Restart" confirm={`Restart VM ${v.name}? Its services stop until it is back.`} run={() => api.post(`vms/${v.name}/restart`, { requestedBy: 'central UI' })} onStarted={follow} />
                </td>
              </tr>
            );
          })}
        />
      </Section>
      <Section title="Services">
        <Table
          label="Services"
          stack
          head={['Service', 'Kind', 'VM', 'Endpoint', 'Health', 'Restarts', '']}
          rows={services.map((s) => {
            const path = restartPath(s.kind, s.name);
            return (
              <tr data-service={s.name}>
                <th scope="row">
                  <a href={href({ page: 'service', name: s.name })}>{s.name}</a>
                </th>
                <td data-label="Kind">{s.kind}</td>
                <td data-label="VM">{s.vm}</td>
                <td data-label="Endpoint" class="endpoint">{endpointOf(s)}</td>
                <td data-label="Health" class="status">
                  <Badge value={s.status} />
                </td>
                <td data-label="Restarts" class="num">{s.restartCount ?? 0}</td>
                <td data-label="Actions" class="row-actions">
                  {path ? (
                    <ActionButton
                      label="Restart"
                      confirm={`Restart ${s.kind} ${s.name}?`}
                      run={() => api.post(path, { requestedBy: 'central UI', reason: 'restarted from the central UI' })}
                      onStarted={follow}
                      testId={`restart-${s.name}`}
                    />
                  ) : null}
                </td>
              </tr>
            );
          })}
        />
      </Section>
      <Section title="Kafka">
        {kafka ? (
          <dl class="facts">
            <dt>VM</dt>
            <dd>{kafka.vm}</dd>
            <dt>Broker</dt>
            <dd>{endpointOf(kafka)}</dd>
            <dt>State</dt>
            <dd>
              <Badge value={kafka.status} />
            </dd>
            <dt>Topics</dt>
            <dd class="topics">{topics ? (topics.length ? topics.map((t) => `${t.name} (${t.partitions ?? 1} partition${(t.partitions ?? 1) === 1 ? '' : 's'})`).join(', ') : 'none') : desired.error ? `(desired state not readable: ${desired.error})` : '…'}</dd>
          </dl>
        ) : (
          <p class="muted">This platform runs no Kafka.</p>
        )}
      </Section>
    </div>
  );
}
