// err-text.ts: turns a caught value into the one-line text that goes into logs and health
// reports. Pure; never throws.

/** The error's message, or the value as a string when it is not an Error. */
export function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** As errText, prefixed with the errno code (`ENOENT: ...`) unless the message already starts with it. */
export function errTextWithCode(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code !== undefined && !err.message.startsWith(code) ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
