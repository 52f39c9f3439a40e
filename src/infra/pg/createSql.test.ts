// Connection URLs: one host or several (failover), and credentials never logged.
import { describe, expect, it } from "vitest";
import { redactUrl, urlHosts } from "./createSql.js";

describe("urlHosts", () => {
  it("lists every host of a multi-host URL in order, with default ports", () => {
    expect(urlHosts("postgres://u:p@db1:5433,db2/ves?target_session_attrs=primary")).toEqual([
      { host: "db1", port: 5433 },
      { host: "db2", port: 5432 },
    ]);
    expect(urlHosts("postgresql://127.0.0.1/ves")).toEqual([{ host: "127.0.0.1", port: 5432 }]);
    expect(urlHosts("postgres://[::1]:6543/ves")).toEqual([{ host: "::1", port: 6543 }]);
  });
});

describe("redactUrl", () => {
  it("hides the password of one host, and all user info of several", () => {
    expect(redactUrl("postgres://u:secret@db1:5432/ves")).toBe("postgres://u:***@db1:5432/ves");
    expect(redactUrl("postgres://u:secret@db1:5432,db2:5432/ves?x=1")).toBe(
      "postgres://***@db1:5432,db2:5432/ves?x=1",
    );
  });
});
