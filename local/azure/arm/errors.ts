/** ARM-shaped errors: `{ error: { code, message, target? } }` with an HTTP status. */
export class ArmError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly target?: string,
    /** A provider's own error body, sent as is (App Service's `{Code, Message, ...}`). */
    readonly rawBody?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ArmError';
  }

  body(): Record<string, unknown> {
    if (this.rawBody) return this.rawBody;
    return { error: { code: this.code, message: this.message, ...(this.target ? { target: this.target } : {}) } };
  }
}

export const notFound = (type: string, name: string, rg: string): ArmError =>
  new ArmError(404, 'ResourceNotFound', `The Resource '${type}/${name}' under resource group '${rg}' was not found.`);

export const invalid = (target: string, message: string, code = 'InvalidParameter'): ArmError =>
  new ArmError(400, code, message, target);
