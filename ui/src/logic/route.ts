/** The UI's pages, addressed by the URL's hash (`#/services/dashboard`): the server serves one page. */
export type Route =
  | { page: 'overview' }
  | { page: 'service'; name: string }
  | { page: 'operations' }
  | { page: 'operation'; id: string }
  | { page: 'editor' }
  | { page: 'provision' };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  const [head, arg] = parts;
  if (head === 'services' && arg) return { page: 'service', name: arg };
  if (head === 'operations' && arg) return { page: 'operation', id: arg };
  if (head === 'operations') return { page: 'operations' };
  if (head === 'desired-state') return { page: 'editor' };
  if (head === 'provision') return { page: 'provision' };
  return { page: 'overview' };
}

export function href(route: Route): string {
  switch (route.page) {
    case 'service':
      return `#/services/${encodeURIComponent(route.name)}`;
    case 'operation':
      return `#/operations/${encodeURIComponent(route.id)}`;
    case 'operations':
      return '#/operations';
    case 'editor':
      return '#/desired-state';
    case 'provision':
      return '#/provision';
    default:
      return '#/';
  }
}
