/** A parsed YAML or JSON mapping (an object, not null nor a list): what config files and API replies are checked for. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
