import { loadCloud, type CloudConfig } from "../../../scaler/openstack/clouds";

/**
 * The lab's coordinates, from `source <(scripts/lab.sh env)`. When they are absent the suites that need the lab skip,
 * printing why; .ci/run brings the lab up and sets FAIL_ON_SKIP, so in CI nothing skips.
 */
export interface Lab {
  readonly keystoneUrl: string;
  readonly gnocchiUrl: string;
  readonly archivePolicy: string;
  readonly tokenLifetimeS: number;
  readonly prometheusUrl: string;
  readonly prometheusInstanceId: string;
  readonly ssh: { host: string; port: number; user: string; key: string; knownHosts: string; fingerprint: string };
  cloud(name?: "user" | "appcred" | "admin"): CloudConfig;
}

const REQUIRED = [
  "OS_CLIENT_CONFIG_FILE",
  "LAB_CLOUD",
  "LAB_KEYSTONE_URL",
  "LAB_GNOCCHI_URL",
  "LAB_PROMETHEUS_URL",
  "LAB_SSH_PORT",
  "LAB_SSH_KEY",
  "LAB_SSH_KNOWN_HOSTS",
];

/** The lab, or the reason it is not usable (printed by the caller as the skip reason). */
export function lab(): Lab | string {
  const env = process.env;
  const absent = REQUIRED.filter((k) => !env[k]);
  if (absent.length > 0) {
    return `lab not configured (${absent.join(", ")} unset): run scripts/lab.sh up && source <(scripts/lab.sh env)`;
  }
  const e = (k: string) => env[k]!;
  return {
    keystoneUrl: e("LAB_KEYSTONE_URL"),
    gnocchiUrl: e("LAB_GNOCCHI_URL"),
    archivePolicy: env.LAB_GNOCCHI_ARCHIVE_POLICY ?? "lab-10s",
    tokenLifetimeS: Number(env.LAB_TOKEN_LIFETIME ?? 30),
    prometheusUrl: e("LAB_PROMETHEUS_URL"),
    prometheusInstanceId: env.LAB_PROMETHEUS_INSTANCE_ID ?? "lab-vm-0001",
    ssh: {
      host: env.LAB_SSH_HOST ?? "127.0.0.1",
      port: Number(e("LAB_SSH_PORT")),
      user: env.LAB_SSH_USER ?? "root",
      key: e("LAB_SSH_KEY"),
      knownHosts: e("LAB_SSH_KNOWN_HOSTS"),
      fingerprint: env.LAB_SSH_HOST_FINGERPRINT ?? "",
    },
    cloud: (which = "user") =>
      loadCloud({
        cloud: which === "user" ? e("LAB_CLOUD") : which === "appcred" ? env.LAB_APPCRED_CLOUD! : env.LAB_ADMIN_CLOUD!,
      }),
  };
}

/** `describe` options that skip with the reason printed. */
export function skipUnlessLab(l: Lab | string): { skip: string | false } {
  if (typeof l === "string") {
    console.log(`# skipping: ${l}`);
    return { skip: l };
  }
  return { skip: false };
}

/** Polls `fn` until it returns a value, bounded in attempts and time. */
export async function poll<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  opts = { tries: 30, everyMs: 1000 },
): Promise<T> {
  let last: unknown;
  for (let i = 0; i < opts.tries; i++) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, opts.everyMs));
  }
  throw new Error(
    `${what}: not reached after ${opts.tries} tries${last instanceof Error ? ` (last error: ${last.message})` : ""}`,
  );
}
