/**
 * The only file that registers the LCM's functions. The Azure Functions host loads it (package.json
 * "main"); the local host in local/host loads the very same registrations.
 */
import { app } from '@azure/functions';

// Liveness of the function app itself, for load balancers and the CLI; no key, no state.
app.http('health', {
  route: 'health',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: async () => ({ jsonBody: { status: 'ok', app: 'life-cycle-manager' } }),
});
