/**
 * The message of anything thrown, for composing another message. Our own errors never hold a
 * secret value in their message (they name the operation and the object), and log lines pass
 * through the redactor anyway.
 */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
