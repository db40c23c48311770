import assert from "node:assert/strict";
import * as fs from "node:fs";
import { writeFile } from "node:fs/promises";
import * as http from "node:http";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { createStandinWorkspace, type StandinWorkspace } from "../../support/standin";
import { initStack, kill, spawnRun, stop, until, type Daemon } from "./daemonChild";
import { tempDir } from "./helpers";

/**
 * `os-scaler run` at start, a real child process with the Pulumi CLI test stand-in (docs/standin.md): what only the
 * user can fix ends it before it serves, with the README's exit codes; a backend that fails at start does not.
 */
describe("os-scaler run: the stack checked at start (child process, pulumi stand-in)", () => {
  let t: Awaited<ReturnType<typeof tempDir>>;
  let ws: StandinWorkspace;
  before(async () => {
    t = await tempDir();
    ws = createStandinWorkspace({ program: "fixture" });
    await initStack(ws);
  });
  after(async () => {
    ws.cleanup();
    await t.cleanup();
  });

  /** scaler.yaml in a folder of its own: `stack` as given, HTTP on a free port, a 1 s interval. */
  async function config(name: string, stack: string): Promise<string> {
    const dir = path.join(t.dir, name);
    await fs.promises.mkdir(dir);
    const cfg = path.join(dir, "scaler.yaml");
    await writeFile(
      cfg,
      [
        'source: { type: prometheus, url: "http://127.0.0.1:9" }',
        `stack: ${stack}`,
        "policy: { interval: 1s }",
        'http: { listen: "127.0.0.1:0" }',
        "stateDir: state",
      ].join("\n"),
    );
    return cfg;
  }

  /** Runs the daemon to its exit (bounded): it must end on its own, before serving. */
  async function runToExit(cfg: string, env: NodeJS.ProcessEnv): Promise<Daemon> {
    const d = spawnRun(cfg, env);
    const timer = setTimeout(() => d.child.kill("SIGKILL"), 60_000);
    try {
      await d.exited;
    } finally {
      clearTimeout(timer);
      kill(d);
    }
    assert.doesNotMatch(d.stdout(), /"msg":"http: /, "it served before it exited");
    assert.doesNotMatch(d.stdout(), /tick failed/, "it ticked before it exited");
    return d;
  }

  const rows: { name: string; stack: () => string; env: () => NodeJS.ProcessEnv; code: number; stderr: RegExp }[] = [
    {
      name: "a stack name with a typo → 2, naming the stack",
      stack: () => `{ name: prod, workDir: ${JSON.stringify(ws.workDir)} }`,
      env: () => ws.childEnv(),
      code: 2,
      stderr: /^os-scaler: stack "prod" not found in .*: check stack\.name and stack\.workDir/m,
    },
    {
      name: "a stack.workDir with no Pulumi project → 2",
      stack: () => `{ name: ${ws.stackName}, workDir: ${JSON.stringify(t.dir)} }`,
      env: () => ws.childEnv(),
      code: 2,
      stderr: /^os-scaler: stack\.workDir .* has no Pulumi\.yaml: set stack\.workDir/m,
    },
    {
      name: "no pulumi on PATH → 1",
      stack: () => `{ name: ${ws.stackName}, workDir: ${JSON.stringify(ws.workDir)} }`,
      env: () => ({ ...ws.childEnv(), PATH: path.dirname(process.execPath) }),
      code: 1,
      stderr: /^os-scaler: the pulumi CLI was not found on PATH/m,
    },
  ];
  rows.forEach((r, i) => {
    it(r.name, async () => {
      const d = await runToExit(await config(`exit-${i}`, r.stack()), r.env());
      assert.equal(await d.exited, r.code, d.output());
      assert.match(d.stderr(), r.stderr);
    });
  });

  it("a backend that fails at start: it serves and retries every tick, /healthz says every tick fails; then it recovers", async () => {
    const cfg = await config("blip", `{ name: ${ws.stackName}, workDir: ${JSON.stringify(ws.workDir)} }`);
    // The backend's folder taken away and a file put in its place: every `pulumi` command fails (EEXIST), as with a
    // backend that does not answer — not a missing stack.
    const away = `${ws.backendDir!}.away`;
    fs.renameSync(ws.backendDir!, away);
    fs.writeFileSync(ws.backendDir!, "not a folder\n");
    let d: Daemon | undefined;
    try {
      d = spawnRun(cfg, ws.childEnv());
      const daemon = d;
      const failedTicks = () => (daemon.stdout().match(/"msg":"tick failed"/g) ?? []).length;
      await until(d, "the start-up check's error", () => /cannot open the stack at start/.test(daemon.stdout()));
      await until(d, "3 failed ticks", () => failedTicks() >= 3);
      assert.match(d.stdout(), /"err":"Error: cannot open stack \\"dev\\" in .*EEXIST.*"msg":"tick failed"/);
      const listen = /"listen":"([\d.:]+)","msg":"http: /.exec(d.stdout())?.[1];
      assert.ok(listen, d.output());
      const health = await get(`http://${listen}/healthz`);
      assert.equal(health.status, 503);
      assert.match(health.body, /^every tick since \S+ failed \(\d+ in a row\): Error: cannot open stack "dev"/m);
      assert.doesNotMatch(health.body, /stalled/);

      // The backend is back: the next tick opens the stack and reads it (never deployed: no outputs yet).
      fs.rmSync(ws.backendDir!);
      fs.renameSync(away, ws.backendDir!);
      await until(d, "a tick that opened the stack", () => /the stack has no desiredCount/.test(daemon.stdout()));
      assert.equal(d.child.exitCode, null, "still running");
      assert.equal(await stop(d, "SIGTERM"), 0, d.output());
    } finally {
      kill(d);
      if (fs.existsSync(away)) {
        fs.rmSync(ws.backendDir!, { force: true });
        fs.renameSync(away, ws.backendDir!);
      }
    }
  });
});

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: 10_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error(`${url}: no answer within 10 s`)));
    req.on("error", reject);
  });
}
