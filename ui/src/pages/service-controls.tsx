/**
 * A service's placement controls and its logs, on its page: scale to N replicas, move to another VM
 * (each starts the reconcile and follows it, after a confirmation), and the last lines of its
 * container or image-build logs (every replica's, or the one chosen), read on demand over SSH by the
 * LCM with secrets redacted.
 */
import { useEffect, useState } from 'preact/hooks';
import { errorText, type Api } from '../api.js';
import { ActionButton, ErrorBox, Section } from '../components.js';

const LOG_LINES = 200;

export function PlacementControls({ api, name, vm, replicas, follow }: { api: Api; name: string; vm: string; replicas: number; follow: (id: string) => void }) {
  const [count, setCount] = useState(String(replicas));
  const [vms, setVms] = useState<string[]>([]);
  const [to, setTo] = useState('');
  useEffect(() => {
    void api.get<Array<{ name: string }>>('vms').then((a) => {
      if (a.status !== 200 || !Array.isArray(a.body)) return;
      const others = a.body.map((v) => v.name).filter((n) => n !== vm).sort();
      setVms(others);
      setTo((current) => current || others[0] || '');
    });
  }, [vm]);
  const n = Number(count);
  const validCount = Number.isInteger(n) && n >= 1 && n <= 20;
  return (
    <div class="actions" data-placement={name}>
      <label>
        Replicas{' '}
        <input type="number" min={1} max={20} value={count} aria-label="replicas" aria-invalid={!validCount} onInput={(e) => setCount((e.target as HTMLInputElement).value)} />
      </label>
      {validCount && n !== replicas ? (
        <ActionButton label="Scale" testId="scale" confirm={`Scale ${name} from ${replicas} to ${n} replica(s)?`} run={() => api.post(`services/${encodeURIComponent(name)}/scale`, { replicas: n })} onStarted={follow} />
      ) : null}
      {vms.length ? (
        <>
          <label>
            Move to{' '}
            <select aria-label="move to VM" value={to} onChange={(e) => setTo((e.target as HTMLSelectElement).value)}>
              {vms.map((v) => (
                <option value={v}>{v}</option>
              ))}
            </select>
          </label>
          <ActionButton label="Move" testId="move" confirm={`Move ${name} from ${vm} to ${to}? It keeps serving: the new one starts before the old one stops.`} run={() => api.post(`services/${encodeURIComponent(name)}/move`, { to })} onStarted={follow} />
        </>
      ) : null}
    </div>
  );
}

export function LogsSection({ api, name, replicas = 1 }: { api: Api; name: string; replicas?: number }) {
  const [log, setLog] = useState<{ kind: 'container' | 'build'; vm: string; count: number; text: string } | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  // '' = every replica (each under a header naming its replica, container and VM).
  const [replica, setReplica] = useState('');
  const read = async (build: boolean) => {
    setBusy(true);
    setError(undefined);
    try {
      const which = replica === '' ? '' : `&replica=${replica}`;
      const a = await api.get<{ vm: string; text: string; logs?: unknown[] }>(`services/${encodeURIComponent(name)}/logs?lines=${LOG_LINES}${build ? '&build=true' : ''}${which}`);
      if (a.status === 200) setLog({ kind: build ? 'build' : 'container', vm: a.body.vm, count: a.body.logs?.length ?? 1, text: a.body.text });
      else setError(`${a.status}: ${errorText(a.body)}`);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Section
      title="Logs"
      actions={
        <>
          {replicas > 1 ? (
            <label>
              Replica{' '}
              <select aria-label="replica" value={replica} onChange={(e) => setReplica((e.target as HTMLSelectElement).value)}>
                <option value="">all {replicas}</option>
                {Array.from({ length: replicas }, (_, i) => (
                  <option value={String(i)}>{i}</option>
                ))}
              </select>
            </label>
          ) : null}
          <button disabled={busy} onClick={() => read(false)}>
            Container log
          </button>
          <button disabled={busy} onClick={() => read(true)}>
            Build log
          </button>
        </>
      }
    >
      {error ? <ErrorBox>Could not read the log: {error}</ErrorBox> : null}
      {log ? (
        <>
          <p class="muted">
            The last {LOG_LINES} lines of the {log.kind} log{log.count > 1 ? `s of ${log.count} ${log.kind === 'build' ? 'VMs' : 'replicas'}, each under its header, read from their VMs` : `, read from ${log.vm}`} now; known secret
            values are redacted.
          </p>
          <pre class="log" data-log={log.kind} tabIndex={0}>
            {log.text || '(empty)'}
          </pre>
        </>
      ) : (
        <p class="muted">Read on demand from the service's VM{replicas > 1 ? 's' : ''}.</p>
      )}
    </Section>
  );
}
