/**
 * The desired-state editor: VMs, Kafka, services (placement, port, environment, dependencies,
 * health check) and settings, checked on every change by the CLI's own schema
 * (functions/platform/validate.ts) with each error at its field; a preview of what the LCM would
 * change (POST /api/desired-state/plan) before anything is written; apply writes with If-Match,
 * so an edit based on an older version is refused (412) and the newer state is shown.
 * Secrets stay references: a secret variable names an app setting, never holds a value.
 */
import type { ComponentChildren } from 'preact';
import { useMemo, useState } from 'preact/hooks';
import { SERVICE_KINDS } from '../../../functions/platform/topology.js';
import { formatPath, validateTopology, type TopologyIssue } from '../../../functions/platform/validate.js';
import { errorText, type Api } from '../api.js';
import { ErrorBox, Section, usePoll } from '../components.js';
import { envRows, freshKey, freshName, getAt, listInput, numberInput, removeAt, renameKey, sameDocument, setAt, type Path } from '../logic/draft.js';
import { fieldId, formFields } from '../logic/form.js';
import { issuesOf, placeIssues } from '../logic/issues.js';
import { describeChange, type Change } from '../logic/operations.js';
import { href } from '../logic/route.js';
import { OperationView } from './operation.js';

export interface DesiredState {
  version: number;
  updatedAt: string;
  etag: string;
  topology: Record<string, any>;
}

/** The If-Match value: the ETag header as sent, else the body's etag quoted. */
export const ifMatch = (state: DesiredState, header?: string) => header ?? (state.etag.startsWith('"') || state.etag.startsWith('W/') ? state.etag : `"${state.etag}"`);

interface Ctx {
  draft: any;
  set: (path: Path, value: unknown) => void;
  remove: (path: Path) => void;
  errors: Map<string, string[]>;
}

function Field(props: { ctx: Ctx; path: Path; label: string; hint?: string; children?: ComponentChildren; kind?: 'text' | 'number' | 'list'; placeholder?: string }) {
  const { ctx, path, label, kind = 'text' } = props;
  const key = formatPath(path);
  const errors = ctx.errors.get(key);
  const id = fieldId(key);
  const value = getAt(ctx.draft, path);
  const text = value === undefined || value === null ? '' : Array.isArray(value) ? value.join(', ') : String(value);
  // What the person typed stays as typed while the field has the focus ("a," of a list, "08").
  const [typed, setTyped] = useState<string | undefined>();
  return (
    <div class={`field${errors ? ' invalid' : ''}`} data-field={key}>
      <label for={id}>{label}</label>
      {props.children ?? (
        <input
          id={id}
          value={typed ?? text}
          onBlur={() => setTyped(undefined)}
          inputMode={kind === 'number' ? 'numeric' : undefined}
          placeholder={props.placeholder}
          aria-invalid={errors ? 'true' : undefined}
          aria-describedby={errors ? `${id}-err` : undefined}
          onInput={(e) => {
            const t = (e.target as HTMLInputElement).value;
            setTyped(t);
            ctx.set(path, kind === 'number' ? numberInput(t) : kind === 'list' ? (t.trim() ? listInput(t) : undefined) : t);
          }}
        />
      )}
      {props.hint ? <small class="hint">{props.hint}</small> : null}
      {errors ? (
        <div class="field-error" id={`${id}-err`} data-error-for={key} role="alert">
          {errors.join('; ')}
        </div>
      ) : null}
    </div>
  );
}

function Select(props: { ctx: Ctx; path: Path; label: string; options: string[] }) {
  const key = formatPath(props.path);
  const value = String(getAt(props.ctx.draft, props.path) ?? '');
  const options = props.options.includes(value) || value === '' ? props.options : [value, ...props.options];
  return (
    <Field ctx={props.ctx} path={props.path} label={props.label}>
      <select id={fieldId(key)} value={value} onChange={(e) => props.ctx.set(props.path, (e.target as HTMLSelectElement).value)}>
        {options.map((o) => (
          <option value={o}>{o}</option>
        ))}
      </select>
    </Field>
  );
}

