import pkg from "../../package.json";

/** This release's version, from package.json: what `os-scaler --version`, the start-up log and /metrics report. */
export const VERSION: string = pkg.version;
