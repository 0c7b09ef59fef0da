/**
 * The subset of ARM template expressions the emulator evaluates: exactly the functions
 * infra/lcm.json uses (an unknown function fails the deployment with InvalidTemplate, so a template
 * change that needs more is noticed, not silently mis-evaluated).
 *
 *   parameters('x')  variables('x')  concat(a, b, ...)  union(obj, obj)  createObject(k, v, ...)
 *   resourceId('ns/type', name...)  subscriptionResourceId('ns/type', name...)  resourceGroup()
 *   subscription()  guid(a, b, ...)  reference(id, apiVersion?, 'full'?)  listKeys(id, apiVersion)
 *
 * plus property access (`.name`), indexing (`[0]`, `['key']`), string literals ('it''s'),
 * integers, true/false. A string value is an expression when it starts with `[` and ends with `]`
 * (`[[` escapes a literal bracket).
 */
import { createHash } from 'node:crypto';
import { ArmError } from './errors.js';

export interface ExpressionContext {
  sub: string;
  rg: string;
  location: string;
  tenantId: string;
  parameters: Record<string, unknown>;
  variables: Record<string, unknown>;
  reference(id: string, full: boolean): unknown;
  listKeys(id: string): unknown;
}

type Token = { t: 'str'; v: string } | { t: 'num'; v: number } | { t: 'id'; v: string } | { t: 'p'; v: string };

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) i++;
    else if (c === "'") {
      let v = '';
      i++;
      for (;;) {
        if (i >= text.length) throw invalid(`unterminated string in "${text}"`);
        if (text[i] === "'") {
          if (text[i + 1] === "'") {
            v += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        v += text[i++];
      }
      out.push({ t: 'str', v });
    } else if (/[0-9-]/.test(c)) {
      const m = /^-?[0-9]+/.exec(text.slice(i))!;
      out.push({ t: 'num', v: Number(m[0]) });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i))!;
      out.push({ t: 'id', v: m[0] });
      i += m[0].length;
    } else if ('(),.[]'.includes(c)) {
      out.push({ t: 'p', v: c });
      i++;
    } else throw invalid(`unexpected character '${c}' in "${text}"`);
  }
  return out;
}

type Node =
  | { k: 'lit'; v: unknown }
  | { k: 'call'; name: string; args: Node[] }
  | { k: 'prop'; of: Node; name: string }
  | { k: 'index'; of: Node; index: Node };

function parse(text: string): Node {
  const tokens = tokenize(text);
  let at = 0;
  const peek = () => tokens[at];
  const expect = (v: string) => {
    const tok = tokens[at++];
    if (!tok || tok.t !== 'p' || tok.v !== v) throw invalid(`expected '${v}' in "${text}"`);
  };
  const primary = (): Node => {
    const tok = tokens[at++];
    if (!tok) throw invalid(`unexpected end of "${text}"`);
    if (tok.t === 'str' || tok.t === 'num') return { k: 'lit', v: tok.v };
    if (tok.t === 'id') {
      if (tok.v === 'true' || tok.v === 'false') return { k: 'lit', v: tok.v === 'true' };
      expect('(');
      const args: Node[] = [];
      if (!(peek()?.t === 'p' && peek()!.v === ')')) {
        for (;;) {
          args.push(expr());
          const next = tokens[at++];
          if (next?.t === 'p' && next.v === ')') break;
          if (!(next?.t === 'p' && next.v === ',')) throw invalid(`expected ',' or ')' in "${text}"`);
        }
      } else at++;
      return { k: 'call', name: tok.v.toLowerCase(), args };
    }
    throw invalid(`unexpected '${tok.v}' in "${text}"`);
  };
  const expr = (): Node => {
    let node = primary();
    for (;;) {
      const tok = peek();
      if (tok?.t === 'p' && tok.v === '.') {
        at++;
        const name = tokens[at++];
        if (name?.t !== 'id') throw invalid(`expected a property name in "${text}"`);
        node = { k: 'prop', of: node, name: name.v };
      } else if (tok?.t === 'p' && tok.v === '[') {
        at++;
        const index = expr();
        expect(']');
        node = { k: 'index', of: node, index };
      } else return node;
    }
  };
  const node = expr();
  if (at !== tokens.length) throw invalid(`unexpected trailing input in "${text}"`);
  return node;
}

const invalid = (message: string): ArmError => new ArmError(400, 'InvalidTemplate', `Template expression error: ${message}.`);

function str(value: unknown, fn: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw invalid(`${fn}() expects strings`);
}

function typeAndNames(fn: string, args: unknown[]): { type: string; names: string[] } {
  const [type, ...names] = args.map((a) => str(a, fn));
  if (!type || !type.includes('/') || names.length === 0) throw invalid(`${fn}() needs a 'Namespace/type' and at least one name`);
  return { type, names };
}