function Errors({ ctx, path }: { ctx: Ctx; path: Path }) {
  const key = formatPath(path);
  const errors = ctx.errors.get(key);
  return errors ? (
    <div class="field-error" data-error-for={key} role="alert">
      {errors.join('; ')}
    </div>
  ) : null;
}

function EnvEditor({ ctx, path, secret }: { ctx: Ctx; path: Path; secret: boolean }) {
  const record = (getAt(ctx.draft, path) ?? {}) as Record<string, unknown>;
  const rows = envRows(record);
  const label = secret ? 'Secret environment (variable → app setting name; the value is never shown here)' : 'Environment';
  return (
    <fieldset class="env-editor" data-field={formatPath(path)}>
      <legend>{label}</legend>
      {rows.map(([k, v]) => {
        const at = [...path, k];
        const key = formatPath(at);
        const errors = ctx.errors.get(key);
        return (
          <div class={`env-row${errors ? ' invalid' : ''}`} data-env={k}>
            <input aria-label={`${secret ? 'secret ' : ''}variable name`} value={k} onChange={(e) => ctx.set(path, renameKey(record, k, (e.target as HTMLInputElement).value))} />
            <span aria-hidden="true">{secret ? '→' : '='}</span>
            <input
              id={fieldId(key)}
              aria-label={secret ? `app setting that holds ${k}` : `value of ${k}`}
              value={v}
              onInput={(e) => ctx.set(at, (e.target as HTMLInputElement).value)}
            />
            <button type="button" aria-label={`remove ${k}`} onClick={() => ctx.remove(at)}>
              ✕
            </button>
            {errors ? (
              <div class="field-error" data-error-for={key} role="alert">
                {errors.join('; ')}
              </div>
            ) : null}
          </div>
        );
      })}
      <button type="button" onClick={() => ctx.set([...path, freshKey(record, secret ? 'SECRET_VAR' : 'NEW_VAR')], secret ? 'APP_SETTING_NAME' : '')}>
        Add {secret ? 'secret reference' : 'variable'}
      </button>
      <Errors ctx={ctx} path={path} />
    </fieldset>
  );
}

function ServiceCard({ ctx, index }: { ctx: Ctx; index: number }) {
  const s = ctx.draft.services[index] ?? {};
  const base: Path = ['services', index];
  const vmNames = (ctx.draft.vms ?? []).map((v: any) => String(v?.name ?? ''));
  const others = ['kafka', ...(ctx.draft.services ?? []).map((x: any) => String(x?.name ?? ''))].filter((n) => n !== s.name && (n !== 'kafka' || ctx.draft.kafka));
  const deps: string[] = Array.isArray(s.dependsOn) ? s.dependsOn : [];
  return (
    <details class="card" data-service-card={s.name} open={ctx.errors.has(`services[${index}]`) || [...ctx.errors.keys()].some((k) => k.startsWith(`services[${index}].`))}>
      <summary>
        <strong>{s.name || '(unnamed)'}</strong> <span class="muted">{s.kind} on {s.vm}, port {String(s.port ?? '')}</span>
      </summary>
      <Errors ctx={ctx} path={base} />
      <div class="grid">
        <Field ctx={ctx} path={[...base, 'name']} label="Name" />
        <Select ctx={ctx} path={[...base, 'kind']} label="Kind" options={[...SERVICE_KINDS]} />
        <Select ctx={ctx} path={[...base, 'vm']} label="VM (placement)" options={vmNames} />
        <Field ctx={ctx} path={[...base, 'port']} label="Port" kind="number" />
        <Field ctx={ctx} path={[...base, 'replicas']} label="Replicas" kind="number" placeholder="1" />
        <Field ctx={ctx} path={[...base, 'vms']} label="Spread over VMs" kind="list" hint="comma-separated; the first is the VM above" />
        <Field ctx={ctx} path={[...base, 'source']} label="Code folder in the share" />
        <Field ctx={ctx} path={[...base, 'health', 'path']} label="Health check path" placeholder="/health" />
        <Field ctx={ctx} path={[...base, 'health', 'timeoutInMs']} label="Health timeout (ms)" kind="number" />
        <Field ctx={ctx} path={[...base, 'health', 'startupTimeoutInMs']} label="Healthy within (ms)" kind="number" />
      </div>
      <fieldset class="deps" data-field={`services[${index}].dependsOn`}>
        <legend>Depends on</legend>
        {others.map((n) => (
          <label class="check">
            <input type="checkbox" checked={deps.includes(n)} onChange={(e) => ctx.set([...base, 'dependsOn'], (e.target as HTMLInputElement).checked ? [...deps, n] : deps.filter((d) => d !== n))} /> {n}
          </label>
        ))}
        {deps.filter((d) => !others.includes(d)).map((d) => (
          <label class="check">
            <input type="checkbox" checked onChange={() => ctx.set([...base, 'dependsOn'], deps.filter((x) => x !== d))} /> {d} <span class="muted">(unknown)</span>
          </label>
        ))}
        <Errors ctx={ctx} path={[...base, 'dependsOn']} />
      </fieldset>
      <label class="check">
        <input type="checkbox" checked={s.role === 'monitoring'} onChange={(e) => ((e.target as HTMLInputElement).checked ? ctx.set([...base, 'role'], 'monitoring') : ctx.remove([...base, 'role']))} /> the
        monitoring service (starts last, watched by the watchdog)
      </label>
      <Errors ctx={ctx} path={[...base, 'role']} />
      <EnvEditor ctx={ctx} path={[...base, 'env']} secret={false} />
      <EnvEditor ctx={ctx} path={[...base, 'secretEnv']} secret={true} />
      <button type="button" class="danger" onClick={() => ctx.remove(base)}>
        Remove service {s.name}
      </button>
    </details>
  );
}

