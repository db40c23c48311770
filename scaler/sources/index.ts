import type { Clock } from "../lib/clock";
import type { Logger } from "../lib/logger";
import type { SourceConfig } from "./config";
import type { MetricSource } from "./types";

/** What every source may need besides its own `source:` block. */
export interface SourceDeps {
  readonly logger: Logger;
  readonly clock: Clock;
  /** The clouds.yaml entry to authenticate with (scaler.yaml `cloud`, else $OS_CLOUD), for gnocchi and nova. */
  readonly cloud?: string;
}

/** Builds the configured source. (Scaffold: the sources land with the OpenStack-access issue.) */
export function createSource(config: SourceConfig, _deps: SourceDeps): Promise<MetricSource> {
  return Promise.reject(new Error(`source type ${config.type} is not implemented yet`));
}
