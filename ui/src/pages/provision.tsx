/** Provision a VM: a VM spec of the topology, checked by the CLI's schema here and by the API again. */
import { useState } from 'preact/hooks';
import { DEFAULT_VM_SIZES, type Topology } from '../../../functions/platform/topology.js';
import { validateVmAddition, type TopologyIssue } from '../../../functions/platform/validate.js';
import { errorText, type Api } from '../api.js';
import { ErrorBox, usePoll } from '../components.js';
import { issuesOf } from '../logic/issues.js';
import { href } from '../logic/route.js';

export function ProvisionPage({ api, follow }: { api: Api; follow: (id: string) => void }) {
  const desired = usePoll<{ topology: Topology }>(() => api.get('desired-state'), 0, [], () => false);
  const topology = desired.data?.topology;
  const sizes = topology?.settings?.vmSizes ?? [...DEFAULT_VM_SIZES];
  const [spec, setSpec] = useState({ name: '', size: sizes[0] ?? 'Standard_B2s', adminUser: 'azureuser', sshKeySecret: '' });
  const [issues, setIssues] = useState<TopologyIssue[]>([]);
  const [error, setError] = useState<string | undefined>();
  const [asking, setAsking] = useState(false);
  const keyRef = spec.sshKeySecret || topology?.vms[0]?.sshKeySecret || 'VM_SSH_PRIVATE_KEY';
  const body = { ...spec, sshKeySecret: keyRef };
  const local = topology ? validateVmAddition(topology, body) : undefined;
  const shown = local && !local.ok ? local.issues : issues;
  const at = (f: string) => shown.filter((i) => i.path === f).map((i) => i.message);
  const submit = async () => {
    setAsking(false);
    const answer = await api.post('vms', body);
    if (answer.status === 202) return follow(answer.body.id);
    setIssues(issuesOf(answer.body));
    setError(`${answer.status}: ${errorText(answer.body)}`);
  };
  const field = (name: keyof typeof spec, label: string, hint?: string) => (
    <div class={`field${at(name).length ? ' invalid' : ''}`} data-field={name}>
      <label for={`vm-${name}`}>{label}</label>
      <input id={`vm-${name}`} value={name === 'sshKeySecret' ? keyRef : spec[name]} list={name === 'size' ? 'vm-sizes' : undefined} onInput={(e) => setSpec({ ...spec, [name]: (e.target as HTMLInputElement).value })} aria-invalid={at(name).length ? 'true' : undefined} />
      {hint ? <small class="hint">{hint}</small> : null}
      {at(name).length ? <div class="field-error" data-error-for={name} role="alert">{at(name).join('; ')}</div> : null}
    </div>
  );
  return (
    <div>
      <p>
        <a href={href({ page: 'overview' })}>← Platform</a>
      </p>
      <h1>Provision a VM</h1>
      <form
        class="card grid"
        onSubmit={(e) => {
          e.preventDefault();
          if (!local || local.ok) setAsking(true);
        }}
      >
        {field('name', 'Name', 'a lowercase DNS label, e.g. vm-extra')}
        {field('size', 'Size', `allowed: ${sizes.join(', ')}`)}
        <datalist id="vm-sizes">{sizes.map((s) => <option value={s} />)}</datalist>
        {field('adminUser', 'Admin user')}
        {field('sshKeySecret', 'SSH key (app setting name)', 'a reference to the key, never the key itself')}
        <div class="actions">
          {asking ? (
            <span class="confirm">
              Create VM {spec.name} ({spec.size}) in Azure?{' '}
              <button type="button" class="danger" onClick={submit} ref={(b) => b?.focus()}>Yes, provision</button> <button type="button" onClick={() => setAsking(false)}>Cancel</button>
            </span>
          ) : (
            <button type="submit" class="primary" disabled={!!local && !local.ok}>Provision</button>
          )}
        </div>
      </form>
      {error ? <ErrorBox>{error}</ErrorBox> : null}
    </div>
  );
}