function VmCard({ ctx, index }: { ctx: Ctx; index: number }) {
  const base: Path = ['vms', index];
  const v = ctx.draft.vms[index] ?? {};
  return (
    <div class="card" data-vm-card={v.name}>
      <Errors ctx={ctx} path={base} />
      <div class="grid">
        <Field ctx={ctx} path={[...base, 'name']} label="Name" />
        <Field ctx={ctx} path={[...base, 'size']} label="Size" hint={`allowed: ${(ctx.draft.settings?.vmSizes ?? []).join(', ')}`} />
        <Field ctx={ctx} path={[...base, 'adminUser']} label="Admin user" />
        <Field ctx={ctx} path={[...base, 'sshKeySecret']} label="SSH key (app setting name)" hint="a reference: the key itself stays in Key Vault" />
      </div>
      <button type="button" class="danger" onClick={() => ctx.remove(base)}>
        Remove VM {v.name}
      </button>
    </div>
  );
}

export function Editor({ api, onChanged }: { api: Api; onChanged?: () => void }) {
  const loaded = usePoll<DesiredState>(() => api.get('desired-state'), 0, [], () => false);
  const [base, setBase] = useState<{ state: DesiredState; etagHeader?: string } | undefined>();
  const [draft, setDraft] = useState<any>();
  const [preview, setPreview] = useState<{ of: any; changes: Change[]; unchanged: string[] } | undefined>();
  const [serverIssues, setServerIssues] = useState<TopologyIssue[]>([]);
  const [message, setMessage] = useState<{ kind: 'error' | 'stale' | 'done'; text: string; operation?: string } | undefined>();
  const [busy, setBusy] = useState(false);

  if (!base && loaded.data) {
    setBase({ state: loaded.data });
    setDraft(structuredClone(loaded.data.topology));
  }
  const validation = useMemo(() => (draft ? validateTopology(draft) : undefined), [draft]);
  const issues = validation && !validation.ok ? validation.issues : serverIssues;
  const fields = useMemo(() => formFields(draft), [draft]);
  const placed = useMemo(() => placeIssues(issues, fields), [issues, fields]);

  if (!draft || !base) {
    if (loaded.error) return <ErrorBox>Could not read the desired state: {loaded.error}</ErrorBox>;
    return <p aria-busy="true">Reading the desired state…</p>;
  }
  const update = (next: any) => {
    setDraft(next);
    setServerIssues([]);
    if (message?.kind !== 'stale') setMessage(undefined);
  };
  const ctx: Ctx = { draft, set: (p, v) => update(setAt(draft, p, v)), remove: (p) => update(removeAt(draft, p)), errors: placed.atField };
  const dirty = !sameDocument(draft, base.state.topology);
  const previewed = preview && sameDocument(preview.of, draft);
  const valid = !!validation?.ok;

  const runPreview = async () => {
    setBusy(true);
    try {
      const answer = await api.post<{ changes: Change[]; unchanged: string[] }>('desired-state/plan', { topology: draft });
      if (answer.status === 200) setPreview({ of: draft, changes: answer.body.changes ?? [], unchanged: answer.body.unchanged ?? [] });
      else if (answer.status === 400) setServerIssues(issuesOf(answer.body));
      else setMessage({ kind: 'error', text: `preview failed (${answer.status}): ${errorText(answer.body)}` });
    } finally {
      setBusy(false);
    }
  };
  const apply = async () => {
    setBusy(true);
    try {
      const answer = await api.put<any>('desired-state', { topology: draft }, { 'if-match': ifMatch(base.state, base.etagHeader) });
      if (answer.status === 202) {
        const fresh = await api.get<DesiredState>('desired-state');
        if (fresh.status === 200) {
          setBase({ state: fresh.body, etagHeader: fresh.etag });
          setDraft(structuredClone(fresh.body.topology));
        }
        setPreview(undefined);
        setMessage({
          kind: 'done',
          text: answer.body.changed === false ? `Nothing changed (still version ${answer.body.version}).` : `Applied: the desired state is now version ${answer.body.version}.`,
          operation: answer.body.id,
        });
        onChanged?.();
      } else if (answer.status === 412 && answer.body?.current) {
        const current = answer.body.current as DesiredState;
        setBase({ state: current });
        setDraft(structuredClone(current.topology));
        setPreview(undefined);
        setMessage({
          kind: 'stale',
          text: `Not applied: someone else changed the desired state first (now version ${current.version}, written ${current.updatedAt}). Nothing of yours was written. The editor now shows that newer state: make your change again on it.`,
        });
      } else if (answer.status === 400) {
        setServerIssues(issuesOf(answer.body));
        setMessage({ kind: 'error', text: `refused: ${errorText(answer.body)}` });
      } else {
        setMessage({ kind: 'error', text: `apply failed (${answer.status}): ${errorText(answer.body)}` });
      }
    } finally {
      setBusy(false);
    }
  };

  const services: any[] = Array.isArray(draft.services) ? draft.services : [];
  const vms: any[] = Array.isArray(draft.vms) ? draft.vms : [];
  return (
    <div class="editor">
      <h1>
        Desired state <span class="muted" data-version={base.state.version}>version {base.state.version}, written {base.state.updatedAt}</span>
      </h1>
      {message ? (
        <div class={`banner ${message.kind}`} role={message.kind === 'done' ? 'status' : 'alert'} data-banner={message.kind}>
          <p>{message.text}</p>
          {message.operation ? (
            <>
              <p>
                The LCM converges the platform: <a href={href({ page: 'operation', id: message.operation })}>{message.operation}</a>
              </p>
              <OperationView api={api} id={message.operation} compact />
            </>
          ) : null}
        </div>
      ) : null}
      <div class="toolbar" role="toolbar" aria-label="desired state">
        <button type="button" disabled={busy || !valid || !dirty} onClick={runPreview} data-do="preview">
          Preview changes
        </button>
        <button type="button" class="primary" disabled={busy || !valid || !previewed} onClick={apply} data-do="apply" title={previewed ? '' : 'preview the changes first'}>
          Apply
        </button>
        <button type="button" disabled={busy || !dirty} onClick={() => update(structuredClone(base.state.topology))}>
          Discard my changes
        </button>
        <span class="muted">{!dirty ? 'no changes' : !valid ? `${issues.length} error${issues.length === 1 ? '' : 's'} to fix` : previewed ? 'previewed: ready to apply' : 'changed: preview before applying'}</span>
      </div>
      {issues.length ? (
        <div class="issues" role="alert" data-issues={issues.length}>
          <p>
            {issues.length} error{issues.length === 1 ? '' : 's'} (the same checks as <code>bootstrap-cli validate</code>):
          </p>
          <ul>
            {issues.map((i) => (
              <li>
                <a href={`#${fieldId(i.path)}`} onClick={(e) => { e.preventDefault(); document.getElementById(fieldId(i.path))?.focus(); }}>{i.path || '(document)'}</a>: {i.message}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      {previewed ? (
        <Section title="Preview: what applying will change">
          <div class="preview" data-preview>
            {preview!.changes.length === 0 ? (
              <p>Nothing to do on the platform.</p>
            ) : (
              <ul>
                {preview!.changes.map((c) => (
                  <li class={`change ${c.action}`} data-change={`${c.action}:${c.name}`}>
                    <strong>{c.action}</strong> {describeChange(c).slice(c.action.length + 1)}
                  </li>
                ))}
              </ul>
            )}
            {preview!.unchanged.length ? <p class="muted">unchanged: {preview!.unchanged.join(', ')}</p> : null}
          </div>
        </Section>
      ) : null}
      <Section title="Services" actions={
        <button type="button" onClick={() => {
          const name = freshName(services.map((s) => s?.name), 'new-service');
          update(setAt(draft, ['services', services.length], { name, kind: 'microservice', vm: vms[0]?.name ?? '', port: 8000 + services.length, source: name, env: {}, secretEnv: {}, dependsOn: [], health: { path: '/health', timeoutInMs: 2000, startupTimeoutInMs: 60000 } }));
        }}>Add a service</button>
      }>
        <Errors ctx={ctx} path={['services']} />
        {services.map((_, i) => (
          <ServiceCard ctx={ctx} index={i} />
        ))}
      </Section>
      <Section title="VMs" actions={
        <button type="button" onClick={() => update(setAt(draft, ['vms', vms.length], { name: freshName(vms.map((v) => v?.name), 'vm-new'), size: draft.settings?.vmSizes?.[0] ?? 'Standard_B2s', adminUser: 'azureuser', sshKeySecret: vms[0]?.sshKeySecret ?? 'VM_SSH_PRIVATE_KEY' }))}>Add a VM</button>
      }>
        <Errors ctx={ctx} path={['vms']} />
        {vms.map((_, i) => (
          <VmCard ctx={ctx} index={i} />
        ))}
      </Section>
      {draft.kafka ? (
        <Section title="Kafka">
          <div class="card">
            <div class="grid">
              <Select ctx={ctx} path={['kafka', 'vm']} label="VM" options={vms.map((v) => String(v?.name ?? ''))} />
              <Field ctx={ctx} path={['kafka', 'port']} label="Port" kind="number" />
            </div>
            <fieldset data-field="kafka.topics">
              <legend>Topics</legend>
              {(draft.kafka.topics ?? []).map((_: unknown, i: number) => (
                <div class="grid">
                  <Field ctx={ctx} path={['kafka', 'topics', i, 'name']} label="Topic" />
                  <Field ctx={ctx} path={['kafka', 'topics', i, 'partitions']} label="Partitions" kind="number" />
                  <button type="button" onClick={() => ctx.remove(['kafka', 'topics', i])}>Remove topic</button>
                </div>
              ))}
              <button type="button" onClick={() => ctx.set(['kafka', 'topics', (draft.kafka.topics ?? []).length], { name: 'new-topic', partitions: 1, replicationFactor: 1 })}>Add a topic</button>
            </fieldset>
          </div>
        </Section>
      ) : null}
      <Section title="Settings">
        <div class="card grid">
          <Field ctx={ctx} path={['settings', 'vmSizes']} label="Allowed VM sizes" kind="list" hint="comma-separated" />
          <Field ctx={ctx} path={['settings', 'restart', 'initialBackoffInMs']} label="Restart back-off, first (ms)" kind="number" />
          <Field ctx={ctx} path={['settings', 'restart', 'maxBackoffInMs']} label="Restart back-off, at most (ms)" kind="number" />
          <Field ctx={ctx} path={['settings', 'restart', 'resetAfterInMs']} label="Back-off resets after (ms)" kind="number" />
          <Field ctx={ctx} path={['settings', 'restart', 'maxFailures']} label="Give up after failures" kind="number" />
          <Field ctx={ctx} path={['settings', 'watchdog', 'intervalInMs']} label="Watchdog interval (ms)" kind="number" />
          <Field ctx={ctx} path={['settings', 'watchdog', 'failuresBeforeRestart']} label="Watchdog failures before a restart" kind="number" />
        </div>
      </Section>
    </div>
  );
}
