import type { Clock } from "../lib/clock";
import type { Logger } from "../lib/logger";
import { loadCloud, type CloudConfig } from "../openstack/clouds";
import { KeystoneSession } from "../openstack/keystone";
import type { SourceConfig } from "./config";
import { GnocchiSource } from "./gnocchi";
import { NovaSource } from "./nova";
import { PrometheusSource } from "./prometheus";
import { SshSource } from "./ssh";
import type { MetricSource } from "./types";

/** What every source may need besides its own `source:` block. */
export interface SourceDeps {
  readonly logger: Logger;
  readonly clock: Clock;
  /** The clouds.yaml entry to authenticate with (scaler.yaml `cloud`, else $OS_CLOUD), for gnocchi and nova. */
  readonly cloud?: string;
  /** An already-resolved cloud entry (tests); wins over `cloud`. */
  readonly cloudConfig?: CloudConfig;
  /** Environment for clouds.yaml lookup (OS_CLOUD, OS_CLIENT_CONFIG_FILE, openrc); defaults to process.env. */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Builds the configured source. Configuration problems (no such cloud, unreadable key file) throw UserError
 * subclasses here, at start-up, rather than on every tick.
 */
export function createSource(config: SourceConfig, deps: SourceDeps): Promise<MetricSource> {
  try {
    const logger = deps.logger.child({ component: "source", source: config.type });
    switch (config.type) {
      case "prometheus":
        return Promise.resolve(new PrometheusSource(config, { clock: deps.clock, logger }));
      case "ssh":
        return Promise.resolve(new SshSource(config, { clock: deps.clock, logger }));
      case "gnocchi":
      case "nova": {
        const cloud =
          deps.cloudConfig ??
          loadCloud({ ...(deps.cloud ? { cloud: deps.cloud } : {}), ...(deps.env ? { env: deps.env } : {}) });
        const session = new KeystoneSession(cloud, {
          clock: deps.clock,
          logger,
          timeoutMs: config.timeout,
          retries: 2,
        });
        return Promise.resolve(
          config.type === "gnocchi"
            ? new GnocchiSource(config, { session, clock: deps.clock, logger })
            : new NovaSource(config, { session, clock: deps.clock, logger }),
        );
      }
    }
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}
