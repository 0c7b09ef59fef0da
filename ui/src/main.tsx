/**
 * The central UI's entry: sign-in (the operator key, kept in sessionStorage for this browser
 * session and verified with an authenticated call; without a valid key nothing but the sign-in
 * shows), the navigation, and the pages, addressed by the URL's hash.
 */
import { render } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { createApi, session, verifyKey } from './api.js';
import { href, parseRoute, type Route } from './logic/route.js';
import { Editor } from './pages/editor.js';
import { OperationPage, OperationsPage } from './pages/operation.js';
import { Overview } from './pages/overview.js';
import { ProvisionPage } from './pages/provision.js';
import { ServicePage } from './pages/service.js';

function SignIn({ onKey, reason }: { onKey: (key: string) => void; reason?: string }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | undefined>(reason);
  const [busy, setBusy] = useState(false);
  return (
    <main class="signin">
      <h1>Life Cycle Manager</h1>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          const result = await verifyKey(key.trim());
          setBusy(false);
          if (result.ok) onKey(key.trim());
          else setError(result.message);
        }}
      >
        <label for="key">Operator key</label>
        <input id="key" type="password" autocomplete="off" required value={key} onInput={(e) => setKey((e.target as HTMLInputElement).value)} autoFocus />
        <small class="hint">Kept for this browser tab only; sent as the x-functions-key header, never in a URL.</small>
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
        {error ? (
          <p class="error" role="alert">
            {error}
          </p>
        ) : null}
      </form>
    </main>
  );
}

function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

function App() {
  const [key, setKey] = useState<string | null>(() => session.load());
  const [verified, setVerified] = useState(false);
  const [reason, setReason] = useState<string | undefined>();
  const route = useRoute();
  const signOut = (why?: string) => {
    session.clear();
    setKey(null);
    setVerified(false);
    setReason(why);
  };
  const api = useMemo(() => (key ? createApi(key, () => signOut('the LCM refused the key (401): sign in again')) : undefined), [key]);
  // A key from an earlier load of this tab is checked again before anything shows.
  useEffect(() => {
    if (!key || verified) return;
    void verifyKey(key).then((r) => (r.ok ? setVerified(true) : signOut(r.message)));
  }, [key, verified]);
  // After a page change the keyboard starts at the new page's content, not at the old link.
  const first = useRef(true);
  useEffect(() => {
    if (first.current) first.current = false;
    else document.getElementById('main')?.focus();
  }, [route]);
  if (!key || !api) return <SignIn reason={reason} onKey={(k) => (session.save(k), setKey(k), setVerified(true))} />;
  if (!verified) return <p aria-busy="true">Checking the key…</p>;
  const follow = (id: string) => (location.hash = href({ page: 'operation', id }));
  const nav: Array<[Route['page'], string, Route]> = [
    ['overview', 'Platform', { page: 'overview' }],
    ['operations', 'Operations', { page: 'operations' }],
    ['editor', 'Desired state', { page: 'editor' }],
  ];
  const current = route.page === 'service' || route.page === 'provision' ? 'overview' : route.page === 'operation' ? 'operations' : route.page;
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById('main')?.focus())}>
        Skip to content
      </a>
      <header>
        <span class="brand">LCM</span>
        <nav aria-label="main">
          {nav.map(([page, label, r]) => (
            <a href={href(r)} aria-current={current === page ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <button class="signout" onClick={() => signOut()}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {route.page === 'overview' ? <Overview api={api} follow={follow} /> : null}
        {route.page === 'service' ? <ServicePage api={api} name={route.name} follow={follow} /> : null}
        {route.page === 'operations' ? <OperationsPage api={api} /> : null}
        {route.page === 'operation' ? <OperationPage api={api} id={route.id} /> : null}
        {route.page === 'editor' ? <Editor api={api} /> : null}
        {route.page === 'provision' ? <ProvisionPage api={api} follow={follow} /> : null}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
