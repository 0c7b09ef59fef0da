/** The functions an entry module registered, classified by trigger. */
import type { CoreBinding, CoreFunctionMetadata, CoreHandler } from './functions-core.js';

export type TriggerKind = 'http' | 'orchestration' | 'activity' | 'entity' | 'timer' | 'other';

export interface BindingOptions {
  name: string;
  type: string;
  [key: string]: unknown;
}

export interface Registration {
  name: string;
  kind: TriggerKind;
  triggerType: string;
  /** HTTP only: route template (defaults to the function name), methods, authLevel. */
  route?: string;
  methods?: string[];
  authLevel?: 'anonymous' | 'function' | 'admin';
  /** Timer only: the NCRONTAB schedule (captured, not run by the local host). */
  schedule?: string;
  trigger: BindingOptions;
  extraInputs: BindingOptions[];
  extraOutputs: BindingOptions[];
  handler: CoreHandler;
}

/** Public, handler-free view of a registration. */
export type RegistrationInfo = Omit<Registration, 'handler'>;

function toOptions(name: string, binding: CoreBinding): BindingOptions {
  const { direction: _direction, properties: _properties, ...rest } = binding;
  return { ...rest, name, type: binding.type };
}

function kindOf(triggerType: string): TriggerKind {
  switch (triggerType.toLowerCase()) {
    case 'httptrigger':
      return 'http';
    case 'orchestrationtrigger':
      return 'orchestration';
    case 'activitytrigger':
      return 'activity';
    case 'entitytrigger':
      return 'entity';
    case 'timertrigger':
      return 'timer';
    default:
      return 'other';
  }
}

/** Turn the metadata `@azure/functions` produced back into trigger/input/output options, as the worker does. */
export function toRegistration(metadata: CoreFunctionMetadata, handler: CoreHandler): Registration {
  let trigger: BindingOptions | undefined;
  const extraInputs: BindingOptions[] = [];
  const extraOutputs: BindingOptions[] = [];
  for (const [name, binding] of Object.entries(metadata.bindings)) {
    if (binding.direction === 'in' && /trigger$/i.test(binding.type)) trigger = toOptions(name, binding);
    else if (binding.direction === 'in') extraInputs.push(toOptions(name, binding));
    else if (name !== '$return') extraOutputs.push(toOptions(name, binding));
  }
  if (!trigger) throw new Error(`Function "${metadata.name}" has no trigger binding; every function needs exactly one.`);
  const kind = kindOf(trigger.type);
  const reg: Registration = { name: metadata.name, kind, triggerType: trigger.type, trigger, extraInputs, extraOutputs, handler };
  if (kind === 'http') {
    reg.route = typeof trigger.route === 'string' && trigger.route.length > 0 ? trigger.route : metadata.name;
    reg.methods = Array.isArray(trigger.methods) ? (trigger.methods as string[]).map((m) => m.toUpperCase()) : ['GET', 'POST'];
    const level = String(trigger.authLevel ?? 'anonymous').toLowerCase();
    reg.authLevel = level === 'function' || level === 'admin' ? level : 'anonymous';
  }
  if (kind === 'timer' && typeof trigger.schedule === 'string') reg.schedule = trigger.schedule;
  return reg;
}

export function describe(reg: Registration): RegistrationInfo {
  const { handler: _handler, ...info } = reg;
  return info;
}
