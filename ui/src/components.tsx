/** Small shared pieces of the UI: polling, tables, badges, confirmable actions, errors. */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { errorText, type Answer } from './api.js';
import { href } from './logic/route.js';

export interface Polled<T> {
  data?: T;
  error?: string;
  loading: boolean;
  reload: () => void;
}

/** Calls `load` now and every `everyInMs` while `active` (and the page shows); keeps the last good answer. */
export function usePoll<T>(load: () => Promise<Answer<T>>, everyInMs: number, deps: unknown[] = [], active: (data: T | undefined) => boolean = () => true): Polled<T> {
  const [state, setState] = useState<{ data?: T; error?: string; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  const dataRef = useRef<T | undefined>(undefined);
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      try {
        const answer = await load();
        if (stopped) return;
        if (answer.status >= 200 && answer.status < 300) {
          dataRef.current = answer.body;
          setState({ data: answer.body, loading: false });
        } else {
          setState({ data: dataRef.current, error: `${answer.status}: ${errorText(answer.body)}`, loading: false });
        }
      } catch (e) {
        if (!stopped) setState({ data: dataRef.current, error: (e as Error).message, loading: false });
      }
      if (!stopped && active(dataRef.current)) timer = setTimeout(run, everyInMs);
    };
    void run();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    };
  }, [...deps, tick]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

export function Badge({ value }: { value: string | undefined }) {
  const v = value ?? 'unknown';
  const tone = /^(running|Completed|succeeded|healthy|true)$/i.test(v)
    ? 'ok'
    : /(fail|Failed|Terminated|unhealthy|blocked|stopped|deallocated)/i.test(v)
      ? 'bad'
      : /(Running|Pending|starting|building|provisioning|pending)/.test(v)
        ? 'busy'
        : 'neutral';
  return <span class={`badge ${tone}`}>{v}</span>;
}

export function ErrorBox({ children }: { children: ComponentChildren }) {
  return (
    <p class="error" role="alert">
      {children}
    </p>
  );
}

export function Section({ title, children, actions }: { title: string; children: ComponentChildren; actions?: ComponentChildren }) {
  return (
    <section>
      <div class="section-head">
        <h2>{title}</h2>
        {actions ? <div class="actions">{actions}</div> : null}
      </div>
      {children}
    </section>
  );
}

/**
 * A button that starts an operation. Destructive ones ask first, in place (the confirm button
 * takes the focus; Escape or Cancel goes back). A 202 opens the operation's live page; a 409
 * names the operation already running.
 */
export function ActionButton(props: { label: string; confirm?: string; run: () => Promise<Answer>; onStarted: (id: string) => void; testId?: string }) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<{ text: string; running?: string } | undefined>();
  const yes = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (asking) yes.current?.focus();
  }, [asking]);
  const go = async () => {
    setAsking(false);
    setBusy(true);
    setError(undefined);
    try {
      const answer = await props.run();
      if (answer.status === 202 && typeof answer.body?.id === 'string') return props.onStarted(answer.body.id);
      setError({ text: errorText(answer.body), running: answer.body?.operation?.id });
    } catch (e) {
      setError({ text: (e as Error).message });
    } finally {
      setBusy(false);
    }
  };
  return (
    <span class="action" data-action={props.testId}>
      {asking ? (
        <span class="confirm" role="group" aria-label={props.confirm} onKeyDown={(e) => e.key === 'Escape' && setAsking(false)}>
          <span class="confirm-text">{props.confirm}</span>
          <button ref={yes} class="danger" onClick={go}>
            Yes, {props.label.toLowerCase()}
          </button>
          <button onClick={() => setAsking(false)}>Cancel</button>
        </span>
      ) : (
        <button disabled={busy} onClick={() => (props.confirm ? setAsking(true) : go())}>
          {busy ? `${props.label}…` : props.label}
        </button>
      )}
      {error ? (
        <span class="error inline" role="alert">
          {error.text}
          {error.running ? (
            <>
              {' '}
              <a href={href({ page: 'operation', id: error.running })}>follow {error.running}</a>
            </>
          ) : null}
        </span>
      ) : null}
    </span>
  );
}

/** A table; `stack` ones turn each row into a card on a phone (cells carry data-label). */
export function Table({ head, rows, label, stack = false }: { head: string[]; rows: ComponentChildren[]; label: string; stack?: boolean }) {
  return (
    <div class={`table-wrap${stack ? ' stack' : ''}`} tabIndex={0} role="region" aria-label={label}>
      <table>
        <thead>
          <tr>
            {head.map((h) => (
              <th scope="col">{h}</th>
            ))}
          </tr>
        </thead>
        <tbody>{rows}</tbody>
      </table>
    </div>
  );
}
