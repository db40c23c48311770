/** Small formatters shared by the policy's reasons, so every reason reads the same way. */

export function pct(value: number): string {
  return `${value.toFixed(1)}%`;
}

export function secs(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 60 && s % 60 === 0 ? `${s / 60}m` : `${s}s`;
}
