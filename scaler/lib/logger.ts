import pino from "pino";

export type Logger = pino.Logger;

/**
 * Keys whose values are secrets wherever they appear in a log object. pino replaces them before the line is
 * serialized, so a secret passed by mistake still never reaches the output.
 */
export const REDACTED_KEYS = [
  "password",
  "token",
  "secret",
  "application_credential_secret",
  "passphrase",
  "privateKey",
  "authorization",
  "x-auth-token",
  "x-subject-token",
  "X-Auth-Token",
  "X-Subject-Token",
  "Authorization",
];

const redactPaths = REDACTED_KEYS.flatMap((k) => {
  const key = /^[A-Za-z_$][\w$]*$/.test(k) ? k : `["${k}"]`;
  const dot = key.startsWith("[") ? "" : ".";
  return [key, `*${dot}${key}`, `*.*${dot}${key}`, `*.*.*${dot}${key}`];
});

/** One structured JSON logger for the process; parts get children (`logger.child({ component: "actuator" })`). */
export function createLogger(
  options: { level?: string; destination?: pino.DestinationStream; name?: string } = {},
): Logger {
  return pino(
    {
      name: options.name ?? "os-scaler",
      level: options.level ?? process.env.LOG_LEVEL ?? "info",
      redact: { paths: redactPaths, censor: "[redacted]" },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ?? pino.destination({ fd: 1, sync: false }),
  );
}
