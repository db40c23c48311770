import { REDACTED_KEYS } from "./logger";

/**
 * Passwords written in URLs (`scheme://user:password@host`, `?password=…`), kept out of messages: the one pattern the
 * config's messages, the Keystone client, the sources and the actuator's summaries of CLI output all use.
 */

/**
 * A key whose value is a secret: one the logger redacts, or one whose name says password, secret, token, passphrase
 * or API key (application_credential_secret, bearer_token, X-Api-Key, …). Cases and separators as written.
 */
export function isSecretKey(name: string): boolean {
  return SECRET_KEY.test(name);
}
const SECRET_KEY = new RegExp(
  `^(${REDACTED_KEYS.map((k) => k.replace(/[-]/g, "\\-")).join("|")})$|password|secret|token|passphrase|api[_-]?key`,
  "i",
);

/** The user info's password: it runs to the last `@` before the path, as URL parsers read it. */
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^/?#\s:@]*:)[^/?#\s]*@/gi;

/**
 * A password with an unencoded `/`, `?` or `#` (a URL parser would take it for a port and a path): it runs to the
 * last `@` before whitespace. Not after a number (`host:8080/a@b` is a port and a path), nor where URL_PASSWORD has
 * already replaced one.
 */
const URL_PASSWORD_WITH_PATH_CHARS = /(\b[a-z][a-z0-9+.-]*:\/\/[^/?#\s:@]*:)(?!\d*[/?#])(?![^/?#\s]*@)\S*@/gi;

/** A URL's query string in text: from the `?` to a fragment, a space or a quote. */
const URL_QUERY = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s?#"'<>]*\?)([^\s#"'<>]*)/gi;

/**
 * `scheme://user:password@…` with the password replaced, for any text that may hold a URL (one that does not parse
 * included). The password runs to the last `@` before the path, as URL parsers read it, so an `@` in it hides nothing;
 * one written with an unencoded `/`, `?` or `#`, which no parser reads as a password, is hidden up to the last `@` of
 * its word. The values of query parameters whose names are secret (isSecretKey: `?password=…`, `&access_token=…`)
 * are replaced too.
 */
export function redactUrl(text: string): string {
  return text
    .replace(URL_PASSWORD, "$1[redacted]@")
    .replace(URL_PASSWORD_WITH_PATH_CHARS, "$1[redacted]@")
    .replace(URL_QUERY, (_m, start: string, query: string) => start + redactQuery(query));
}

/** `a=1&password=x` → `a=1&password=[redacted]`: each parameter's name read decoded (`pass%77ord`, `api+key`). */
function redactQuery(query: string): string {
  return query
    .split("&")
    .map((param) => {
      const eq = param.indexOf("=");
      if (eq < 0 || eq === param.length - 1) return param;
      const name = decodeOrKeep(param.slice(0, eq).replace(/\+/g, " "));
      return isSecretKey(name) ? `${param.slice(0, eq)}=[redacted]` : param;
    })
    .join("&");
}

/**
 * A value that should have been a URL but does not parse, as an error may show it: without a password. redactUrl
 * finds no user info without `scheme://`, nor a password that starts with digits and a `/` (a port, to it); in a
 * value that is wrong anyway, everything up to the last `@` is hidden instead (but for the user of a `scheme://user:`).
 */
export function redactBadUrl(value: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(value)?.[0] ?? "";
  const rest = value.slice(scheme.length);
  const at = rest.lastIndexOf("@");
  if (at < 0) return value;
  const user = scheme ? (/^[^/?#\s:@]*:/.exec(rest)?.[0] ?? "") : "";
  return `${scheme}${user}[redacted]@${rest.slice(at + 1)}`;
}

/**
 * What an HTTP client must scrub from its messages when a URL's user info has a password: the password as written and
 * decoded, and the `Authorization: Basic` value the client sends for it (base64 of `user:password`), which a server
 * may quote back in an error reply. The Basic value is given for the decoded user info (what axios and requests send)
 * and for the written form (what a client that does not decode sends). Empty when there is no password (or the URL does
 * not parse): a user alone is not a secret.
 */
export function urlSecrets(url: string): string[] {
  let user: string;
  let password: string;
  try {
    ({ username: user, password } = new URL(url));
  } catch {
    return [];
  }
  if (!password) return [];
  const basic = (u: string, p: string) => Buffer.from(`${u}:${p}`, "utf8").toString("base64");
  return [
    ...new Set([
      password,
      decodeOrKeep(password),
      basic(decodeOrKeep(user), decodeOrKeep(password)),
      basic(user, password),
    ]),
  ];
}

/** A URL component decoded; as written when it does not decode (a stray `%`): the written form is all there is. */
export function decodeOrKeep(component: string): string {
  try {
    return decodeURIComponent(component);
  } catch {
    return component;
  }
}
