/** The API's OpenAPI document, served at GET /api/openapi.json. */
const name = { name: 'name', in: 'path', required: true, schema: { type: 'string', pattern: '^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$' } };
const operationBody = {
  required: false,
  content: {
    'application/json': {
      schema: { type: 'object', additionalProperties: false, properties: { reason: { type: 'string', maxLength: 300 }, requestedBy: { type: 'string', maxLength: 300 } } },
    },
  },
};
const error = { description: 'error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
const accepted = { description: 'started; poll the operation URL', content: { 'application/json': { schema: { $ref: '#/components/schemas/Accepted' } } } };
const unauthorized = { '401': { description: 'missing or wrong function key' } };
const common = { '400': error, ...unauthorized, '404': error, '409': error };
const restart = (kind: string) => ({
  post: { summary: `Restart a ${kind} (back-off applies)`, parameters: [name], requestBody: operationBody, responses: { '202': accepted, ...common } },
});

export const openApiDocument = {
  openapi: '3.0.3',
  info: {
    title: 'Life Cycle Manager API',
    version: '0.1.0',
    description: 'Provision, initialize and restart VMs; restart services, apps and models; read the registry. Send the function key as x-functions-key or ?code=.',
  },
  servers: [{ url: '/api' }],
  security: [{ functionKey: [] }, { functionKeyQuery: [] }],
  paths: {
    '/health': { get: { summary: 'Liveness of the API (no key needed)', security: [], responses: { '200': { description: 'up' } } } },
    '/openapi.json': { get: { summary: 'This document (no key needed)', security: [], responses: { '200': { description: 'the OpenAPI document' } } } },
    '/ui': { get: { summary: 'The central UI (no key needed for its files; it asks for the operator key and sends it as x-functions-key)', security: [], responses: { '200': { description: 'the page' } } } },
    '/ui/{file}': {
      get: {
        summary: "One of the UI's hashed files (script, stylesheet); any other name answers the page",
        security: [],
        parameters: [{ name: 'file', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'the file' }, '404': error },
      },
    },
    '/boot': { post: { summary: 'Boot the platform (one at a time)', requestBody: operationBody, responses: { '202': accepted, ...common } } },
    '/platform': { get: { summary: 'VMs, services, their states and running operations', responses: { '200': { description: 'the platform' }, ...unauthorized } } },
    '/registry': {
      get: { summary: 'Every registered endpoint', responses: { '200': { description: 'entries', content: { 'application/json': { schema: { type: 'array', items: { $ref: '#/components/schemas/RegistryEntry' } } } } }, ...unauthorized } },
    },
    '/registry/{service}': {
      get: { summary: 'One registered endpoint', parameters: [{ ...name, name: 'service' }], responses: { '200': { description: 'entry' }, ...common } },
    },
    '/vms': {
      get: { summary: 'VMs of the desired state with their last known addresses', responses: { '200': { description: 'VMs' }, ...unauthorized } },
      post: {
        summary: 'Provision a VM (added to the desired state, created, Docker prepared, registered)',
        requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/VmSpec' } } } },
        responses: { '202': accepted, ...common },
      },
    },
    '/vms/{name}/init': { post: { summary: "Initialize a VM's Docker environment", parameters: [name], requestBody: operationBody, responses: { '202': accepted, ...common } } },
    '/vms/{name}/restart': { post: { summary: 'Restart a VM and make its services healthy again', parameters: [name], requestBody: operationBody, responses: { '202': accepted, ...common } } },
    '/vms/{name}/reset-host-key': {
      post: { summary: "Forget a recreated VM's pinned SSH host key (operator key only)", parameters: [name], requestBody: operationBody, responses: { '200': { description: 'reset' }, ...common } },
    },
    '/services/{name}': { get: { summary: 'A service: spec, state, endpoint, restarts, recent events', parameters: [name], responses: { '200': { description: 'service' }, ...common } } },
    '/services/{name}/logs': {
      get: {
        summary:
          "A service's container logs, one per replica, labelled by replica, container and VM (one replica's with replica=n; its build logs, one per VM, with build=true), read from its VMs over SSH, known secret values redacted (operator key)",
        parameters: [
          name,
          { name: 'lines', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000 } },
          { name: 'replica', in: 'query', schema: { type: 'integer', minimum: 0 } },
          { name: 'build', in: 'query', schema: { type: 'boolean' } },
        ],
        responses: { '200': { description: 'the log' }, ...common },
      },
    },
    '/services/{name}/restart': restart('microservice'),
    '/apps/{name}/restart': restart('hosted app'),
    '/models/{name}/restart': restart('AI model'),
    '/operations/{id}': {
      get: {
        summary: 'Status of an operation this API started (202 while running, 200 when done)',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }, { name: 'history', in: 'query', schema: { type: 'boolean' } }],
        responses: { '200': { description: 'finished' }, '202': { description: 'running' }, ...common },
      },
    },
    '/operations/{id}/terminate': {
      post: {
        summary: 'Terminate a running operation (operator key only)',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        requestBody: operationBody,
        responses: { '202': accepted, ...common },
      },
    },
    '/desired-state': {
      get: { summary: 'The desired state: version, updatedAt, etag (also the ETag header) and the topology', responses: { '200': { description: 'the desired state' }, ...unauthorized, '404': error } },
      put: {
        summary: 'Replace the desired state (If-Match: the etag read) and reconcile; nothing is written on any error',
        parameters: [{ name: 'If-Match', in: 'header', required: true, schema: { type: 'string' } }],
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['topology'], additionalProperties: false, properties: { topology: { type: 'object' } } } } } },
        responses: {
          '202': { description: 'written (changed) or identical (changed: false); {version, etag, changed, id?, operationUrl?}' },
          '400': { description: 'invalid: {error, issues: [{path, message}]}' },
          ...unauthorized,
          '412': { description: 'the etag is stale: {error, current}' },
          '428': { description: 'If-Match missing' },
        },
      },
    },
    '/desired-state/plan': {
      post: {
        summary: 'Dry run: the changes a reconcile would make to the live platform (acts on nothing); body {topology} optional (default: the stored one)',
        requestBody: { required: false, content: { 'application/json': { schema: { type: 'object', additionalProperties: false, properties: { topology: { type: 'object' } } } } } },
        responses: { '200': { description: '{changes: [Change], unchanged: [name]}' }, ...common },
      },
    },
    '/reconcile': { post: { summary: 'Converge the platform to the desired state (one at a time: a second request joins the running one)', requestBody: operationBody, responses: { '202': accepted, ...common } } },
    '/services/{name}/scale': {
      post: {
        summary: 'Set the number of replicas of a service in the desired state and reconcile (scale-down drains: deregister, then stop)',
        parameters: [name],
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['replicas'], properties: { replicas: { type: 'integer', minimum: 1, maximum: 20 } } } } } },
        responses: { '202': accepted, ...common },
      },
    },
    '/services/{name}/move': {
      post: {
        summary: 'Move a service to another VM while it serves (start on the target, healthy, switch the registry, stop the old one)',
        parameters: [name],
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['to'], properties: { to: { type: 'string' } } } } } },
        responses: { '202': accepted, ...common },
      },
    },
  },
  components: {
    securitySchemes: {
      functionKey: { type: 'apiKey', in: 'header', name: 'x-functions-key' },
      functionKeyQuery: { type: 'apiKey', in: 'query', name: 'code' },
    },
    schemas: {
      Error: { type: 'object', properties: { error: { type: 'string' }, operation: { type: 'object' }, issues: { type: 'array', items: { type: 'string' } } } },
      Accepted: { type: 'object', properties: { id: { type: 'string' }, operationUrl: { type: 'string', description: 'GET it for the status (the Location header too)' } } },
      RegistryEntry: {
        type: 'object',
        properties: {
          service: { type: 'string' },
          kind: { type: 'string', enum: ['microservice', 'app', 'model', 'broker'] },
          vm: { type: 'string' },
          host: { type: 'string' },
          port: { type: 'integer' },
          status: { type: 'string' },
          updatedAt: { type: 'string', format: 'date-time' },
        },
      },
      VmSpec: {
        type: 'object',
        required: ['name', 'size', 'sshKeySecret'],
        additionalProperties: false,
        properties: {
          name: { type: 'string' },
          size: { type: 'string' },
          adminUser: { type: 'string' },
          sshKeySecret: { type: 'string', description: 'name of the app setting holding the SSH private key' },
          image: { type: 'object' },
        },
      },
    },
  },
} as const;