/** Builds a resource id the way resourceId() does: type segments interleaved with names. */
export function buildResourceId(prefix: string, type: string, names: string[]): string {
  const [ns, ...types] = type.split('/');
  if (types.length !== names.length) throw invalid(`resourceId('${type}', ...) needs ${types.length} name(s), got ${names.length}`);
  return `${prefix}/providers/${ns}/${types.map((t, i) => `${t}/${names[i]}`).join('/')}`;
}

/** ARM's guid(): deterministic from its arguments (the emulator's own hash, in GUID form). */
function guid(parts: string[]): string {
  const h = createHash('sha256').update(parts.join('\u0000')).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function evaluate(node: Node, ctx: ExpressionContext): unknown {
  switch (node.k) {
    case 'lit':
      return node.v;
    case 'prop': {
      const of = evaluate(node.of, ctx);
      if (of === null || typeof of !== 'object') throw invalid(`cannot read property '${node.name}' of a non-object`);
      const record = of as Record<string, unknown>;
      // ARM property names are case-insensitive.
      const key = Object.keys(record).find((k) => k.toLowerCase() === node.name.toLowerCase());
      if (key === undefined) throw invalid(`the object has no property '${node.name}'`);
      return record[key];
    }
    case 'index': {
      const of = evaluate(node.of, ctx);
      const index = evaluate(node.index, ctx);
      if (Array.isArray(of) && typeof index === 'number') {
        if (index < 0 || index >= of.length) throw invalid(`index ${index} is out of range`);
        return of[index];
      }
      if (of && typeof of === 'object' && typeof index === 'string') return (of as Record<string, unknown>)[index];
      throw invalid('bad index expression');
    }
    case 'call': {
      const args = node.args.map((a) => evaluate(a, ctx));
      switch (node.name) {
        case 'parameters': {
          const name = str(args[0], 'parameters');
          if (!(name in ctx.parameters)) throw invalid(`parameter '${name}' is not defined`);
          return ctx.parameters[name];
        }
        case 'variables': {
          const name = str(args[0], 'variables');
          if (!(name in ctx.variables)) throw invalid(`variable '${name}' is not defined`);
          return ctx.variables[name];
        }
        case 'concat':
          if (args.every(Array.isArray)) return (args as unknown[][]).flat();
          return args.map((a) => str(a, 'concat')).join('');
        case 'union': {
          const objects = args.map((a) => {
            if (!a || typeof a !== 'object' || Array.isArray(a)) throw invalid('union() expects objects');
            return a as Record<string, unknown>;
          });
          return Object.assign({}, ...objects);
        }
        case 'createobject': {
          if (args.length % 2 !== 0) throw invalid('createObject() needs key/value pairs');
          const out: Record<string, unknown> = {};
          for (let i = 0; i < args.length; i += 2) out[str(args[i], 'createObject')] = args[i + 1];
          return out;
        }
        case 'resourceid': {
          const { type, names } = typeAndNames('resourceId', args);
          return buildResourceId(`/subscriptions/${ctx.sub}/resourceGroups/${ctx.rg}`, type, names);
        }
        case 'subscriptionresourceid': {
          const { type, names } = typeAndNames('subscriptionResourceId', args);
          return buildResourceId(`/subscriptions/${ctx.sub}`, type, names);
        }
        case 'extensionresourceid': {
          // extensionResourceId(baseResourceId, type, name1, ...): an extension resource (a role assignment) on another resource.
          const base = str(args[0], 'extensionResourceId');
          const { type, names } = typeAndNames('extensionResourceId', args.slice(1));
          return buildResourceId(base, type, names);
        }
        case 'resourcegroup':
          return { id: `/subscriptions/${ctx.sub}/resourceGroups/${ctx.rg}`, name: ctx.rg, location: ctx.location };
        case 'subscription':
          return { id: `/subscriptions/${ctx.sub}`, subscriptionId: ctx.sub, tenantId: ctx.tenantId };
        case 'guid':
          return guid(args.map((a) => str(a, 'guid')));
        case 'reference': {
          const full = args[2] !== undefined && str(args[2], 'reference').toLowerCase() === 'full';
          return ctx.reference(str(args[0], 'reference'), full);
        }
        case 'listkeys':
          return ctx.listKeys(str(args[0], 'listKeys'));
        default:
          throw invalid(`the function '${node.name}' is not supported by the local ARM emulator`);
      }
    }
  }
}

export function isExpression(value: string): boolean {
  return value.startsWith('[') && value.endsWith(']') && !value.startsWith('[[');
}

/** Evaluates every expression inside `value` (objects and arrays are walked). */
export function resolveValue(value: unknown, ctx: ExpressionContext): unknown {
  if (typeof value === 'string') {
    if (isExpression(value)) return evaluate(parse(value.slice(1, -1)), ctx);
    return value.startsWith('[[') ? value.slice(1) : value;
  }
  if (Array.isArray(value)) return value.map((v) => resolveValue(v, ctx));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, resolveValue(v, ctx)]));
  }
  return value;
}
