import assert from "node:assert/strict";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { ConfigError } from "../../../scaler/lib/errors";
import { ReloadableFile } from "../../../scaler/sources/reloadableFile";
import { captureLogger } from "../../fixtures/logCapture";

const dir = mkdtempSync(path.join(os.tmpdir(), "reloadable-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A file holding `content`, and a ReloadableFile of it whose parse counts its calls and refuses "bad". */
function setup(name: string, content: string) {
  const file = path.join(dir, name);
  writeFileSync(file, content);
  const { logger, lines } = captureLogger();
  let parses = 0;
  const parse = (buf: Buffer) => {
    parses++;
    const text = buf.toString("utf8");
    if (text.startsWith("bad")) throw new ConfigError("source.test", `${file} holds "bad"`);
    return text;
  };
  const reloadable = new ReloadableFile(file, "source.test", parse, logger);
  const logged = (level: number) => {
    logger.flush();
    return lines.filter((l) => (JSON.parse(l) as { level: number }).level === level);
  };
  return { file, reloadable, parses: () => parses, warnings: () => logged(40), infos: () => logged(30) };
}

describe("ReloadableFile", () => {
  it("an unchanged file is not read again, however often it is asked", () => {
    const t = setup("same", "one");
    for (let i = 0; i < 5; i++) assert.equal(t.reloadable.refresh(), false);
    assert.equal(t.parses(), 1);
    assert.equal(t.reloadable.value, "one");
  });

  it("an append, and a rename over it with content of the same size, are both read", () => {
    const t = setup("changes", "one");
    writeFileSync(t.file, "one\ntwo", { flag: "a" });
    assert.equal(t.reloadable.refresh(), true);
    assert.equal(t.reloadable.value, "oneone\ntwo");
    // As a token rotation writes it: a new file renamed over the old one.
    const next = `${t.file}.new`;
    writeFileSync(next, "ONEONE\nTWO");
    renameSync(next, t.file);
    assert.equal(t.reloadable.refresh(), true);
    assert.equal(t.reloadable.value, "ONEONE\nTWO");
    assert.equal(t.reloadable.refresh(), false);
    assert.equal(t.parses(), 3);
    assert.equal(t.infos().length, 2, "each change is logged");
  });

  it("a file that cannot be used keeps the value read before, with one warning until it can again", () => {
    const t = setup("breaks", "good");
    writeFileSync(t.file, "bad, half written");
    assert.equal(t.reloadable.refresh(), false);
    assert.equal(t.reloadable.value, "good");
    rmSync(t.file);
    assert.equal(t.reloadable.refresh(), false);
    assert.equal(t.reloadable.refresh(), false);
    assert.equal(t.reloadable.value, "good");
    const warnings = t.warnings();
    assert.equal(warnings.length, 1, warnings.join(""));
    assert.match(
      warnings[0]!,
      /source\.test: .*breaks changed and cannot be used \(.*breaks holds \\"bad\\"\): the content read before is kept until it can/,
    );

    writeFileSync(t.file, "better");
    assert.equal(t.reloadable.refresh(), true);
    assert.equal(t.reloadable.value, "better");
    assert.ok(t.infos().some((l) => l.includes("breaks can be used again")));
    writeFileSync(t.file, "bad again");
    t.reloadable.refresh();
    assert.equal(t.warnings().length, 2, "a new failure after a recovery warns again");
  });

  it("a file that cannot be read at start is the ConfigError of readSourceFile", () => {
    const { logger } = captureLogger();
    assert.throws(
      () => new ReloadableFile(path.join(dir, "absent"), "source.knownHosts", (b) => b, logger),
      (e: Error) => e instanceof ConfigError && /^source\.knownHosts: cannot read .*absent: ENOENT/.test(e.message),
    );
  });
});
